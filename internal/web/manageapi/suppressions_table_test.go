package manageapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

// suppressionEndpoint is one endpoint of the suppression group, called
// about the address addr.
type suppressionEndpoint struct {
	name, method, path string
	op                 string // list, get, delete (one), delete some, delete all, add
	body               any
	scope              string
	ok                 int                   // the status of a call that succeeds
	kind               store.SuppressionKind // the list it reads or changes
	listed             bool                  // addr must be listed for ok
}

func suppressionEndpoints(addr string) []suppressionEndpoint {
	var out []suppressionEndpoint
	for _, l := range suppressionLists {
		p := "/v3/suppression/" + l.name
		out = append(out,
			suppressionEndpoint{"list " + l.name, "GET", p, "list", nil, admin.ScopeSuppressionRead, 200, l.kind, false},
			suppressionEndpoint{"delete " + l.name, "DELETE", p, "delete some", map[string]any{"emails": []string{addr}}, admin.ScopeSuppressionDelete, 204, l.kind, false},
			suppressionEndpoint{"delete all " + l.name, "DELETE", p, "delete all", map[string]any{"delete_all": true}, admin.ScopeSuppressionDelete, 204, l.kind, false},
			suppressionEndpoint{"get one of " + l.name, "GET", p + "/" + addr, "get", nil, admin.ScopeSuppressionRead, 200, l.kind, false},
			suppressionEndpoint{"delete one of " + l.name, "DELETE", p + "/" + addr, "delete", nil, admin.ScopeSuppressionDelete, 204, l.kind, true},
		)
	}
	const global = "/v3/asm/suppressions/global"
	u := store.SuppressUnsubscribe
	return append(out,
		suppressionEndpoint{"list unsubscribes", "GET", "/v3/suppression/unsubscribes", "list", nil, admin.ScopeSuppressionRead, 200, u, false},
		suppressionEndpoint{"add global", "POST", global, "add", map[string]any{"recipient_emails": []string{addr}}, admin.ScopeSuppressionCreate, 201, u, false},
		suppressionEndpoint{"get global", "GET", global + "/" + addr, "get", nil, admin.ScopeSuppressionRead, 200, u, false},
		suppressionEndpoint{"delete global", "DELETE", global + "/" + addr, "delete", nil, admin.ScopeSuppressionDelete, 204, u, true},
	)
}

// listed reports whether addr is on user's list of kind.
func (e *env) listed(user string, kind store.SuppressionKind, addr string) bool {
	e.t.Helper()
	u, err := e.store.UserByName(context.Background(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	list, err := e.store.FindSuppressions(context.Background(), store.SuppressionFilter{UserID: u.ID, Kind: kind, Address: addr})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(list) > 0
}

// TestSuppressionScopes: each endpoint with a key holding every scope but
// its own (403, SendGrid's error body, nothing changed), then with a key
// holding only its own.
func TestSuppressionScopes(t *testing.T) {
	e := newEnv(t)
	const addr = "x@example.test"
	for _, ep := range suppressionEndpoints(addr) {
		e.seed("acme", ep.kind, "permanent failure: 550 5.1.1", time.Now(), addr)
		without, only := e.scopeKeys(t, "acme", ep.scope)
		st, body := e.do(call{method: ep.method, path: ep.path, as: "key:" + without, body: ep.body})
		if !forbidden(st, body) {
			t.Errorf("%s without %s: %d %v, want 403 with SendGrid's error body", ep.name, ep.scope, st, body)
		}
		if !e.listed("acme", ep.kind, addr) {
			t.Errorf("%s without %s took the address off", ep.name, ep.scope)
		}
		if st, body := e.do(call{method: ep.method, path: ep.path, as: "key:" + only, body: ep.body}); st != ep.ok {
			t.Errorf("%s with only %s: %d %v, want %d", ep.name, ep.scope, st, body, ep.ok)
		}
	}
}

// listOf is user's list of kind as the store has it: the addresses,
// each followed by a space.
func (e *env) listOf(user string, kind store.SuppressionKind) string {
	e.t.Helper()
	u, err := e.store.UserByName(context.Background(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	list, err := e.store.FindSuppressions(context.Background(), store.SuppressionFilter{UserID: u.ID, Kind: kind})
	if err != nil {
		e.t.Fatal(err)
	}
	out := ""
	for _, s := range list {
		out += s.Address + " "
	}
	return out
}

// suppressionActors are the tenant-isolation table's keys: the user whose
// lists each reaches ("" for none: 404 at once).
var suppressionActors = []struct {
	name, as, obo, user string
}{
	{"A", "acme", "", "acme"},
	{"A's subuser", "shop", "", "shop"},
	{"B", "beta", "", "beta"},
	{"A for its subuser", "acme", "shop", "shop"},
	{"B for A's subuser", "beta", "shop", ""},
}

// TestSuppressionTenantIsolation: every user has its own lists; no key
// reads, changes or learns of another tenant's entries (an address on
// another user's list answers as one on no list), and A sees its
// subuser's only on behalf of it.
func TestSuppressionTenantIsolation(t *testing.T) {
	e := newEnv(t)
	users := []string{"acme", "shop", "beta"}
	seedAll := func() {
		for _, u := range users {
			for _, kind := range store.SuppressionKinds() {
				e.seed(u, kind, "permanent failure: 550 5.1.1", time.Now(), u+"@example.test")
			}
		}
	}
	seedAll()
	for _, a := range suppressionActors {
		for _, owner := range users {
			addr := owner + "@example.test"
			for _, ep := range suppressionEndpoints(addr) {
				if ep.op == "add" || ep.op == "delete all" || owner == a.user && (ep.op == "delete" || ep.op == "delete some") {
					continue // adding and deleting all below; deleting its own in the behaviour tests
				}
				c := call{method: ep.method, path: ep.path, as: a.as, obo: a.obo, body: ep.body}
				st, body := e.do(c)
				what := fmt.Sprintf("%s: %s about %s's address", a.name, ep.name, owner)
				switch {
				case a.user == "":
					if st != http.StatusNotFound {
						t.Errorf("%s: %d %v, want 404", what, st, body)
					}
				case ep.op == "list":
					got := ""
					for _, v := range body.([]any) {
						got += v.(map[string]any)["email"].(string) + " "
					}
					if want := e.listOf(a.user, ep.kind); got != want {
						t.Errorf("%s lists %q, want %s's own %q", what, got, a.user, want)
					}
				case ep.op == "get" && owner == a.user:
					if st != http.StatusOK || fmt.Sprint(body) == "[]" || fmt.Sprint(body) == "map[]" {
						t.Errorf("%s (its own): %d %v", what, st, body)
					}
				case ep.op == "get":
					if want := map[bool]string{true: "map[]", false: "[]"}[ep.kind == store.SuppressUnsubscribe]; st != http.StatusOK || fmt.Sprint(body) != want {
						t.Errorf("%s: %d %v, want %s as for an address on no list", what, st, body, want)
					}
				case ep.op == "delete" && owner != a.user:
					if st != http.StatusNotFound {
						t.Errorf("%s: %d %v, want 404", what, st, body)
					}
				case ep.op == "delete some" && owner != a.user:
					if st != http.StatusNoContent {
						t.Errorf("%s: %d %v, want 204 (nothing of its own to delete)", what, st, body)
					}
				}
				if owner != a.user && !e.listed(owner, ep.kind, addr) {
					t.Fatalf("%s took %s's entry off", what, owner)
				}
			}
		}
		// Adding puts the address on the own list only.
		fresh := "new-" + a.as + "-" + a.obo + "@example.test"
		st, body := e.do(call{method: "POST", path: "/v3/asm/suppressions/global", as: a.as, obo: a.obo,
			body: map[string]any{"recipient_emails": []string{fresh}}})
		for _, u := range users {
			if got, want := e.listed(u, store.SuppressUnsubscribe, fresh), u == a.user; got != want {
				t.Errorf("%s added %s (%d %v): on %s's list %v, want %v", a.name, fresh, st, body, u, got, want)
			}
		}
	}
	// delete_all empties the own list of that kind, no one else's.
	for _, a := range suppressionActors {
		seedAll()
		for _, l := range suppressionLists {
			st, body := e.do(call{method: "DELETE", path: "/v3/suppression/" + l.name, as: a.as, obo: a.obo, body: map[string]any{"delete_all": true}})
			if want := map[bool]int{true: 404, false: 204}[a.user == ""]; st != want {
				t.Errorf("%s deletes all %s: %d %v, want %d", a.name, l.name, st, body, want)
			}
			for _, u := range users {
				if got := e.listed(u, l.kind, u+"@example.test"); got == (u == a.user) {
					t.Errorf("%s deleted all %s: %s's entry there: %v", a.name, l.name, u, got)
				}
			}
		}
	}
}
