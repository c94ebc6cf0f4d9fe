package manageapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/store"
)

// Domain authentication, SendGrid's /v3/whitelabel/domains:
//
//	POST   /v3/whitelabel/domains                 whitelabel.create  201
//	GET    /v3/whitelabel/domains                 whitelabel.read    200 (limit 1–500, default 50; offset; domain; username)
//	GET    /v3/whitelabel/domains/{id}            whitelabel.read    200
//	DELETE /v3/whitelabel/domains/{id}            whitelabel.delete  204
//	POST   /v3/whitelabel/domains/{id}/validate   whitelabel.update  200
//
// A domain is shown in the shape SendGrid gives a domain set up without
// automatic security (its TXT and MX records, no CNAMEs), Postern's
// records mapped onto SendGrid's keys:
//
//	dkim1          the RSA DKIM key's TXT record
//	dkim2          the Ed25519 DKIM key's TXT record
//	mail_server    the return-path subdomain's MX
//	subdomain_spf  the return-path subdomain's SPF TXT record
//	domain_spf     the SPF record (or the mechanism to add to it) of the domain
//	dmarc          the suggested DMARC record (a key of Postern's own)
//
// The SPF keys are left out when the installation advises no SPF record.
// In a domain, a record's "valid" is what the last validation found, as
// far as Postern keeps it: the DKIM records (by the domain's state, and
// for a brought key's companion by whether its record was found) and the
// return-path MX; the SPF and DMARC records, advice Postern does not keep
// the result of, are valid only in the answer of /validate, which looks
// every record up. "subdomain" is the installation's return-path label;
// "ips" are the installation's sending addresses; "default", "custom_spf"
// and "automatic_security" are false: Postern has none of them.
func (h *handler) domainRoutes() []route {
	return []route{
		{method: "POST", pattern: "/v3/whitelabel/domains", scope: "whitelabel.create", do: h.addDomain},
		{method: "GET", pattern: "/v3/whitelabel/domains", scope: "whitelabel.read", do: h.listDomains},
		{method: "GET", pattern: "/v3/whitelabel/domains/{domain_id}", scope: "whitelabel.read", do: h.getDomain},
		{method: "DELETE", pattern: "/v3/whitelabel/domains/{domain_id}", scope: "whitelabel.delete", do: h.deleteDomain},
		{method: "POST", pattern: "/v3/whitelabel/domains/{domain_id}/validate", scope: "whitelabel.update", do: h.validateDomain},
	}
}

// domainRequest is the body of POST /v3/whitelabel/domains. SendGrid's
// ips, custom_spf, default, automatic_security and region are taken and
// ignored: the installation decides them (see domainRoutes).
type domainRequest struct {
	Domain             string `json:"domain"`
	Subdomain          string `json:"subdomain"`
	Username           string `json:"username"`
	CustomDKIMSelector string `json:"custom_dkim_selector"`
}

// check refuses what the request lacks or what Postern cannot do as
// asked; label is the installation's return-path label.
func (req domainRequest) check(label string) error {
	if strings.TrimSpace(req.Domain) == "" {
		return admin.Invalid("domain", "the domain is required")
	}
	if req.Subdomain != "" && !strings.EqualFold(req.Subdomain, label) {
		return admin.Invalid("subdomain", "the return-path subdomain is the installation's: %s", label)
	}
	return nil
}

func (h *handler) addDomain(rq *request) error {
	var req domainRequest
	if err := rq.decode(&req); err != nil {
		return err
	}
	if err := req.check(h.returnPathLabel()); err != nil {
		return err
	}
	d, err := h.cfg.Admin.AddDomain(rq.r.Context(), rq.actor, admin.NewDomain{Name: req.Domain, User: req.Username,
		CustomSelector: req.CustomDKIMSelector})
	if err != nil {
		return err
	}
	return rq.reply(http.StatusCreated, h.domainJSON(d))
}

func (h *handler) listDomains(rq *request) error {
	limit, offset, err := rq.page(50, 500)
	if err != nil {
		return err
	}
	q := rq.r.URL.Query()
	list, err := h.cfg.Admin.ListDomains(rq.r.Context(), rq.actor, admin.DomainFilter{User: q.Get("username"),
		Search: q.Get("domain"), Limit: limit, Offset: offset})
	if err != nil {
		return err
	}
	out := make([]domainJSON, 0, len(list))
	for _, d := range list {
		out = append(out, h.domainJSON(d))
	}
	return rq.reply(http.StatusOK, out)
}

func (h *handler) getDomain(rq *request) error {
	ref, err := domainPathID(rq)
	if err != nil {
		return err
	}
	d, err := h.cfg.Admin.ShowDomain(rq.r.Context(), rq.actor, ref)
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, h.domainJSON(d))
}

func (h *handler) deleteDomain(rq *request) error {
	ref, err := domainPathID(rq)
	if err != nil {
		return err
	}
	if err := h.cfg.Admin.DeleteDomain(rq.r.Context(), rq.actor, ref); err != nil {
		return err
	}
	return rq.noContent()
}

// validationJSON is the answer of POST /{id}/validate.
type validationJSON struct {
	ID                int64                     `json:"id"`
	Valid             bool                      `json:"valid"`
	ValidationResults map[string]recordValidity `json:"validation_results"`
}

// recordValidity is one record's result; Reason is null when it is valid.
type recordValidity struct {
	Valid  bool    `json:"valid"`
	Reason *string `json:"reason"`
}

func (h *handler) validateDomain(rq *request) error {
	ref, err := domainPathID(rq)
	if err != nil {
		return err
	}
	v, err := h.cfg.Admin.VerifyDomain(rq.r.Context(), rq.actor, ref, admin.VerifyOptions{})
	if err != nil {
		return err
	}
	out := validationJSON{ID: v.Domain.ID, Valid: v.Verified, ValidationResults: map[string]recordValidity{}}
	for _, c := range v.Checks {
		key := recordKey(c.Record)
		if key == "" {
			continue
		}
		r := recordValidity{Valid: c.OK}
		if !c.OK {
			reason := checkReason(c)
			r.Reason = &reason
		}
		out.ValidationResults[key] = r
	}
	return rq.reply(http.StatusOK, out)
}

// checkReason says why a record is not valid, in words for the client:
// the DNS data found is the domain's own, a lookup's failure is told
// without the resolver's words.
func checkReason(c domain.Check) string {
	switch {
	case c.Temporary:
		return "temporary DNS failure: try again later"
	case strings.HasPrefix(c.Problem, "DNS lookup failed"):
		return "DNS lookup failed"
	}
	reason := "expected " + c.Record.Type + " record " + strconv.Quote(c.Record.Value) + " at " + c.Record.Name + ": " + c.Problem
	if len(c.Found) > 0 {
		reason += "; found " + strconv.Quote(strings.Join(c.Found, " | "))
	}
	return reason
}

// recordKey is SendGrid's key for a record (see domainRoutes).
func recordKey(r domain.Record) string {
	switch r.Purpose {
	case domain.PurposeDKIMRSA:
		return "dkim1"
	case domain.PurposeDKIMEd25519:
		return "dkim2"
	case domain.PurposeSPF:
		return "domain_spf"
	case domain.PurposeDMARC:
		return "dmarc"
	case domain.PurposeReturnPath:
		if r.Type == "MX" {
			return "mail_server"
		}
		return "subdomain_spf"
	}
	return ""
}

// domainJSON is SendGrid's authenticated domain.
type domainJSON struct {
	ID                int64                 `json:"id"`
	UserID            int64                 `json:"user_id"`
	Subdomain         string                `json:"subdomain"`
	Domain            string                `json:"domain"`
	Username          string                `json:"username"`
	IPs               []string              `json:"ips"`
	CustomSPF         bool                  `json:"custom_spf"`
	Default           bool                  `json:"default"`
	Legacy            bool                  `json:"legacy"`
	AutomaticSecurity bool                  `json:"automatic_security"`
	Valid             bool                  `json:"valid"`
	DNS               map[string]recordJSON `json:"dns"`
}

// recordJSON is one DNS record to publish: its type in lower case as
// SendGrid writes it, and for an MX the host alone, as SendGrid's
// mail_server (the preference is 10).
type recordJSON struct {
	Valid bool   `json:"valid"`
	Type  string `json:"type"`
	Host  string `json:"host"`
	Data  string `json:"data"`
}

func (h *handler) domainJSON(d admin.Domain) domainJSON {
	out := domainJSON{ID: d.ID, UserID: d.UserID, Subdomain: h.returnPathLabel(), Domain: d.Name, Username: d.User,
		IPs: append([]string{}, h.cfg.Admin.Config.Domains.SPFIPs...), Valid: d.Usable(), DNS: map[string]recordJSON{}}
	for _, r := range d.Records {
		key := recordKey(r)
		if key == "" {
			continue
		}
		data := r.Value
		if r.Type == "MX" {
			fields := strings.Fields(data)
			data = strings.TrimSuffix(fields[len(fields)-1], ".")
		}
		out.DNS[key] = recordJSON{Valid: recordValid(d, r), Type: strings.ToLower(r.Type), Host: r.Name, Data: data}
	}
	return out
}

// recordValid is what Postern keeps of a record's last validation (see
// domainRoutes).
func recordValid(d admin.Domain, r domain.Record) bool {
	switch r.Purpose {
	case domain.PurposeDKIMRSA, domain.PurposeDKIMEd25519:
		return d.State == store.DomainVerified && (r.Required || d.CompanionPublished)
	case domain.PurposeReturnPath:
		return r.Type == "MX" && d.ReturnPath
	}
	return false
}

// returnPathLabel is the installation's return-path subdomain label.
func (h *handler) returnPathLabel() string {
	if l := h.cfg.Admin.Config.Domains.ReturnPathLabel; l != "" {
		return strings.ToLower(l)
	}
	return domain.DefaultReturnPathLabel
}

// domainPathID reads {domain_id}: SendGrid's integer id, the store's.
// Anything else names no domain.
func domainPathID(rq *request) (admin.DomainRef, error) {
	id, err := strconv.ParseInt(rq.r.PathValue("domain_id"), 10, 64)
	if err != nil || id <= 0 {
		return admin.DomainRef{}, admin.ErrNotFound
	}
	return admin.DomainRef{ID: id}, nil
}
