package manageapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/testenv"
)

// publishDNS serves the records of a domain as the API gave them:
// dns.*.host, type and data, as a user would copy them into a zone.
func publishDNS(t *testing.T, srv *testenv.DNSServer, dom map[string]any, keys ...string) {
	t.Helper()
	records := obj(t, dom["dns"])
	for _, k := range keys {
		r := obj(t, records[k])
		rec := domain.Record{Name: r["host"].(string), Type: strings.ToUpper(r["type"].(string)), Value: r["data"].(string)}
		if rec.Type == "MX" {
			rec.Value = "10 " + rec.Value + "."
		}
		srv.Add(domain.ZoneLines([]domain.Record{rec})...)
	}
}

// TestDomainsAPI: every /v3/whitelabel/domains endpoint, with SendGrid's
// shapes and statuses.
func TestDomainsAPI(t *testing.T) {
	e, srv := newIdentityEnv(t)
	st, body := e.do(call{method: "POST", path: "/v3/whitelabel/domains", as: "acme",
		body: map[string]any{"domain": "Acme.test", "custom_dkim_selector": "abc", "default": true, "automatic_security": true,
			"subdomain": "pst-bounces", "ips": []string{"198.51.100.1"}}})
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, body)
	}
	d := obj(t, body)
	id := d["id"].(float64)
	if id < 1 || d["domain"] != "acme.test" || d["username"] != "acme" || d["subdomain"] != "pst-bounces" || d["valid"] != false ||
		d["default"] != false || d["automatic_security"] != false || d["custom_spf"] != false || d["legacy"] != false ||
		d["user_id"].(float64) < 1 || fmt.Sprint(d["ips"]) != "[192.0.2.25]" {
		t.Fatalf("created %v", d)
	}
	records := obj(t, d["dns"])
	want := map[string][3]string{ // key: type, host, data prefix
		"dkim1":         {"txt", "abc._domainkey.acme.test", "v=DKIM1; k=rsa; p="},
		"dkim2":         {"txt", "abc2._domainkey.acme.test", "v=DKIM1; k=ed25519; p="},
		"mail_server":   {"mx", "pst-bounces.acme.test", "mail.postern.test"},
		"subdomain_spf": {"txt", "pst-bounces.acme.test", "v=spf1 include:_spf.postern.test ip4:192.0.2.25 -all"},
		"domain_spf":    {"txt", "acme.test", "v=spf1 include:_spf.postern.test ip4:192.0.2.25 ~all"},
		"dmarc":         {"txt", "_dmarc.acme.test", "v=DMARC1; p=none"},
	}
	if len(records) != len(want) {
		t.Errorf("dns has %d records, want %d: %v", len(records), len(want), records)
	}
	for k, w := range want {
		r := obj(t, records[k])
		if r["type"] != w[0] || r["host"] != w[1] || !strings.HasPrefix(r["data"].(string), w[2]) || r["valid"] != false {
			t.Errorf("dns.%s = %v, want type %s host %s data %s…", k, r, w[0], w[1], w[2])
		}
	}

	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"domain": "acme.test"}, ""}, // exists
		{map[string]any{"domain": "localhost"}, "domain"},
		{map[string]any{}, "domain"},
		{map[string]any{"domain": "b.test", "subdomain": "bounces"}, "subdomain"},
		{map[string]any{"domain": "b.test", "custom_dkim_selector": "a_b"}, "custom_dkim_selector"},
		{map[string]any{"domain": "b.test", "username": "beta"}, "username"},
		{"not an object", ""},
	} {
		e.wantRefusal(t, fmt.Sprintf("POST %v", c.body), call{method: "POST", path: "/v3/whitelabel/domains", as: "acme", body: c.body},
			http.StatusBadRequest, c.field)
	}

	path := fmt.Sprintf("/v3/whitelabel/domains/%d", int64(id))
	got := e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK)
	if b1, b2 := domainJSONText(t, got), domainJSONText(t, d); b1 != b2 {
		t.Errorf("GET differs from POST:\n%s\n%s", b1, b2)
	}
	list := e.want(call{method: "GET", path: "/v3/whitelabel/domains", as: "acme"}, http.StatusOK).([]any)
	if len(list) != 1 || obj(t, list[0])["id"] != id {
		t.Errorf("list %v", list)
	}
	for q, n := range map[string]int{"?limit=1": 1, "?limit=1&offset=1": 0, "?domain=acme": 1, "?domain=other": 0, "?username=acme": 1, "?username=beta": 0} {
		if l := e.want(call{method: "GET", path: "/v3/whitelabel/domains" + q, as: "acme"}, http.StatusOK).([]any); len(l) != n {
			t.Errorf("list%s: %d, want %d", q, len(l), n)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=501", "?offset=-1", "?limit=x"} {
		e.want(call{method: "GET", path: "/v3/whitelabel/domains" + q, as: "acme"}, http.StatusBadRequest)
	}
	for _, p := range []string{"/v3/whitelabel/domains/0", "/v3/whitelabel/domains/abc", "/v3/whitelabel/domains/999999", "/v3/whitelabel/domains/-1"} {
		e.want(call{method: "GET", path: p, as: "acme"}, http.StatusNotFound)
		e.want(call{method: "POST", path: p + "/validate", as: "acme"}, http.StatusNotFound)
	}

	// Validation, before and after the records are published.
	v := obj(t, e.want(call{method: "POST", path: path + "/validate", as: "acme"}, http.StatusOK))
	results := obj(t, v["validation_results"])
	if v["id"] != id || v["valid"] != false || len(results) != len(want) {
		t.Fatalf("validate before publishing: %v", v)
	}
	for k, r := range results {
		if rm := obj(t, r); rm["valid"] != false || !strings.Contains(fmt.Sprint(rm["reason"]), "missing") && !strings.Contains(fmt.Sprint(rm["reason"]), "NXDOMAIN") {
			t.Errorf("validation_results.%s = %v", k, rm)
		}
	}
	publishDNS(t, srv, d, "dkim1", "dkim2", "mail_server")
	v = obj(t, e.want(call{method: "POST", path: path + "/validate", as: "acme"}, http.StatusOK))
	results = obj(t, v["validation_results"])
	for k, wantValid := range map[string]bool{"dkim1": true, "dkim2": true, "mail_server": true, "domain_spf": false, "subdomain_spf": false, "dmarc": false} {
		r := obj(t, results[k])
		if r["valid"] != wantValid || (wantValid != (r["reason"] == nil)) {
			t.Errorf("after publishing, validation_results.%s = %v, want valid %v", k, r, wantValid)
		}
	}
	if v["valid"] != true {
		t.Fatalf("validate after publishing: %v", v)
	}
	d = obj(t, e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK))
	records = obj(t, d["dns"])
	if d["valid"] != true || obj(t, records["dkim1"])["valid"] != true || obj(t, records["dkim2"])["valid"] != true ||
		obj(t, records["mail_server"])["valid"] != true || obj(t, records["dmarc"])["valid"] != false {
		t.Fatalf("after validation: %v", d)
	}

	e.want(call{method: "DELETE", path: path, as: "acme"}, http.StatusNoContent)
	e.want(call{method: "GET", path: path, as: "acme"}, http.StatusNotFound)
	e.want(call{method: "DELETE", path: path, as: "acme"}, http.StatusNotFound)
	if st, _ := e.do(call{method: "PUT", path: path, as: "acme"}); st != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", st)
	}
}

func domainJSONText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDomainValidatesThroughDNS (issue 11): through SendGrid's Go client,
// unmodified, a domain created for a subuser on its behalf validates once
// the records the API returned are served by the in-process DNS; the
// list, the domain and its deletion answer as SendGrid's.
func TestDomainValidatesThroughDNS(t *testing.T) {
	e, srv := newIdentityEnv(t)
	key := e.keys["acme"]
	st, body := e.sgCall(key, "POST", "/v3/whitelabel/domains", "shop", map[string]any{"domain": "shop.test"})
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, body)
	}
	d := obj(t, body)
	if d["username"] != "shop" {
		t.Fatalf("created for %v, want shop", d["username"])
	}
	path := fmt.Sprintf("/v3/whitelabel/domains/%d", int64(d["id"].(float64)))
	st, body = e.sgCall(key, "POST", path+"/validate", "shop", nil)
	if st != http.StatusOK || obj(t, body)["valid"] != false {
		t.Fatalf("validate before publishing: %d %v", st, body)
	}
	publishDNS(t, srv, d, "dkim1", "dkim2")
	st, body = e.sgCall(key, "POST", path+"/validate", "shop", nil)
	if st != http.StatusOK || obj(t, body)["valid"] != true || obj(t, obj(t, body)["validation_results"])["dkim1"].(map[string]any)["valid"] != true {
		t.Fatalf("validate after publishing: %d %v", st, body)
	}
	// The store agrees: the domain is verified, and signs.
	sd, err := e.store.Domain(context.Background(), "shop.test")
	if rsa, ed := sd.SignsWith(); err != nil || !sd.Usable() || !rsa || !ed {
		t.Fatalf("stored %+v %v", sd, err)
	}
	st, body = e.sgCall(key, "GET", "/v3/whitelabel/domains", "shop", nil)
	if list, _ := body.([]any); st != http.StatusOK || len(list) != 1 || obj(t, list[0])["valid"] != true {
		t.Fatalf("list: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "GET", path, "shop", nil); st != http.StatusOK || obj(t, body)["domain"] != "shop.test" {
		t.Fatalf("get: %d %v", st, body)
	}
	// Without On-Behalf-Of, the account does not reach its subuser's.
	if st, _ = e.sgCall(key, "GET", path, "", nil); st != http.StatusNotFound {
		t.Fatalf("get without On-Behalf-Of: %d", st)
	}
	if st, body = e.sgCall(key, "DELETE", path, "shop", nil); st != http.StatusNoContent || body != nil {
		t.Fatalf("delete: %d %v", st, body)
	}
	if st, _ = e.sgCall(key, "GET", path, "shop", nil); st != http.StatusNotFound {
		t.Fatalf("get after delete: %d", st)
	}
}
