package manageapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/postern/postern/internal/admin"
)

// identityObjects are a domain and a pending single sender of each of
// acme, shop and beta, made by the operator, by owner.
type identityObjects struct {
	domains, senders map[string]int64
}

func addIdentityObjects(t *testing.T, e *env, owners ...string) identityObjects {
	t.Helper()
	ctx := context.Background()
	op := admin.Actor{Operator: true}
	objs := identityObjects{domains: map[string]int64{}, senders: map[string]int64{}}
	for _, o := range owners {
		d, err := e.admin.AddDomain(ctx, op, admin.NewDomain{Name: o + ".test", User: o})
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.admin.AddSender(ctx, op, admin.NewSender{Address: "me@" + o + ".mailbox.test", User: o})
		if err != nil {
			t.Fatal(err)
		}
		objs.domains[o], objs.senders[o] = d.ID, s.Sender.ID
	}
	return objs
}

// identityEndpoint is one endpoint of domains and senders: its scope,
// how to call it on an object's id, and what it answers on success.
type identityEndpoint struct {
	name, method, scope string
	path                func(o identityObjects, owner string) string
	body                any
	ok                  int
}

func identityEndpoints() []identityEndpoint {
	domain := func(suffix string) func(identityObjects, string) string {
		return func(o identityObjects, owner string) string {
			return fmt.Sprintf("/v3/whitelabel/domains/%d%s", o.domains[owner], suffix)
		}
	}
	fixed := func(p string) func(identityObjects, string) string {
		return func(identityObjects, string) string { return p }
	}
	return []identityEndpoint{
		{"create domain", "POST", "whitelabel.create", fixed("/v3/whitelabel/domains"), map[string]any{"domain": "new.test"}, http.StatusCreated},
		{"list domains", "GET", "whitelabel.read", fixed("/v3/whitelabel/domains"), nil, http.StatusOK},
		{"get domain", "GET", "whitelabel.read", domain(""), nil, http.StatusOK},
		{"validate domain", "POST", "whitelabel.update", domain("/validate"), nil, http.StatusOK},
		{"delete domain", "DELETE", "whitelabel.delete", domain(""), nil, http.StatusNoContent},
		{"create sender", "POST", "whitelabel.create", fixed("/v3/verified_senders"),
			map[string]any{"nickname": "n", "from_email": "new@mailbox.test", "reply_to": "new@mailbox.test"}, http.StatusCreated},
		{"list senders", "GET", "whitelabel.read", fixed("/v3/verified_senders"), nil, http.StatusOK},
		{"resend sender", "POST", "whitelabel.update", func(o identityObjects, owner string) string {
			return fmt.Sprintf("/v3/verified_senders/resend/%d", o.senders[owner])
		}, nil, http.StatusNoContent},
		{"delete sender", "DELETE", "whitelabel.delete", func(o identityObjects, owner string) string {
			return fmt.Sprintf("/v3/verified_senders/%d", o.senders[owner])
		}, nil, http.StatusNoContent},
	}
}

// TestIdentityScopes: each endpoint of domains and senders refuses a key
// that holds every scope but its own with 403 and SendGrid's error body,
// and serves a key that holds its scope alone.
func TestIdentityScopes(t *testing.T) {
	e, _ := newIdentityEnv(t)
	ctx := context.Background()
	for _, ep := range identityEndpoints() {
		t.Run(ep.name, func(t *testing.T) {
			objs := addIdentityObjects(t, e, "acme")
			defer func() { // make room for the next endpoint's objects
				e.admin.DeleteDomain(ctx, admin.Actor{Operator: true}, admin.DomainRef{Name: "acme.test"})
				e.admin.DeleteDomain(ctx, admin.Actor{Operator: true}, admin.DomainRef{Name: "new.test"})
				e.admin.DeleteSender(ctx, admin.Actor{Operator: true}, admin.SenderRef{ID: objs.senders["acme"]})
				e.admin.DeleteSender(ctx, admin.Actor{Operator: true}, admin.SenderRef{User: "acme", Address: "new@mailbox.test"})
			}()
			without, only := e.scopeKeys(t, "acme", ep.scope)
			c := call{method: ep.method, path: ep.path(objs, "acme"), as: "key:" + without, body: ep.body}
			st, body := e.do(c)
			errs, _ := obj(t, body)["errors"].([]any)
			if !forbidden(st, body) || len(errs) != 1 {
				t.Fatalf("without %s: %d %v, want 403 with SendGrid's error body", ep.scope, st, body)
			}
			c.as = "key:" + only
			e.want(c, ep.ok)
		})
	}
}

// TestIdentityTenantIsolation: for keys of acme (account A), of its
// subuser shop, of beta (account B), of A acting for shop, and of B
// "acting for" shop (refused at once), every endpoint of domains and
// senders reaches the actor's own objects alone. Another tenant's ids
// answer 404 exactly as ids that do not exist, lists hold only the
// actor's own, and the refused calls change nothing.
func TestIdentityTenantIsolation(t *testing.T) {
	e, _ := newIdentityEnv(t)
	ctx := context.Background()
	objs := addIdentityObjects(t, e, "acme", "shop", "beta")
	actors := []struct {
		name, as, obo, sees string // sees: the owner whose objects the actor reaches; "" none
	}{
		{"A", "acme", "", "acme"},
		{"A obo shop", "acme", "shop", "shop"},
		{"shop", "shop", "", "shop"},
		{"B", "beta", "", "beta"},
		{"B obo shop", "beta", "shop", ""},
	}
	missing := identityObjects{domains: map[string]int64{"x": 999999}, senders: map[string]int64{"x": 999999}}
	owners := []string{"acme", "shop", "beta"}
	for _, a := range actors {
		for _, ep := range identityEndpoints() {
			if ep.name == "create domain" || ep.name == "create sender" || strings.HasPrefix(ep.name, "list") {
				continue
			}
			// The answer for an id that does not exist, to compare with.
			_, absent := e.do(call{method: ep.method, path: ep.path(missing, "x"), as: a.as, obo: a.obo, body: ep.body})
			for _, owner := range owners {
				if owner == a.sees && ep.method == "DELETE" {
					continue // its own is deleted below
				}
				c := call{method: ep.method, path: ep.path(objs, owner), as: a.as, obo: a.obo, body: ep.body}
				st, body := e.do(c)
				if owner == a.sees {
					if st != ep.ok {
						t.Errorf("%s %s its own: %d %v, want %d", a.name, ep.name, st, body, ep.ok)
					}
					continue
				}
				if st != http.StatusNotFound || domainJSONText(t, body) != domainJSONText(t, absent) {
					t.Errorf("%s %s %s's: %d %v, want 404 as for a missing id (%v)", a.name, ep.name, owner, st, body, absent)
				}
			}
		}
		// Lists: the actor's own alone; B acting for A's subuser is
		// refused at once.
		for _, l := range []struct{ path, field, suffix string }{
			{"/v3/whitelabel/domains", "domain", ".test"}, {"/v3/verified_senders", "from_email", ".mailbox.test"},
		} {
			st, body := e.do(call{method: "GET", path: l.path, as: a.as, obo: a.obo})
			if a.sees == "" {
				if st != http.StatusNotFound {
					t.Errorf("%s lists %s: %d, want 404", a.name, l.path, st)
				}
				continue
			}
			items, _ := body.([]any)
			if m, ok := body.(map[string]any); ok {
				items, _ = m["results"].([]any)
			}
			var got []string
			for _, it := range items {
				got = append(got, obj(t, it)[l.field].(string))
			}
			want := a.sees + l.suffix
			if l.field == "from_email" {
				want = "me@" + want
			}
			if st != http.StatusOK || !slices.Equal(got, []string{want}) {
				t.Errorf("%s lists %s: %d %v, want [%s]", a.name, l.path, st, got, want)
			}
		}
	}
	// Creating, once the lists are seen: B acting for A's subuser is
	// refused at once; naming another tenant's user is refused as naming
	// no user.
	for _, a := range actors {
		for _, c := range []struct {
			path string
			body map[string]any
		}{
			{"/v3/whitelabel/domains", map[string]any{"domain": "made-by-" + strings.ReplaceAll(a.name, " ", "-") + ".test"}},
			{"/v3/verified_senders", map[string]any{"nickname": "n", "from_email": "made@" + strings.ReplaceAll(a.name, " ", "-") + ".test", "reply_to": "r@x.test"}},
		} {
			st, _ := e.do(call{method: "POST", path: c.path, as: a.as, obo: a.obo, body: c.body})
			if (a.sees == "") != (st == http.StatusNotFound) || a.sees != "" && st != http.StatusCreated {
				t.Errorf("%s creates at %s: %d", a.name, c.path, st)
			}
		}
		made, err := e.store.Domain(ctx, "made-by-"+strings.ReplaceAll(a.name, " ", "-")+".test")
		if a.sees != "" && (err != nil || made.UserName != a.sees) || a.sees == "" && err == nil {
			t.Errorf("%s's new domain: %+v %v, want %q's", a.name, made, err, a.sees)
		}
	}
	_, nobody := e.do(call{method: "POST", path: "/v3/whitelabel/domains", as: "beta", body: map[string]any{"domain": "n1.test", "username": "nobody"}})
	st, other := e.do(call{method: "POST", path: "/v3/whitelabel/domains", as: "beta", body: map[string]any{"domain": "n2.test", "username": "shop"}})
	if st != http.StatusBadRequest || domainJSONText(t, other) != domainJSONText(t, nobody) {
		t.Errorf("B names A's subuser: %d %v; names nobody: %v", st, other, nobody)
	}

	// Nothing of anyone's changed by the refused calls: each domain and
	// sender is there, unshared, pending; each sender got one resend, by
	// its own reacher(s), and no more.
	for _, owner := range owners {
		d, err := e.store.DomainByID(ctx, objs.domains[owner])
		if err != nil || d.UserName != owner || d.Shared || d.State != "pending" {
			t.Errorf("%s's domain: %+v %v", owner, d, err)
		}
		s, err := e.store.SenderByID(ctx, objs.senders[owner])
		if err != nil || s.UserName != owner || s.Verified {
			t.Errorf("%s's sender: %+v %v", owner, s, err)
		}
		reachers := map[string]int{"acme": 1, "shop": 2, "beta": 1}[owner]
		if n := len(e.identityCodes(s.Address)); n != 1+reachers {
			t.Errorf("%s's sender was mailed %d times, want %d", owner, n, 1+reachers)
		}
	}
	// Their own, deleted by each.
	for _, a := range actors[:4] {
		if a.name == "shop" {
			continue // deleted by A obo shop already
		}
		e.want(call{method: "DELETE", path: fmt.Sprintf("/v3/whitelabel/domains/%d", objs.domains[a.sees]), as: a.as, obo: a.obo}, http.StatusNoContent)
		e.want(call{method: "DELETE", path: fmt.Sprintf("/v3/verified_senders/%d", objs.senders[a.sees]), as: a.as, obo: a.obo}, http.StatusNoContent)
	}
}
