package manageapi

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/postern/postern/internal/admin"
)

// Single sender verification, SendGrid's /v3/verified_senders:
//
//	POST   /v3/verified_senders              whitelabel.create  201, the confirmation mailed
//	GET    /v3/verified_senders              whitelabel.read    200 {"results": [...]} (limit, lastSeenID, id)
//	POST   /v3/verified_senders/resend/{id}  whitelabel.update  204, a new code mailed
//	DELETE /v3/verified_senders/{id}         whitelabel.delete  204
//
// SendGrid's description names no scope for these; Postern asks for the
// domain authentication ones (whitelabel.*), which cover the other way
// of proving a sender identity.
//
// A sender keeps SendGrid's nickname, from_name, reply_to and
// reply_to_name. The postal address (address, address2, city, state,
// zip, country), which SendGrid asks for its marketing mail's footer, is
// taken and not kept: Postern has no use for it, and it is personal data.
// It reads back empty. "locked" is always false.
func (h *handler) senderRoutes() []route {
	return []route{
		{method: "POST", pattern: "/v3/verified_senders", scope: "whitelabel.create", do: h.addSender},
		{method: "GET", pattern: "/v3/verified_senders", scope: "whitelabel.read", do: h.listSenders},
		{method: "POST", pattern: "/v3/verified_senders/resend/{id}", scope: "whitelabel.update", do: h.resendSender},
		{method: "DELETE", pattern: "/v3/verified_senders/{id}", scope: "whitelabel.delete", do: h.deleteSender},
	}
}

// senderRequest is the body of POST /v3/verified_senders (the postal
// address is not read: see senderRoutes).
type senderRequest struct {
	Nickname    string `json:"nickname"`
	FromEmail   string `json:"from_email"`
	FromName    string `json:"from_name"`
	ReplyTo     string `json:"reply_to"`
	ReplyToName string `json:"reply_to_name"`
}

// check refuses a request without SendGrid's required fields or with a
// field longer than SendGrid allows; admin checks the addresses.
func (req senderRequest) check() error {
	for _, f := range []struct {
		field, value string
		required     bool
		max          int
	}{
		{"nickname", req.Nickname, true, 100},
		{"from_email", req.FromEmail, true, 256},
		{"from_name", req.FromName, false, 256},
		{"reply_to", req.ReplyTo, true, 256},
		{"reply_to_name", req.ReplyToName, false, 256},
	} {
		switch {
		case f.required && strings.TrimSpace(f.value) == "":
			return admin.Invalid(f.field, "%s is required", f.field)
		case len(f.value) > f.max:
			return admin.Invalid(f.field, "%s is longer than %d characters", f.field, f.max)
		}
	}
	return nil
}

func (h *handler) addSender(rq *request) error {
	var req senderRequest
	if err := rq.decode(&req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	added, err := h.cfg.Admin.AddSender(rq.r.Context(), rq.actor, admin.NewSender{Address: strings.TrimSpace(req.FromEmail),
		Nickname: req.Nickname, FromName: req.FromName, ReplyTo: strings.TrimSpace(req.ReplyTo), ReplyToName: req.ReplyToName})
	if err != nil {
		return err
	}
	return rq.reply(http.StatusCreated, toSenderJSON(added.Sender))
}

func (h *handler) listSenders(rq *request) error {
	q := rq.r.URL.Query()
	limit, err := senderQueryInt(q.Get("limit"), "limit", 1)
	if err != nil {
		return err
	}
	lastSeen, err := senderQueryInt(q.Get("lastSeenID"), "lastSeenID", 0)
	if err != nil {
		return err
	}
	only, err := senderQueryInt(q.Get("id"), "id", 1)
	if err != nil {
		return err
	}
	list, err := h.cfg.Admin.ListSenders(rq.r.Context(), rq.actor, admin.SenderFilter{})
	if err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b admin.Sender) int { return cmp.Compare(a.ID, b.ID) })
	results := []senderJSON{}
	for _, s := range list {
		if s.ID <= lastSeen || only != 0 && s.ID != only {
			continue
		}
		if limit != 0 && len(results) == int(limit) {
			break
		}
		results = append(results, toSenderJSON(s))
	}
	return rq.reply(http.StatusOK, map[string][]senderJSON{"results": results})
}

// senderQueryInt reads a number parameter of the list: absent is 0,
// present at least min.
func senderQueryInt(s, field string, min int64) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min {
		return 0, admin.Invalid(field, "must be a number of %d or more", min)
	}
	return n, nil
}

func (h *handler) resendSender(rq *request) error {
	ref, err := senderPathID(rq)
	if err != nil {
		return err
	}
	if _, err := h.cfg.Admin.ResendSender(rq.r.Context(), rq.actor, ref); err != nil {
		return err
	}
	return rq.noContent()
}

func (h *handler) deleteSender(rq *request) error {
	ref, err := senderPathID(rq)
	if err != nil {
		return err
	}
	if err := h.cfg.Admin.DeleteSender(rq.r.Context(), rq.actor, ref); err != nil {
		return err
	}
	return rq.noContent()
}

// senderJSON is SendGrid's verified sender.
type senderJSON struct {
	ID          int64  `json:"id"`
	Nickname    string `json:"nickname"`
	FromEmail   string `json:"from_email"`
	FromName    string `json:"from_name"`
	ReplyTo     string `json:"reply_to"`
	ReplyToName string `json:"reply_to_name"`
	Address     string `json:"address"`
	Address2    string `json:"address2"`
	State       string `json:"state"`
	City        string `json:"city"`
	Zip         string `json:"zip"`
	Country     string `json:"country"`
	Verified    bool   `json:"verified"`
	Locked      bool   `json:"locked"`
}

func toSenderJSON(s admin.Sender) senderJSON {
	return senderJSON{ID: s.ID, Nickname: s.Nickname, FromEmail: s.Address, FromName: s.FromName, ReplyTo: s.ReplyTo,
		ReplyToName: s.ReplyToName, Verified: s.Verified}
}

// senderPathID reads {id}: the store's sender id. Anything else names no
// sender.
func senderPathID(rq *request) (admin.SenderRef, error) {
	id, err := strconv.ParseInt(rq.r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return admin.SenderRef{}, admin.ErrNotFound
	}
	return admin.SenderRef{ID: id}, nil
}
