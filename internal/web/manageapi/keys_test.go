package manageapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/postern/postern/internal/account"
)

// newKey makes a key of user with scopes through the account service and
// returns the key and its id.
func (e *env) newKey(user string, scopes ...string) (string, string) {
	e.t.Helper()
	key, rec, err := e.accounts.CreateKey(context.Background(), user, "made by the test", scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	return key, rec.ID
}

// strs is a JSON array of strings.
func strs(v any) []string {
	var out []string
	arr, _ := v.([]any)
	for _, x := range arr {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// keyIDsOf is the api_key_ids of GET /v3/api_keys's answer.
func keyIDsOf(t *testing.T, body any) []string {
	t.Helper()
	var ids []string
	result, ok := obj(t, body)["result"].([]any)
	if !ok {
		t.Fatalf("no result list in %v", body)
	}
	for _, r := range result {
		ids = append(ids, fmt.Sprint(obj(t, r)["api_key_id"]))
	}
	return ids
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)

	// POST: the secret once, with id, name and scopes.
	body := obj(t, e.want(call{method: "POST", path: "/v3/api_keys", as: "acme", body: map[string]any{"name": "ci", "scopes": []string{"mail.send", "api_keys.read"}}}, http.StatusCreated))
	secret, _ := body["api_key"].(string)
	id, _ := body["api_key_id"].(string)
	if _, err := account.ParseKey(secret); err != nil || body["name"] != "ci" || !slices.Equal(strs(body["scopes"]), []string{"mail.send", "api_keys.read"}) {
		t.Fatalf("POST /v3/api_keys: %v", body)
	}
	if got, _ := account.ParseKey(secret); got != id {
		t.Fatalf("api_key_id %q is not the key's id", id)
	}
	scopes := obj(t, e.want(call{method: "GET", path: "/v3/scopes", as: "key:" + secret}, http.StatusOK))
	if !slices.Equal(strs(scopes["scopes"]), []string{"mail.send", "api_keys.read"}) {
		t.Errorf("the new key's scopes: %v", scopes)
	}
	// Without scopes: "Full Access", which for acme's full key is all.
	full := obj(t, e.want(call{method: "POST", path: "/v3/api_keys", as: "acme", body: map[string]any{"name": "everything"}}, http.StatusCreated))
	if !slices.Equal(strs(full["scopes"]), account.KnownScopes()) {
		t.Errorf("POST without scopes: %v", full["scopes"])
	}

	// GET list: names and ids only; limit.
	list := e.want(call{method: "GET", path: "/v3/api_keys", as: "acme"}, http.StatusOK)
	ids := keyIDsOf(t, list)
	for _, want := range []string{e.keyIDs["acme"], id, full["api_key_id"].(string)} {
		if !slices.Contains(ids, want) {
			t.Errorf("list lacks %s: %v", want, ids)
		}
	}
	for _, r := range obj(t, list)["result"].([]any) {
		if m := obj(t, r); len(m) != 2 || m["name"] == nil {
			t.Errorf("list entry %v: want name and api_key_id alone", m)
		}
	}
	if got := keyIDsOf(t, e.want(call{method: "GET", path: "/v3/api_keys?limit=1", as: "acme"}, http.StatusOK)); len(got) != 1 {
		t.Errorf("limit=1: %v", got)
	}
	if st, body := e.do(call{method: "GET", path: "/v3/api_keys?limit=0", as: "acme"}); st != http.StatusBadRequest || errorMessage(body) == "" {
		t.Errorf("limit=0: %d %v", st, body)
	}

	// GET one: name, id, scopes (at the top, and in "result").
	one := obj(t, e.want(call{method: "GET", path: "/v3/api_keys/" + id, as: "acme"}, http.StatusOK))
	if one["api_key_id"] != id || one["name"] != "ci" || !slices.Equal(strs(one["scopes"]), []string{"mail.send", "api_keys.read"}) {
		t.Errorf("GET one: %v", one)
	}
	if res, _ := one["result"].([]any); len(res) != 1 || obj(t, res[0])["api_key_id"] != id || len(strs(obj(t, res[0])["scopes"])) != 2 {
		t.Errorf("GET one's result: %v", one["result"])
	}
	if _, ok := one["api_key"]; ok {
		t.Error("GET one shows the secret")
	}

	// PATCH renames.
	renamed := obj(t, e.want(call{method: "PATCH", path: "/v3/api_keys/" + id, as: "acme", body: map[string]any{"name": "renamed"}}, http.StatusOK))
	if renamed["api_key_id"] != id || renamed["name"] != "renamed" || len(renamed) != 2 {
		t.Errorf("PATCH: %v", renamed)
	}
	// PUT sets name and scopes; they hold at the key's next request.
	put := obj(t, e.want(call{method: "PUT", path: "/v3/api_keys/" + id, as: "acme", body: map[string]any{"name": "reader", "scopes": []string{"suppression.read"}}}, http.StatusOK))
	if put["name"] != "reader" || !slices.Equal(strs(put["scopes"]), []string{"suppression.read"}) {
		t.Errorf("PUT: %v", put)
	}
	scopes = obj(t, e.want(call{method: "GET", path: "/v3/scopes", as: "key:" + secret}, http.StatusOK))
	if !slices.Equal(strs(scopes["scopes"]), []string{"suppression.read"}) {
		t.Errorf("scopes after PUT: %v", scopes)
	}
	e.want(call{method: "GET", path: "/v3/api_keys", as: "key:" + secret}, http.StatusForbidden)

	// DELETE: the key is refused at once, and gone.
	e.want(call{method: "DELETE", path: "/v3/api_keys/" + id, as: "acme"}, http.StatusNoContent)
	if st, body := e.do(call{method: "GET", path: "/v3/scopes", as: "key:" + secret}); st != http.StatusUnauthorized || errorMessage(body) == "" {
		t.Errorf("the deleted key: %d %v", st, body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		e.want(call{method: m, path: "/v3/api_keys/" + id, as: "acme"}, http.StatusNotFound)
	}
	if slices.Contains(keyIDsOf(t, e.want(call{method: "GET", path: "/v3/api_keys", as: "acme"}, http.StatusOK)), id) {
		t.Error("the deleted key is still listed")
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("the new key reached the log")
	}
}

func TestAPIKeysRefused(t *testing.T) {
	e := newEnv(t)
	_, target := e.newKey("acme", "mail.send")
	limited, _ := e.newKey("acme", "api_keys.create", "api_keys.update", "mail.send")
	for _, tc := range []struct {
		name   string
		c      call
		status int
		field  string
	}{
		{"no name", call{method: "POST", path: "/v3/api_keys", body: map[string]any{"scopes": []string{"mail.send"}}}, 400, "name"},
		{"empty name", call{method: "POST", path: "/v3/api_keys", body: map[string]any{"name": ""}}, 400, "name"},
		{"scopes not a list", call{method: "POST", path: "/v3/api_keys", body: map[string]any{"name": "x", "scopes": "mail.send"}}, 400, ""},
		{"not an object", call{method: "POST", path: "/v3/api_keys", body: "name"}, 400, ""},
		{"unknown scope", call{method: "POST", path: "/v3/api_keys", body: map[string]any{"name": "x", "scopes": []string{"alerts.read"}}}, 400, "scopes"},
		{"long name", call{method: "POST", path: "/v3/api_keys", body: map[string]any{"name": strings.Repeat("x", 101)}}, 400, "name"},
		{"a scope the key lacks", call{method: "POST", path: "/v3/api_keys", as: "key:" + limited, body: map[string]any{"name": "x", "scopes": []string{"mail.send", "stats.read"}}}, 403, ""},
		{"PUT a scope the key lacks", call{method: "PUT", path: "/v3/api_keys/" + target, as: "key:" + limited, body: map[string]any{"name": "x", "scopes": []string{"stats.read"}}}, 403, ""},
		{"PUT without scopes", call{method: "PUT", path: "/v3/api_keys/" + target, body: map[string]any{"name": "x"}}, 400, "scopes"},
		{"PATCH without a name", call{method: "PATCH", path: "/v3/api_keys/" + target, body: map[string]any{"scopes": []string{"mail.send"}}}, 400, "name"},
		{"no such key", call{method: "GET", path: "/v3/api_keys/aaaaaaaaaaaaaaaa"}, 404, ""},
		{"POST on one", call{method: "POST", path: "/v3/api_keys/" + target}, 405, ""},
	} {
		if tc.c.as == "" {
			tc.c.as = "acme"
		}
		e.wantRefusal(t, tc.name, tc.c, tc.status, tc.field)
	}
	// A refused change changed nothing.
	k, err := e.store.APIKey(context.Background(), target)
	if err != nil || k.Name != "made by the test" || !slices.Equal(k.Scopes, []string{"mail.send"}) {
		t.Errorf("target after the refusals: %+v, %v", k, err)
	}
}

// sendgrid-go drives every endpoint of the group, unmodified.
func TestAPIKeysWithSendGridGo(t *testing.T) {
	e := newEnv(t)
	key := e.keys["acme"]
	st, body := e.sgCall(key, "POST", "/v3/api_keys", "", map[string]any{"name": "sg", "scopes": []string{"mail.send"}})
	if st != http.StatusCreated {
		t.Fatalf("POST: %d %v", st, body)
	}
	id := obj(t, body)["api_key_id"].(string)
	if st, body = e.sgCall(key, "GET", "/v3/api_keys", "", nil); st != http.StatusOK || !slices.Contains(keyIDsOf(t, body), id) {
		t.Fatalf("GET list: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "GET", "/v3/api_keys/"+id, "", nil); st != http.StatusOK || obj(t, body)["name"] != "sg" {
		t.Fatalf("GET: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "PATCH", "/v3/api_keys/"+id, "", map[string]any{"name": "sg2"}); st != http.StatusOK || obj(t, body)["name"] != "sg2" {
		t.Fatalf("PATCH: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "PUT", "/v3/api_keys/"+id, "", map[string]any{"name": "sg3", "scopes": []string{"stats.read"}}); st != http.StatusOK || !slices.Equal(strs(obj(t, body)["scopes"]), []string{"stats.read"}) {
		t.Fatalf("PUT: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "DELETE", "/v3/api_keys/"+id, "", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d %v", st, body)
	}
	// On behalf of a subuser, the key is the subuser's.
	st, body = e.sgCall(key, "POST", "/v3/api_keys", "shop", map[string]any{"name": "for shop", "scopes": []string{"mail.send"}})
	if st != http.StatusCreated {
		t.Fatalf("POST obo shop: %d %v", st, body)
	}
	k, err := e.store.APIKey(context.Background(), obj(t, body)["api_key_id"].(string))
	if err != nil || k.UserName != "shop" {
		t.Fatalf("the key made on behalf of shop: %+v, %v", k, err)
	}
}

// Each endpoint with a key lacking its scope (every other scope held) is
// 403 with SendGrid's error body; with that scope alone it succeeds.
func TestAPIKeysScopes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []scopeCase{
		{"api_keys.create", "POST", "/v3/api_keys", map[string]any{"name": "x", "scopes": []string{"api_keys.create"}}, http.StatusCreated},
		{"api_keys.read", "GET", "/v3/api_keys", nil, http.StatusOK},
		{"api_keys.read", "GET", "/v3/api_keys/{id}", nil, http.StatusOK},
		{"api_keys.update", "PATCH", "/v3/api_keys/{id}", map[string]any{"name": "y"}, http.StatusOK},
		{"api_keys.update", "PUT", "/v3/api_keys/{id}", map[string]any{"name": "y", "scopes": []string{"api_keys.update"}}, http.StatusOK},
		{"api_keys.delete", "DELETE", "/v3/api_keys/{id}", nil, http.StatusNoContent},
	} {
		without, with := e.scopeKeys(t, "acme", tc.scope)
		_, target := e.newKey("acme", "mail.send")
		path := strings.Replace(tc.path, "{id}", target, 1)
		st, body := e.do(call{method: tc.method, path: path, as: "key:" + without, body: tc.body})
		if !forbidden(st, body) {
			t.Errorf("%s %s without %s: %d %v", tc.method, tc.path, tc.scope, st, body)
		}
		if st, body := e.do(call{method: tc.method, path: path, as: "key:" + with, body: tc.body}); st != tc.status {
			t.Errorf("%s %s with %s: %d %v, want %d", tc.method, tc.path, tc.scope, st, body, tc.status)
		}
	}
}

// Tenant isolation over every endpoint: another tenant's key, or a
// subuser's without On-Behalf-Of, is 404 as a missing one is; lists hold
// the actor's own keys; B on behalf of A's subuser is 404 at once.
func TestAPIKeysTenantIsolation(t *testing.T) {
	e := newEnv(t)
	type actor struct{ as, obo string }
	actors := []struct {
		actor
		reaches string // whose keys it reaches
	}{
		{actor{"acme", ""}, "acme"},
		{actor{"shop", ""}, "shop"},
		{actor{"beta", ""}, "beta"},
		{actor{"acme", "shop"}, "shop"},
		{actor{"beta", "shop"}, ""}, // refused outright
	}
	ops := []struct {
		method string
		body   any
		ok     int
	}{
		{"GET", nil, http.StatusOK},
		{"PATCH", map[string]any{"name": "taken over"}, http.StatusOK},
		{"PUT", map[string]any{"name": "taken over", "scopes": []string{"mail.send"}}, http.StatusOK},
		{"DELETE", nil, http.StatusNoContent},
	}
	notFound := errorMessage(e.want(call{method: "GET", path: "/v3/api_keys/aaaaaaaaaaaaaaaa", as: "acme"}, http.StatusNotFound))
	for _, a := range actors {
		for _, op := range ops {
			for _, owner := range []string{"acme", "shop", "beta", "bsub"} {
				_, target := e.newKey(owner, "mail.send")
				st, body := e.do(call{method: op.method, path: "/v3/api_keys/" + target, as: a.as, obo: a.obo, body: op.body})
				want := http.StatusNotFound
				if owner == a.reaches {
					want = op.ok
				}
				if st != want || want == http.StatusNotFound && errorMessage(body) != notFound {
					t.Errorf("%s obo %q %s %s's key: %d %v, want %d", a.as, a.obo, op.method, owner, st, body, want)
				}
				k, _ := e.store.APIKey(context.Background(), target)
				if want == http.StatusNotFound && (k.Name != "made by the test" || k.Revoked()) {
					t.Errorf("%s obo %q %s changed %s's key: %+v", a.as, a.obo, op.method, owner, k)
				}
			}
		}
		// The list: only the reached user's keys.
		st, body := e.do(call{method: "GET", path: "/v3/api_keys", as: a.as, obo: a.obo})
		if a.reaches == "" {
			if st != http.StatusNotFound {
				t.Errorf("%s obo %q lists: %d", a.as, a.obo, st)
			}
			continue
		}
		if st != http.StatusOK {
			t.Fatalf("%s obo %q lists: %d %v", a.as, a.obo, st, body)
		}
		ids := keyIDsOf(t, body)
		if len(ids) == 0 {
			t.Errorf("%s obo %q lists no key", a.as, a.obo)
		}
		for _, id := range ids {
			if k, _ := e.store.APIKey(context.Background(), id); k.UserName != a.reaches {
				t.Errorf("%s obo %q lists %s's key %s", a.as, a.obo, k.UserName, id)
			}
		}
		// A key made is the reached user's.
		made := obj(t, e.want(call{method: "POST", path: "/v3/api_keys", as: a.as, obo: a.obo, body: map[string]any{"name": "new", "scopes": []string{"mail.send"}}}, http.StatusCreated))
		if k, _ := e.store.APIKey(context.Background(), made["api_key_id"].(string)); k.UserName != a.reaches {
			t.Errorf("%s obo %q made a key of %s", a.as, a.obo, k.UserName)
		}
	}
	e.want(call{method: "POST", path: "/v3/api_keys", as: "beta", obo: "shop", body: map[string]any{"name": "new"}}, http.StatusNotFound)
}
