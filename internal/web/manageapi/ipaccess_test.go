package manageapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/postern/postern/internal/admin"
)

// ruleList is the "result" of a whitelist answer as ip → id, checking
// that every rule has SendGrid's fields.
func ruleList(t *testing.T, body any) map[string]int64 {
	t.Helper()
	m, _ := body.(map[string]any)
	result, ok := m["result"].([]any)
	if !ok {
		t.Fatalf("no result in %v", body)
	}
	out := map[string]int64{}
	for _, r := range result {
		rule, _ := r.(map[string]any)
		id, idOK := rule["id"].(float64)
		ip, ipOK := rule["ip"].(string)
		_, cOK := rule["created_at"].(float64)
		_, uOK := rule["updated_at"].(float64)
		if !idOK || !ipOK || !cOK || !uOK || len(rule) != 4 {
			t.Fatalf("rule %v lacks SendGrid's id, ip, created_at, updated_at", rule)
		}
		out[ip] = int64(id)
	}
	return out
}

func keysOf(m map[string]int64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestWhitelist(t *testing.T) {
	e := newEnv(t)
	const path = "/v3/access_settings/whitelist"
	// 127.0.0.1 first: the test's own requests come from there.
	body := e.want(call{method: "POST", path: path, as: "acme", body: map[string]any{"ips": []map[string]string{
		{"ip": "127.0.0.1"}, {"ip": "192.0.2.7/24"}, {"ip": "10.*.*.*"}, {"ip": "2001:db8::1"}}}}, http.StatusCreated)
	added := ruleList(t, body)
	if got := fmt.Sprint(keysOf(added)); got != "[10.0.0.0/8 127.0.0.1/32 192.0.2.0/24 2001:db8::1/128]" {
		t.Fatalf("POST result %s", got)
	}
	now := time.Now().Unix()
	first := body.(map[string]any)["result"].([]any)[0].(map[string]any)
	if c := int64(first["created_at"].(float64)); c < now-60 || c > now+1 || first["created_at"] != first["updated_at"] {
		t.Fatalf("created_at %v, updated_at %v, now %d", first["created_at"], first["updated_at"], now)
	}
	if list := ruleList(t, e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK)); fmt.Sprint(list) != fmt.Sprint(added) {
		t.Fatalf("GET %v, want %v", list, added)
	}
	one := fmt.Sprintf("%s/%d", path, added["192.0.2.0/24"])
	if got := ruleList(t, e.want(call{method: "GET", path: one, as: "acme"}, http.StatusOK)); len(got) != 1 || got["192.0.2.0/24"] == 0 {
		t.Fatalf("GET one: %v", got)
	}
	e.want(call{method: "DELETE", path: one, as: "acme"}, http.StatusNoContent)
	e.want(call{method: "GET", path: one, as: "acme"}, http.StatusNotFound)
	e.want(call{method: "DELETE", path: one, as: "acme"}, http.StatusNotFound)
	e.want(call{method: "DELETE", path: path, as: "acme", body: map[string]any{"ids": []int64{added["10.0.0.0/8"], added["2001:db8::1/128"]}}},
		http.StatusNoContent)
	if list := ruleList(t, e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK)); fmt.Sprint(keysOf(list)) != "[127.0.0.1/32]" {
		t.Fatalf("after the deletes: %v", list)
	}

	// Refusals, with SendGrid's error body.
	for _, tc := range []struct {
		name   string
		c      call
		status int
		field  string
	}{
		{"listed already", call{method: "POST", path: path, body: map[string]any{"ips": []map[string]string{{"ip": "127.0.0.1/32"}}}}, 400, ""},
		{"not an IP", call{method: "POST", path: path, body: map[string]any{"ips": []map[string]string{{"ip": "10.0.0.1"}, {"ip": "localhost"}}}}, 400, "ips"},
		{"no ips", call{method: "POST", path: path, body: map[string]any{}}, 400, "ips"},
		{"ips not a list", call{method: "POST", path: path, body: map[string]any{"ips": "10.0.0.1"}}, 400, ""},
		{"no body", call{method: "POST", path: path}, 400, ""},
		{"no ids", call{method: "DELETE", path: path, body: map[string]any{"ids": []int64{}}}, 400, "ids"},
		{"ids not numbers", call{method: "DELETE", path: path, body: map[string]any{"ids": []string{"1"}}}, 400, ""},
		{"unknown id", call{method: "DELETE", path: path, body: map[string]any{"ids": []int64{added["127.0.0.1/32"], 999999}}}, 404, ""},
		{"id not a number", call{method: "GET", path: path + "/first"}, 404, ""},
		{"id zero", call{method: "GET", path: path + "/0"}, 404, ""},
		{"PUT", call{method: "PUT", path: path}, 405, ""},
	} {
		tc.c.as = "acme"
		st, body := e.do(tc.c)
		if st != tc.status || errorMessage(body) == "" {
			t.Errorf("%s: %d %v, want %d with an error body", tc.name, st, body, tc.status)
			continue
		}
		if tc.field != "" && errorField(body) != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, errorField(body), tc.field)
		}
	}
	// The refused delete left the rule that was named with an unknown id.
	if list := ruleList(t, e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK)); len(list) != 1 {
		t.Fatalf("after the refusals: %v", list)
	}
}

func TestWhitelistWithSendGridGo(t *testing.T) {
	e := newEnv(t)
	key := e.keys["acme"]
	const path = "/v3/access_settings/whitelist"
	st, body := e.sgCall(key, "POST", path, "", map[string]any{"ips": []map[string]string{{"ip": "127.0.0.0/8"}, {"ip": "192.168.*.*"}}})
	if st != http.StatusCreated {
		t.Fatalf("POST: %d %v", st, body)
	}
	added := ruleList(t, body)
	if fmt.Sprint(keysOf(added)) != "[127.0.0.0/8 192.168.0.0/16]" {
		t.Fatalf("POST: %v", added)
	}
	if st, body = e.sgCall(key, "GET", path, "", nil); st != http.StatusOK || len(ruleList(t, body)) != 2 {
		t.Fatalf("GET: %d %v", st, body)
	}
	one := fmt.Sprintf("%s/%d", path, added["192.168.0.0/16"])
	if st, body = e.sgCall(key, "GET", one, "", nil); st != http.StatusOK || len(ruleList(t, body)) != 1 {
		t.Fatalf("GET one: %d %v", st, body)
	}
	if st, _ = e.sgCall(key, "DELETE", one, "", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE one: %d", st)
	}
	if st, _ = e.sgCall(key, "DELETE", path, "", map[string]any{"ids": []int64{added["127.0.0.0/8"]}}); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d", st)
	}
	if st, body = e.sgCall(key, "GET", path, "", nil); st != http.StatusOK || len(ruleList(t, body)) != 0 {
		t.Fatalf("GET after the deletes: %d %v", st, body)
	}
}

// TestWhitelistHoldsForTheAPI: the account's rules apply to the API
// itself (the funnel checks them for every request), for the account's
// keys and its subusers'; another address recovers.
func TestWhitelistHoldsForTheAPI(t *testing.T) {
	e := newEnv(t)
	const path = "/v3/access_settings/whitelist"
	// The request that adds the rule succeeds: the list was empty.
	e.want(call{method: "POST", path: path, as: "acme", body: map[string]any{"ips": []map[string]string{{"ip": "127.0.0.2/32"}}}}, http.StatusCreated)
	for _, c := range []call{
		{method: "GET", path: "/v3/scopes", as: "acme"},
		{method: "GET", path: path, as: "acme"},
		{method: "GET", path: "/v3/scopes", as: "shop"},
		{method: "GET", path: "/v3/scopes", as: "acme", obo: "shop"},
	} {
		st, body := e.do(c)
		if st != http.StatusForbidden || errorMessage(body) == "" {
			t.Errorf("%s %s as %s (obo %q) from 127.0.0.1: %d %v, want 403 with an error body", c.method, c.path, c.as, c.obo, st, body)
		}
	}
	// Another account is not affected.
	e.want(call{method: "GET", path: "/v3/scopes", as: "beta"}, http.StatusOK)
	// From the listed address the account still works, and lets
	// 127.0.0.1 in again.
	if st, body := e.do(call{method: "GET", path: path, as: "acme", from: "127.0.0.2"}); st != http.StatusOK || len(ruleList(t, body)) != 1 {
		t.Fatalf("GET from 127.0.0.2: %d %v", st, body)
	}
	if st, body := e.do(call{method: "POST", path: path, as: "acme", from: "127.0.0.2",
		body: map[string]any{"ips": []map[string]string{{"ip": "127.0.0.1"}}}}); st != http.StatusCreated {
		t.Fatalf("POST from 127.0.0.2: %d %v", st, body)
	}
	e.want(call{method: "GET", path: "/v3/scopes", as: "acme"}, http.StatusOK)
	e.want(call{method: "GET", path: "/v3/scopes", as: "shop"}, http.StatusOK)
}

// TestWhitelistScopes: each endpoint with a key holding every scope but
// its own (403, SendGrid's error body, nothing changed) and with a key
// holding only its own.
func TestWhitelistScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op, err := e.admin.Operator(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// The test's own address stays listed throughout.
	if _, err := e.admin.AddIPRules(ctx, op, []string{"127.0.0.0/8"}); err != nil {
		t.Fatal(err)
	}
	const path = "/v3/access_settings/whitelist"
	ruleFor := func(ip string) int64 {
		t.Helper()
		rules, err := e.admin.AddIPRules(ctx, op, []string{ip})
		if err != nil {
			t.Fatal(err)
		}
		return rules[0].ID
	}
	countRules := func() int {
		t.Helper()
		rules, err := e.admin.ListIPRules(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		return len(rules)
	}
	for _, tc := range []struct {
		name   string
		scope  string
		setup  func() (path string, body any)
		status int
	}{
		{"list", admin.ScopeWhitelistRead, func() (string, any) { return path, nil }, http.StatusOK},
		{"add", admin.ScopeWhitelistCreate, func() (string, any) {
			return path, map[string]any{"ips": []map[string]string{{"ip": "198.51.100.1"}}}
		}, http.StatusCreated},
		{"delete", admin.ScopeWhitelistDelete, func() (string, any) {
			return path, map[string]any{"ids": []int64{ruleFor("198.51.100.2")}}
		}, http.StatusNoContent},
		{"get one", admin.ScopeWhitelistRead, func() (string, any) { return fmt.Sprintf("%s/%d", path, ruleFor("198.51.100.3")), nil }, http.StatusOK},
		{"delete one", admin.ScopeWhitelistDelete, func() (string, any) {
			return fmt.Sprintf("%s/%d", path, ruleFor("198.51.100.4")), nil
		}, http.StatusNoContent},
	} {
		method := map[string]string{"list": "GET", "add": "POST", "delete": "DELETE", "get one": "GET", "delete one": "DELETE"}[tc.name]
		p, body := tc.setup()
		without, only := e.scopeKeys(t, "acme", tc.scope)
		before := countRules()
		st, resp := e.do(call{method: method, path: p, as: "key:" + without, body: body})
		if !forbidden(st, resp) {
			t.Errorf("%s without %s: %d %v, want 403 with SendGrid's error body", tc.name, tc.scope, st, resp)
		}
		if countRules() != before {
			t.Errorf("%s without %s changed the rules", tc.name, tc.scope)
		}
		if st, resp := e.do(call{method: method, path: p, as: "key:" + only, body: body}); st != tc.status {
			t.Errorf("%s with only %s: %d %v, want %d", tc.name, tc.scope, st, resp, tc.status)
		}
	}
}

// TestWhitelistTenantIsolation: the rules are the account's; nothing of
// another tenant's is read, changed or confirmed, and a subuser, or its
// account acting for it, has none.
func TestWhitelistTenantIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const path = "/v3/access_settings/whitelist"
	ids := map[string]int64{} // account → its 192.0.2.x or 198.51.100.x rule
	for acct, ip := range map[string]string{"acme": "192.0.2.0/24", "beta": "198.51.100.0/24"} {
		op, err := e.admin.Operator(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		rules, err := e.admin.AddIPRules(ctx, op, []string{"127.0.0.0/8", ip})
		if err != nil {
			t.Fatal(err)
		}
		ids[acct] = rules[1].ID
	}
	rulesOf := func(acct string) []string {
		t.Helper()
		op, _ := e.admin.Operator(ctx, acct)
		rules, err := e.admin.ListIPRules(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rules {
			out = append(out, r.IP)
		}
		return out
	}
	for _, a := range []struct {
		name, as, obo string
		own           string // the account whose rules it manages; "" for none
		noRules       int    // the status of list and add without rules of its own
	}{
		{"A", "acme", "", "acme", 0},
		{"A's subuser", "shop", "", "", http.StatusForbidden},
		{"B", "beta", "", "beta", 0},
		{"A for its subuser", "acme", "shop", "", http.StatusForbidden},
		{"B for A's subuser", "beta", "shop", "", http.StatusNotFound},
	} {
		c := func(method, p string, body any) call {
			return call{method: method, path: p, as: a.as, obo: a.obo, body: body}
		}
		// The list shows the own account's rules only.
		if a.own != "" {
			got := ruleList(t, e.want(c("GET", path, nil), http.StatusOK))
			if fmt.Sprint(keysOf(got)) != fmt.Sprint(rulesOf(a.own)) {
				t.Errorf("%s lists %v, want %v", a.name, keysOf(got), rulesOf(a.own))
			}
		} else {
			e.want(c("GET", path, nil), a.noRules)
			e.want(c("POST", path, map[string]any{"ips": []map[string]string{{"ip": "203.0.113.9"}}}), a.noRules)
		}
		// Another tenant's rule: 404 however it is named, and it stays.
		for acct, id := range ids {
			if acct == a.own {
				continue
			}
			one := fmt.Sprintf("%s/%d", path, id)
			before := rulesOf(acct)
			e.want(c("GET", one, nil), http.StatusNotFound)
			e.want(c("DELETE", one, nil), http.StatusNotFound)
			e.want(c("DELETE", path, map[string]any{"ids": []int64{id}}), http.StatusNotFound)
			if after := rulesOf(acct); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("%s changed %s's rules: %v → %v", a.name, acct, before, after)
			}
		}
	}
	for acct, want := range map[string]string{"acme": "[127.0.0.0/8 192.0.2.0/24]", "beta": "[127.0.0.0/8 198.51.100.0/24]"} {
		if got := fmt.Sprint(rulesOf(acct)); got != want {
			t.Errorf("%s's rules at the end: %s, want %s", acct, got, want)
		}
	}
}
