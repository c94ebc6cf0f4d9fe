package manageapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/postern/postern/internal/admin"
)

func TestSubscriptionTracking(t *testing.T) {
	e := newEnv(t)
	const path = "/v3/tracking_settings/subscription"
	enabled := func(v any) any { return v.(map[string]any)["enabled"] }
	body := e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK)
	want := map[string]any{"enabled": false, "html_content": "", "landing": "", "plain_content": "", "replace": "", "url": ""}
	for k, v := range want {
		if got := body.(map[string]any)[k]; got != v {
			t.Errorf("GET %s = %v, want %v", k, got, v)
		}
	}
	if got := enabled(e.want(call{method: "PATCH", path: path, as: "acme", body: map[string]any{"enabled": true}}, http.StatusOK)); got != true {
		t.Fatalf("PATCH on: %v", got)
	}
	if got := enabled(e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK)); got != true {
		t.Errorf("GET after on: %v", got)
	}
	if u, _ := e.store.UserByName(context.Background(), "acme"); !u.ListUnsubscribe {
		t.Errorf("acme in the store: %+v", u)
	}
	// Empty fields are taken; without enabled nothing changes.
	if got := enabled(e.want(call{method: "PATCH", path: path, as: "acme", body: map[string]any{"url": "", "html_content": ""}}, http.StatusOK)); got != true {
		t.Errorf("PATCH of empty fields: %v", got)
	}
	// What Postern does not do is refused, by name, and nothing changes.
	for _, f := range []string{"html_content", "landing", "plain_content", "replace", "url"} {
		e.wantRefusal(t, "PATCH "+f, call{method: "PATCH", path: path, as: "acme", body: map[string]any{"enabled": false, f: "x"}}, http.StatusBadRequest, f)
	}
	if got := enabled(e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK)); got != true {
		t.Errorf("a refused PATCH changed the setting: %v", got)
	}
	e.wantRefusal(t, "not JSON", call{method: "PATCH", path: path, as: "acme", body: "enabled"}, http.StatusBadRequest, "")
	// On-Behalf-Of: the subuser's own setting, not the account's.
	e.want(call{method: "PATCH", path: path, as: "acme", obo: "shop", body: map[string]any{"enabled": true}}, http.StatusOK)
	if got := enabled(e.want(call{method: "GET", path: path, as: "shop"}, http.StatusOK)); got != true {
		t.Errorf("shop after acme on its behalf: %v", got)
	}
	if got := enabled(e.want(call{method: "GET", path: path, as: "beta"}, http.StatusOK)); got != false {
		t.Errorf("beta: %v", got)
	}
	e.want(call{method: "GET", path: path, as: "beta", obo: "shop"}, http.StatusNotFound)
	// Scopes.
	for _, sc := range []struct{ method, scope string }{{"GET", admin.ScopeSubscriptionRead}, {"PATCH", admin.ScopeSubscriptionUpdate}} {
		without, only := e.scopeKeys(t, "beta", sc.scope)
		e.want(call{method: sc.method, path: path, as: "key:" + without, body: map[string]any{}}, http.StatusForbidden)
		e.want(call{method: sc.method, path: path, as: "key:" + only, body: map[string]any{}}, http.StatusOK)
	}
	e.want(call{method: "GET", path: path}, http.StatusUnauthorized)
	e.want(call{method: "DELETE", path: path, as: "acme"}, http.StatusMethodNotAllowed)
}
