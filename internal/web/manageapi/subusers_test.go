package manageapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/postern/postern/internal/store"
)

// subuserNames is the usernames of GET /v3/subusers's answer, checking
// that each entry has SendGrid's four fields.
func subuserNames(t *testing.T, body any) []string {
	t.Helper()
	arr, ok := body.([]any)
	if !ok {
		t.Fatalf("not a JSON array: %v", body)
	}
	names := []string{}
	for _, x := range arr {
		m := obj(t, x)
		_, id := m["id"].(float64)
		_, email := m["email"].(string)
		_, disabled := m["disabled"].(bool)
		if len(m) != 4 || !id || !email || !disabled {
			t.Errorf("subuser entry %v: want id, username, email, disabled", m)
		}
		names = append(names, fmt.Sprint(m["username"]))
	}
	return names
}

func TestSubusers(t *testing.T) {
	e := newEnv(t)
	const pw = "correct horse battery staple"
	created := obj(t, e.want(call{method: "POST", path: "/v3/subusers", as: "acme",
		body: map[string]any{"username": "news", "email": "ops@acme.example", "password": pw, "ips": []string{"192.0.2.1"}}}, http.StatusCreated))
	u, err := e.store.UserByName(context.Background(), "news")
	if err != nil || u.ParentName != "acme" {
		t.Fatalf("the new subuser: %+v, %v", u, err)
	}
	if created["username"] != "news" || created["email"] != "ops@acme.example" || created["user_id"] != float64(u.ID) {
		t.Errorf("POST: %v", created)
	}
	if h, _ := e.store.PasswordHash(context.Background(), "news"); bcrypt.CompareHashAndPassword(h, []byte(pw)) != nil {
		t.Error("the stored hash is not the password's")
	}

	// The list: acme's subusers, with SendGrid's fields; username filter,
	// limit and offset.
	if got := subuserNames(t, e.want(call{method: "GET", path: "/v3/subusers", as: "acme"}, http.StatusOK)); !slices.Equal(got, []string{"news", "shop"}) {
		t.Errorf("list: %v", got)
	}
	if got := subuserNames(t, e.want(call{method: "GET", path: "/v3/subusers?username=shop", as: "acme"}, http.StatusOK)); !slices.Equal(got, []string{"shop"}) {
		t.Errorf("username=shop: %v", got)
	}
	if got := subuserNames(t, e.want(call{method: "GET", path: "/v3/subusers?limit=1&offset=1", as: "acme"}, http.StatusOK)); !slices.Equal(got, []string{"shop"}) {
		t.Errorf("limit=1&offset=1: %v", got)
	}
	one := obj(t, e.want(call{method: "GET", path: "/v3/subusers/news", as: "acme"}, http.StatusOK))
	if one["username"] != "news" || one["email"] != "ops@acme.example" || one["disabled"] != false || one["id"] != float64(u.ID) {
		t.Errorf("GET one: %v", one)
	}

	// Its own key, through On-Behalf-Of.
	made := obj(t, e.want(call{method: "POST", path: "/v3/api_keys", as: "acme", obo: "news", body: map[string]any{"name": "news", "scopes": []string{"mail.send"}}}, http.StatusCreated))
	newsKey := made["api_key"].(string)
	e.want(call{method: "GET", path: "/v3/scopes", as: "key:" + newsKey}, http.StatusOK)

	// Disabled: its key is refused at once; enabled: accepted again.
	e.want(call{method: "PATCH", path: "/v3/subusers/news", as: "acme", body: map[string]any{"disabled": true}}, http.StatusNoContent)
	if one := obj(t, e.want(call{method: "GET", path: "/v3/subusers/news", as: "acme"}, http.StatusOK)); one["disabled"] != true {
		t.Errorf("after disabling: %v", one)
	}
	e.want(call{method: "GET", path: "/v3/scopes", as: "key:" + newsKey}, http.StatusForbidden)
	e.want(call{method: "PATCH", path: "/v3/subusers/news", as: "acme", body: map[string]any{"disabled": false}}, http.StatusNoContent)
	e.want(call{method: "GET", path: "/v3/scopes", as: "key:" + newsKey}, http.StatusOK)
	if st, body := e.do(call{method: "PATCH", path: "/v3/subusers/news", as: "acme", body: map[string]any{}}); st != http.StatusBadRequest || errorMessage(body) != "no fields provided" {
		t.Errorf("PATCH {}: %d %v", st, body)
	}

	// Deleted: gone, its key revoked with it, its name still taken.
	e.want(call{method: "DELETE", path: "/v3/subusers/news", as: "acme"}, http.StatusNoContent)
	e.want(call{method: "GET", path: "/v3/subusers/news", as: "acme"}, http.StatusNotFound)
	e.want(call{method: "GET", path: "/v3/scopes", as: "key:" + newsKey}, http.StatusUnauthorized)
	e.want(call{method: "POST", path: "/v3/subusers", as: "acme", body: map[string]any{"username": "news", "email": "a@acme.example", "password": pw}}, http.StatusBadRequest)
	if got := subuserNames(t, e.want(call{method: "GET", path: "/v3/subusers", as: "acme"}, http.StatusOK)); !slices.Equal(got, []string{"shop"}) {
		t.Errorf("list after delete: %v", got)
	}

	if strings.Contains(e.logs.String(), pw) {
		t.Error("the password reached the log")
	}
}

func TestSubusersRefused(t *testing.T) {
	e := newEnv(t)
	good := map[string]any{"username": "new", "email": "a@acme.example", "password": "12345678"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range good {
			m[k] = v
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		c      call
		status int
		field  string
	}{
		{"no username", call{method: "POST", path: "/v3/subusers", body: with("username", nil)}, 400, "username"},
		{"bad username", call{method: "POST", path: "/v3/subusers", body: with("username", "Not Valid")}, 400, "username"},
		{"no email", call{method: "POST", path: "/v3/subusers", body: with("email", nil)}, 400, "email"},
		{"bad email", call{method: "POST", path: "/v3/subusers", body: with("email", "nobody")}, 400, "email"},
		{"no password", call{method: "POST", path: "/v3/subusers", body: with("password", nil)}, 400, "password"},
		{"short password", call{method: "POST", path: "/v3/subusers", body: with("password", "1234567")}, 400, "password"},
		{"long password", call{method: "POST", path: "/v3/subusers", body: with("password", strings.Repeat("p", 73))}, 400, "password"},
		{"password not a string", call{method: "POST", path: "/v3/subusers", body: with("password", 12345678)}, 400, ""},
		{"taken", call{method: "POST", path: "/v3/subusers", body: with("username", "bsub")}, 400, ""},
		{"a subuser's key", call{method: "POST", path: "/v3/subusers", as: "shop", body: good}, 403, ""},
		{"on behalf of a subuser", call{method: "POST", path: "/v3/subusers", as: "acme", obo: "shop", body: good}, 403, ""},
		{"disabled not a bool", call{method: "PATCH", path: "/v3/subusers/shop", body: map[string]any{"disabled": "yes"}}, 400, ""},
		{"negative offset", call{method: "GET", path: "/v3/subusers?offset=-1"}, 400, "offset"},
	} {
		if tc.c.as == "" {
			tc.c.as = "acme"
		}
		e.wantRefusal(t, tc.name, tc.c, tc.status, tc.field)
	}
	if _, err := e.store.UserByName(context.Background(), "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused POST created the subuser: %v", err)
	}
	// The operator's suspension is not the account's to lift.
	if err := e.store.SetSuspended(context.Background(), "shop", time.Now(), "spam complaints"); err != nil {
		t.Fatal(err)
	}
	e.want(call{method: "PATCH", path: "/v3/subusers/shop", as: "acme", body: map[string]any{"disabled": false}}, http.StatusForbidden)
	if u, _ := e.store.UserByName(context.Background(), "shop"); !u.Suspended() {
		t.Error("the account lifted the operator's suspension")
	}
}

func TestSubusersWithSendGridGo(t *testing.T) {
	e := newEnv(t)
	key := e.keys["acme"]
	st, body := e.sgCall(key, "POST", "/v3/subusers", "", map[string]any{"username": "sgsub", "email": "sg@acme.example", "password": "sendgrid-go pw", "ips": []string{}})
	if st != http.StatusCreated || obj(t, body)["username"] != "sgsub" {
		t.Fatalf("POST: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "GET", "/v3/subusers", "", nil); st != http.StatusOK || !slices.Contains(subuserNames(t, body), "sgsub") {
		t.Fatalf("GET list: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "GET", "/v3/subusers/sgsub", "", nil); st != http.StatusOK || obj(t, body)["email"] != "sg@acme.example" {
		t.Fatalf("GET: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "PATCH", "/v3/subusers/sgsub", "", map[string]any{"disabled": true}); st != http.StatusNoContent {
		t.Fatalf("PATCH: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "DELETE", "/v3/subusers/sgsub", "", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE: %d %v", st, body)
	}
}

func TestSubusersScopes(t *testing.T) {
	e := newEnv(t)
	for i, tc := range []scopeCase{
		{"subusers.create", "POST", "/v3/subusers", map[string]any{"username": "made", "email": "m@acme.example", "password": "12345678"}, http.StatusCreated},
		{"subusers.read", "GET", "/v3/subusers", nil, http.StatusOK},
		{"subusers.read", "GET", "/v3/subusers/{name}", nil, http.StatusOK},
		{"subusers.update", "PATCH", "/v3/subusers/{name}", map[string]any{"disabled": true}, http.StatusNoContent},
		{"subusers.delete", "DELETE", "/v3/subusers/{name}", nil, http.StatusNoContent},
	} {
		without, with := e.scopeKeys(t, "acme", tc.scope)
		target := fmt.Sprintf("target%d", i)
		if _, err := e.accounts.CreateUser(context.Background(), target, "acme"); err != nil {
			t.Fatal(err)
		}
		path := strings.Replace(tc.path, "{name}", target, 1)
		st, body := e.do(call{method: tc.method, path: path, as: "key:" + without, body: tc.body})
		if !forbidden(st, body) {
			t.Errorf("%s %s without %s: %d %v", tc.method, tc.path, tc.scope, st, body)
		}
		if u, err := e.store.UserByName(context.Background(), target); err != nil || u.Suspended() {
			t.Errorf("%s %s without %s changed the subuser: %+v, %v", tc.method, tc.path, tc.scope, u, err)
		}
		if st, body := e.do(call{method: tc.method, path: path, as: "key:" + with, body: tc.body}); st != tc.status {
			t.Errorf("%s %s with %s: %d %v, want %d", tc.method, tc.path, tc.scope, st, body, tc.status)
		}
	}
}

// Tenant isolation over every endpoint: only an account's own subusers
// are read or changed, by its own key; anything else is 404, as a
// missing name is.
func TestSubusersTenantIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	actors := []struct {
		as, obo string
		owns    string // whose subusers it reaches ("": none)
		list    int    // GET /v3/subusers
	}{
		{"acme", "", "acme", http.StatusOK},
		{"shop", "", "", http.StatusOK},
		{"beta", "", "beta", http.StatusOK},
		{"acme", "shop", "", http.StatusOK}, // acting as shop, which has none
		{"beta", "shop", "", http.StatusNotFound},
	}
	ops := []struct {
		method string
		body   any
		ok     int
	}{
		{"GET", nil, http.StatusOK},
		{"PATCH", map[string]any{"disabled": true}, http.StatusNoContent},
		{"DELETE", nil, http.StatusNoContent},
	}
	n := 0
	for _, a := range actors {
		for _, op := range ops {
			// A fresh subuser of each account, and the accounts themselves.
			for _, owner := range []string{"acme", "beta", "", "nobody"} {
				target := owner
				if owner == "acme" || owner == "beta" {
					n++
					target = fmt.Sprintf("sub%d", n)
					if _, err := e.accounts.CreateUser(ctx, target, owner); err != nil {
						t.Fatal(err)
					}
				} else if owner == "" {
					target = "acme" // an account is no subuser
				}
				st, body := e.do(call{method: op.method, path: "/v3/subusers/" + target, as: a.as, obo: a.obo, body: op.body})
				want := http.StatusNotFound
				if owner == a.owns && owner != "" {
					want = op.ok
				}
				if st != want || want == http.StatusNotFound && errorMessage(body) != "resource not found" {
					t.Errorf("%s obo %q %s %s (%s's): %d %v, want %d", a.as, a.obo, op.method, target, owner, st, body, want)
				}
				if want == http.StatusNotFound && target != "nobody" {
					if u, err := e.store.UserByName(ctx, target); err != nil || u.Suspended() {
						t.Errorf("%s obo %q %s changed %s: %+v, %v", a.as, a.obo, op.method, target, u, err)
					}
				}
			}
		}
		st, body := e.do(call{method: "GET", path: "/v3/subusers", as: a.as, obo: a.obo})
		if st != a.list {
			t.Errorf("%s obo %q lists: %d %v", a.as, a.obo, st, body)
			continue
		}
		if st != http.StatusOK {
			continue
		}
		for _, name := range subuserNames(t, body) {
			u, _ := e.store.UserByName(ctx, name)
			if u.ParentName != a.owns {
				t.Errorf("%s obo %q lists %s of %s", a.as, a.obo, name, u.ParentName)
			}
		}
		if got := subuserNames(t, e.want(call{method: "GET", path: "/v3/subusers?username=bsub", as: a.as, obo: a.obo}, http.StatusOK)); len(got) != 0 && a.owns != "beta" {
			t.Errorf("%s obo %q finds beta's bsub by name", a.as, a.obo)
		}
	}
	e.want(call{method: "POST", path: "/v3/subusers", as: "beta", obo: "shop", body: map[string]any{"username": "x1", "email": "a@b.example", "password": "12345678"}}, http.StatusNotFound)
}
