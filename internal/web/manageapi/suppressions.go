package manageapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

// Suppressions (tsg_suppressions_v3.json). Postern keeps one suppression
// list per user with a kind on each entry; each of SendGrid's lists shows
// one kind, and every kind suppresses delivery:
//
//	GET    /v3/suppression/{list}              read    200 [entry…]; start_time, end_time (Unix, inclusive), limit, offset, email (prefix)
//	DELETE /v3/suppression/{list}              delete  204, body {"delete_all": true} or {"emails": […]}
//	GET    /v3/suppression/{list}/{email}      read    200 [entry] ([] when not listed)
//	DELETE /v3/suppression/{list}/{email}      delete  204; 404 when not listed
//	GET    /v3/suppression/unsubscribes        read    200 [{"created", "email"}…]
//	POST   /v3/asm/suppressions/global         create  201 {"recipient_emails": […]}, body the same
//	GET    /v3/asm/suppressions/global/{email} read    200 {"recipient_email": …} ({} when not listed)
//	DELETE /v3/asm/suppressions/global/{email} delete  204; 404 when not listed
//
// for {list} = bounces and blocks (entries {"created", "email", "reason",
// "status"}), invalid_emails ({"created", "email", "reason"}) and
// spam_reports ({"created", "email", "ip"}; Postern does not keep the
// sending IP, so it is ""). Scopes suppression.* (SendGrid's description
// names no asm.* scope for global unsubscribes). As in SendGrid's API,
// only global unsubscribes can be added. A list is the user's the Actor
// acts for: its key's own, or the subuser's of On-Behalf-Of.
func (h *handler) suppressionRoutes() []route {
	var rs []route
	for _, l := range []struct {
		name string
		kind store.SuppressionKind
	}{
		{"bounces", store.SuppressBounce},
		{"blocks", store.SuppressBlock},
		{"invalid_emails", store.SuppressInvalid},
		{"spam_reports", store.SuppressSpamReport},
	} {
		kind, path := l.kind, "/v3/suppression/"+l.name
		rs = append(rs,
			route{method: "GET", pattern: path, scope: admin.ScopeSuppressionRead, do: func(rq *request) error {
				return listSuppressions(rq, kind)
			}},
			route{method: "DELETE", pattern: path, scope: admin.ScopeSuppressionDelete, do: func(rq *request) error {
				var in suppressionDelete
				if err := rq.decode(&in); err != nil {
					return err
				}
				if err := in.check(); err != nil {
					return err
				}
				var err error
				if in.DeleteAll {
					_, err = rq.h.cfg.Admin.DeleteAllSuppressions(rq.r.Context(), rq.actor, kind)
				} else {
					_, err = rq.h.cfg.Admin.DeleteSuppressions(rq.r.Context(), rq.actor, kind, in.Emails)
				}
				if err != nil {
					return err
				}
				return rq.noContent()
			}},
			route{method: "GET", pattern: path + "/{email}", scope: admin.ScopeSuppressionRead, do: func(rq *request) error {
				s, err := rq.h.cfg.Admin.GetSuppression(rq.r.Context(), rq.actor, kind, rq.r.PathValue("email"))
				switch {
				case errors.Is(err, admin.ErrNotFound):
					return rq.reply(http.StatusOK, []map[string]any{})
				case err != nil:
					return err
				}
				return rq.reply(http.StatusOK, []map[string]any{suppressionJSON(s)})
			}},
			route{method: "DELETE", pattern: path + "/{email}", scope: admin.ScopeSuppressionDelete, do: func(rq *request) error {
				if err := rq.h.cfg.Admin.DeleteSuppression(rq.r.Context(), rq.actor, kind, rq.r.PathValue("email")); err != nil {
					return err
				}
				return rq.noContent()
			}},
		)
	}
	const global = "/v3/asm/suppressions/global"
	return append(rs,
		route{method: "GET", pattern: "/v3/suppression/unsubscribes", scope: admin.ScopeSuppressionRead, do: func(rq *request) error {
			return listSuppressions(rq, store.SuppressUnsubscribe)
		}},
		route{method: "POST", pattern: global, scope: admin.ScopeSuppressionCreate, do: func(rq *request) error {
			var in globalSuppressions
			if err := rq.decode(&in); err != nil {
				return err
			}
			res, err := rq.h.cfg.Admin.AddSuppressions(rq.r.Context(), rq.actor, store.SuppressUnsubscribe, in.RecipientEmails, "")
			if err != nil {
				return err
			}
			return rq.reply(http.StatusCreated, globalSuppressions{RecipientEmails: res.Emails})
		}},
		route{method: "GET", pattern: global + "/{email}", scope: admin.ScopeSuppressionRead, do: func(rq *request) error {
			s, err := rq.h.cfg.Admin.GetSuppression(rq.r.Context(), rq.actor, store.SuppressUnsubscribe, rq.r.PathValue("email"))
			switch {
			case errors.Is(err, admin.ErrNotFound):
				return rq.reply(http.StatusOK, struct{}{})
			case err != nil:
				return err
			}
			return rq.reply(http.StatusOK, map[string]string{"recipient_email": s.Email})
		}},
		route{method: "DELETE", pattern: global + "/{email}", scope: admin.ScopeSuppressionDelete, do: func(rq *request) error {
			if err := rq.h.cfg.Admin.DeleteSuppression(rq.r.Context(), rq.actor, store.SuppressUnsubscribe, rq.r.PathValue("email")); err != nil {
				return err
			}
			return rq.noContent()
		}},
	)
}

// listSuppressions answers a list's GET.
func listSuppressions(rq *request, kind store.SuppressionKind) error {
	q, err := suppressionQuery(rq, kind)
	if err != nil {
		return err
	}
	list, err := rq.h.cfg.Admin.ListSuppressions(rq.r.Context(), rq.actor, q)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		out = append(out, suppressionJSON(s))
	}
	return rq.reply(http.StatusOK, out)
}

// MaxSuppressionPage is the largest limit of a list (SendGrid's 500),
// also the page when none is asked for.
const MaxSuppressionPage = 500

// suppressionQuery reads a list's query parameters.
func suppressionQuery(rq *request, kind store.SuppressionKind) (admin.SuppressionQuery, error) {
	q := admin.SuppressionQuery{Kind: kind, EmailPrefix: rq.r.URL.Query().Get("email")}
	var err error
	if q.Limit, q.Offset, err = rq.page(MaxSuppressionPage, MaxSuppressionPage); err != nil {
		return q, err
	}
	if q.Since, err = unixParam(rq, "start_time", false); err != nil {
		return q, err
	}
	if q.Until, err = unixParam(rq, "end_time", true); err != nil {
		return q, err
	}
	return q, nil
}

// unixParam reads a Unix time in seconds; as an end, it stands for the
// last microsecond of that second (SendGrid's ranges are inclusive).
func unixParam(rq *request, name string, end bool) (time.Time, error) {
	s := rq.r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return time.Time{}, admin.Invalid(name, "must be a Unix time in seconds")
	}
	t := time.Unix(n, 0).UTC()
	if end {
		t = t.Add(time.Second - time.Microsecond)
	}
	return t, nil
}

// suppressionJSON is SendGrid's form of an entry of its kind's list.
func suppressionJSON(s admin.Suppression) map[string]any {
	m := map[string]any{"created": s.Created.Unix(), "email": s.Email}
	switch s.Kind {
	case store.SuppressBounce, store.SuppressBlock:
		m["reason"], m["status"] = s.Reason, s.Status
	case store.SuppressInvalid:
		m["reason"] = s.Reason
	case store.SuppressSpamReport:
		m["ip"] = ""
	}
	return m
}

// suppressionDelete is the body of DELETE /v3/suppression/{list}.
type suppressionDelete struct {
	DeleteAll bool     `json:"delete_all"`
	Emails    []string `json:"emails"`
}

// check refuses a body that asks for both or for neither.
func (b suppressionDelete) check() error {
	switch {
	case b.DeleteAll && len(b.Emails) > 0:
		return admin.Invalid("delete_all", "delete_all and emails cannot both be given")
	case !b.DeleteAll && len(b.Emails) == 0:
		return admin.Invalid("emails", "give delete_all: true, or the emails to delete")
	}
	return nil
}

// globalSuppressions is the body of POST /v3/asm/suppressions/global and
// of its answer.
type globalSuppressions struct {
	RecipientEmails []string `json:"recipient_emails"`
}
