package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"

	"github.com/postern/postern/internal/store"
)

// TestCLISuppressionAddChecksTheAddress: suppression add takes only an
// address mail can be sent to (internal/mailaddr), in its canonical form;
// control characters no longer reach the list.
func TestCLISuppressionAddChecksTheAddress(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	if code, _, errOut := c.run(nil, append(cfg, "user", "create", "acme")...); code != 0 {
		t.Fatal(errOut)
	}
	for _, s := range []struct {
		addr    string
		code    int
		errText string
	}{
		{"evil\x1b[2J@example.test", 1, "not an email address"},
		{"cr\r\n@example.test", 1, "not an email address"},
		{"a@b@example.test", 1, "not an email address"},
		{"a@-x-.test", 1, "not an email address"},
		{"a..b@example.test", 1, "not an email address"},
		{`"Quoted Name"@Example.TEST`, 0, `"quoted name"@example.test will not be sent to`},
		{"Mixed.Case@Example.TEST", 0, "mixed.case@example.test will not be sent to"},
	} {
		code, _, errOut := c.run(nil, append(cfg, "suppression", "add", s.addr, "--user", "acme")...)
		if code != s.code || !strings.Contains(errOut, s.errText) {
			t.Errorf("suppression add %q: exit %d, %q; want %d, %q", s.addr, code, errOut, s.code, s.errText)
		}
		if strings.ContainsAny(errOut, "\x1b\r") {
			t.Errorf("suppression add %q echoed a control character: %q", s.addr, errOut)
		}
	}
	_, list, _ := c.run(nil, append(cfg, "suppression", "list", "--user", "acme")...)
	if strings.Count(list, "\n") != 2 || !strings.Contains(list, `"quoted name"@example.test`) || !strings.Contains(list, "mixed.case@example.test") {
		t.Errorf("list: %q", list)
	}
}

// TestCLISuppressionKinds: an address on two lists (a bounce from
// delivery and an unsubscribe) is listed twice, and remove takes it off
// both; delivery's lookup no longer finds it.
func TestCLISuppressionKinds(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	if code, _, errOut := c.run(nil, append(cfg, "user", "create", "acme")...); code != 0 {
		t.Fatal(errOut)
	}
	if code, _, errOut := c.run(nil, append(cfg, "suppression", "add", "gone@example.test", "--user", "acme", "--reason", "asked")...); code != 0 {
		t.Fatal(errOut)
	}
	ctx := context.Background()
	a := openApp(t, c.config)
	u, err := a.Store.UserByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.AddSuppression(ctx, store.Suppression{UserID: u.ID, Address: "gone@example.test", Kind: store.SuppressBounce,
		Reason: "permanent failure: 550 5.1.1 no such user", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, list, _ := c.run(nil, append(cfg, "suppression", "list", "--user", "acme")...)
	if strings.Count(list, "gone@example.test") != 2 || !strings.Contains(list, "asked") || !strings.Contains(list, "5.1.1") {
		t.Fatalf("list: %q", list)
	}
	if code, _, errOut := c.run(nil, append(cfg, "suppression", "remove", "GONE@example.test", "--user", "acme")...); code != 0 || !strings.Contains(errOut, "removed") {
		t.Fatalf("remove: %d %q", code, errOut)
	}
	if got, err := a.Store.Suppressed(ctx, u.ID, []string{"gone@example.test"}); err != nil || len(got) != 0 {
		t.Fatalf("still suppressed after remove: %+v %v", got, err)
	}
}

// TestCLIAllowsIPPatterns: ip allow and ip remove read an address, a
// CIDR prefix or SendGrid's IPv4 pattern, as the API does.
func TestCLIAllowsIPPatterns(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	for _, s := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"user", "create", "acme"}, 0, "", ""},
		{[]string{"ip", "allow", "10.*.*.*", "--user", "acme"}, 0, "", "allowed 10.0.0.0/8"},
		{[]string{"ip", "allow", "10.0.0.0/8", "--user", "acme"}, 1, "", "already exists"},
		{[]string{"ip", "allow", "10.*.1.*", "--user", "acme"}, 1, "", "not an IP address"},
		{[]string{"ip", "list", "--user", "acme"}, 0, "10.0.0.0/8\n", ""},
		{[]string{"ip", "remove", "10.*.*.*", "--user", "acme"}, 0, "", "removed 10.0.0.0/8"},
		{[]string{"ip", "list", "--user", "nobody"}, 1, "", "not found"},
		{[]string{"ip", "list"}, 2, "", "--user"},
	} {
		code, out, errOut := c.run(nil, append(cfg, s.args...)...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errOut, s.errOut) {
			t.Errorf("postern %v: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", s.args, code, out, errOut, s.code, s.out, s.errOut)
		}
	}
}

// listsAPI calls the built instance's management API with SendGrid's Go
// client and returns the status and the body.
func listsAPI(t *testing.T, in *instance, key, method, path string, body any) (int, string) {
	t.Helper()
	req := sendgrid.GetRequest(key, path, "http://"+in.addr("http"))
	req.Method = rest.Method(method)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		req.Body = b
	}
	resp, err := sendgrid.API(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, strings.TrimSpace(resp.Body)
}

// TestSuppressionsAndIPRulesThroughCLIAndAPI: on one running instance,
// what the CLI adds the API shows and removes, and the other way round.
func TestSuppressionsAndIPRulesThroughCLIAndAPI(t *testing.T) {
	in := newInstance(t, 0)
	in.start()
	in.mustCLI("user", "create", "acme")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--scopes", "full"))
	api := func(want int, method, path string, body any) string {
		t.Helper()
		st, resp := listsAPI(t, in, key, method, path, body)
		if st != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, st, resp, want)
		}
		return resp
	}

	// Suppressions: the CLI's are global unsubscribes.
	in.mustCLI("suppression", "add", "Cli@Example.test", "--user", "acme")
	if got := api(200, "GET", "/v3/asm/suppressions/global/cli@example.test", nil); got != `{"recipient_email":"cli@example.test"}` {
		t.Errorf("the CLI's suppression through the API: %s", got)
	}
	api(201, "POST", "/v3/asm/suppressions/global", map[string]any{"recipient_emails": []string{"api@example.test"}})
	list := in.mustCLI("suppression", "list", "--user", "acme")
	if !strings.Contains(list, "api@example.test") || !strings.Contains(list, "cli@example.test") {
		t.Errorf("the API's suppression through the CLI:\n%s", list)
	}
	api(204, "DELETE", "/v3/asm/suppressions/global/cli@example.test", nil)
	in.mustCLI("suppression", "remove", "api@example.test", "--user", "acme")
	if got := api(200, "GET", "/v3/suppression/unsubscribes", nil); got != "[]" {
		t.Errorf("unsubscribes after removing both: %s", got)
	}
	if list := in.mustCLI("suppression", "list", "--user", "acme"); strings.TrimSpace(list) != "" {
		t.Errorf("the CLI's list after removing both: %q", list)
	}

	// IP rules: 127.0.0.0/8 stays listed, so that the test is not locked
	// out of its own API.
	in.mustCLI("ip", "allow", "127.0.0.0/8", "--user", "acme")
	var rules struct {
		Result []struct {
			ID int64  `json:"id"`
			IP string `json:"ip"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(api(200, "GET", "/v3/access_settings/whitelist", nil)), &rules); err != nil ||
		len(rules.Result) != 1 || rules.Result[0].IP != "127.0.0.0/8" {
		t.Fatalf("the CLI's rule through the API: %+v %v", rules, err)
	}
	if err := json.Unmarshal([]byte(api(201, "POST", "/v3/access_settings/whitelist",
		map[string]any{"ips": []map[string]string{{"ip": "192.0.2.0/24"}}})), &rules); err != nil || len(rules.Result) != 1 {
		t.Fatalf("POST: %+v %v", rules, err)
	}
	if got := in.mustCLI("ip", "list", "--user", "acme"); got != "127.0.0.0/8\n192.0.2.0/24\n" {
		t.Errorf("the API's rule through the CLI: %q", got)
	}
	api(204, "DELETE", fmt.Sprintf("/v3/access_settings/whitelist/%d", rules.Result[0].ID), nil)
	if got := in.mustCLI("ip", "list", "--user", "acme"); got != "127.0.0.0/8\n" {
		t.Errorf("after the API's delete: %q", got)
	}
	in.mustCLI("ip", "remove", "127.0.0.0/8", "--user", "acme")
	if got := api(http.StatusOK, "GET", "/v3/access_settings/whitelist", nil); got != `{"result":[]}` {
		t.Errorf("after the CLI's remove: %s", got)
	}
}
