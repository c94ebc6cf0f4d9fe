package manageapi_test

import (
	"net/http"
	"strings"

	"testing"

	"github.com/postern/postern/internal/account"
)

func TestScopes(t *testing.T) {
	e := newEnv(t)
	body := e.want(call{method: "GET", path: "/v3/scopes", as: "acme"}, http.StatusOK)
	got := body.(map[string]any)["scopes"].([]any)
	if len(got) != len(account.KnownScopes()) {
		t.Fatalf("full key: %d scopes, want %d", len(got), len(account.KnownScopes()))
	}
	body = e.want(call{method: "GET", path: "/v3/scopes", as: "key:" + e.sendOnly}, http.StatusOK)
	if got := body.(map[string]any)["scopes"].([]any); len(got) != 1 || got[0] != "mail.send" {
		t.Fatalf("mail.send key: %v", got)
	}
	if st, body := e.do(call{method: "GET", path: "/v3/scopes"}); st != http.StatusUnauthorized || errorMessage(body) == "" {
		t.Fatalf("no key: %d %v", st, body)
	}
	st, body := e.do(call{method: "GET", path: "/v3/scopes", as: "key:pst_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"})
	if st != http.StatusUnauthorized || errorMessage(body) != "The provided authorization grant is invalid, expired, or revoked" {
		t.Fatalf("bad key: %d %v", st, body)
	}
	if st, _ := e.do(call{method: "POST", path: "/v3/scopes", as: "acme"}); st != http.StatusMethodNotAllowed {
		t.Fatalf("POST /v3/scopes: %d", st)
	}
	if st, _ := e.do(call{method: "GET", path: "/v3/nothing-here", as: "acme"}); st != http.StatusNotFound {
		t.Fatalf("unknown path: %d", st)
	}
	// On-Behalf-Of: an account's key for its own subuser only.
	e.want(call{method: "GET", path: "/v3/scopes", as: "acme", obo: "shop"}, http.StatusOK)
	for _, c := range []call{
		{as: "acme", obo: "bsub"}, {as: "acme", obo: "beta"}, {as: "shop", obo: "acme"},
		{as: "beta", obo: "shop"}, {as: "acme", obo: "nobody"},
	} {
		c.method, c.path = "GET", "/v3/scopes"
		e.want(c, http.StatusNotFound)
	}

}

// A body with anything after its JSON value is refused, not half read.
func TestTrailingJSONRefused(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{`{"name":"x"}]`, `{"name":"x"} {"name":"y"}`, `{"name":"x"}garbage`} {
		req, _ := http.NewRequest("POST", e.base+"/v3/api_keys", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.keys["acme"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %q: %d, want 400", body, resp.StatusCode)
		}
	}
}
