package manageapi

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/postern/postern/internal/admin"
)

// FuzzIdentityRequests feeds the bodies of POST /v3/whitelabel/domains
// and POST /v3/verified_senders to their decoder and checks: nothing
// panics; a refusal is the bad-JSON error or an *admin.InvalidError that
// names one of the body's fields, never text taken from the body; what
// check accepts has every field the endpoint needs, within SendGrid's
// bounds. The corpus is in testdata/fuzz/FuzzIdentityRequests.
func FuzzIdentityRequests(f *testing.F) {
	for _, s := range []string{
		`{"domain":"example.com","subdomain":"news","username":"john@example.com","ips":["192.168.1.1"],"custom_spf":true,"default":true,"automatic_security":false,"custom_dkim_selector":"abc","region":"global"}`,
		`{"domain":"example.com"}`,
		`{"domain":"  "}`,
		`{"domain":"example.com","subdomain":"PST-BOUNCES"}`,
		`{"nickname":"Orders","from_email":"orders@example.com","from_name":"Example Orders","reply_to":"orders@example.com","reply_to_name":"Example Orders","address":"1234 Fake St","address2":"PO Box 1234","state":"CA","city":"San Francisco","country":"USA","zip":"94105"}`,
		`{"nickname":"","from_email":"a@b.test","reply_to":"a@b.test"}`,
		`{"nickname":1}`,
		`{"domain":"\u0000\ud800.test"}`,
		`[]`,
		`{"domain":"a.test"}{}`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	// The refusals of the checks: fixed words, nothing of the body.
	domainRefusal := regexp.MustCompile(`^admin: (domain: the domain is required|subdomain: the return-path subdomain is the installation's: pst-bounces)$`)
	senderRefusal := regexp.MustCompile(`^admin: ([a-z_]+): ([a-z_]+) is (required|longer than \d+ characters)$`)
	allowed := func(err error, fields ...string) bool {
		var inv *admin.InvalidError
		if !errors.As(err, &inv) {
			return false
		}
		for _, f := range fields {
			if inv.Field == f {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var d domainRequest
		if err := decodeJSON(body, &d); err != nil {
			if !errors.Is(err, errBadJSON) {
				t.Fatalf("decode: %v, want errBadJSON", err)
			}
		} else if err := d.check("pst-bounces"); err == nil {
			if strings.TrimSpace(d.Domain) == "" || d.Subdomain != "" && !strings.EqualFold(d.Subdomain, "pst-bounces") {
				t.Errorf("check accepted %+v", d)
			}
		} else if !allowed(err, "domain", "subdomain") || !domainRefusal.MatchString(err.Error()) {
			t.Errorf("check(%+v): %v", d, err)
		}

		var s senderRequest
		if err := decodeJSON(body, &s); err != nil {
			if !errors.Is(err, errBadJSON) {
				t.Fatalf("decode: %v, want errBadJSON", err)
			}
		} else if err := s.check(); err == nil {
			if strings.TrimSpace(s.Nickname) == "" || strings.TrimSpace(s.FromEmail) == "" || strings.TrimSpace(s.ReplyTo) == "" ||
				len(s.Nickname) > 100 || len(s.FromEmail) > 256 || len(s.FromName) > 256 || len(s.ReplyTo) > 256 || len(s.ReplyToName) > 256 {
				t.Errorf("check accepted %+v", s)
			}
		} else if !allowed(err, "nickname", "from_email", "from_name", "reply_to", "reply_to_name") || !senderRefusal.MatchString(err.Error()) {
			t.Errorf("check(%+v): %v", s, err)
		}
	})
}
