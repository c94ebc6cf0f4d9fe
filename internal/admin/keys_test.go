package admin_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

func TestCreateKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	all := account.KnownScopes()
	tests := []struct {
		name   string
		actor  admin.Actor
		key    admin.NewKey
		check  func(error) bool
		user   string   // the created key's user
		scopes []string // and scopes
	}{
		{"operator", e.op("acme"), admin.NewKey{Name: "ci", Scopes: []string{"mail.send"}}, noErr, "acme", []string{"mail.send"}},
		{"operator full", e.op("acme"), admin.NewKey{Scopes: all}, noErr, "acme", all},
		{"operator no scopes: all", e.op("shop"), admin.NewKey{}, noErr, "shop", all},
		{"operator for no one", e.op(""), admin.NewKey{Scopes: []string{"mail.send"}}, invalidField("user"), "", nil},
		{"full key", e.key("acme", ""), admin.NewKey{Name: "x", Scopes: []string{"stats.read", "mail.send", "stats.read"}}, noErr, "acme", []string{"stats.read", "mail.send"}},
		{"no scopes: the key's own", e.key("acme", "", "api_keys.create", "stats.read"), admin.NewKey{}, noErr, "acme", []string{"api_keys.create", "stats.read"}},
		{"a scope the key lacks", e.key("acme", "", "api_keys.create", "mail.send"), admin.NewKey{Scopes: []string{"mail.send", "stats.read"}}, isErr(admin.ErrForbidden), "", nil},
		{"api_keys.create itself", e.key("acme", "", "api_keys.create"), admin.NewKey{Scopes: []string{"api_keys.create"}}, noErr, "acme", []string{"api_keys.create"}},
		{"without api_keys.create", e.key("acme", "", "mail.send", "api_keys.read"), admin.NewKey{Scopes: []string{"mail.send"}}, isErr(admin.ErrForbidden), "", nil},
		{"unknown scope", e.key("acme", ""), admin.NewKey{Scopes: []string{"mail.send", "alerts.create"}}, invalidField("scopes"), "", nil},
		{"empty scope", e.key("acme", ""), admin.NewKey{Scopes: []string{""}}, invalidField("scopes"), "", nil},
		{"long name", e.key("acme", ""), admin.NewKey{Name: strings.Repeat("n", 101)}, invalidField("name"), "", nil},
		{"control in name", e.key("acme", ""), admin.NewKey{Name: "a\r\nb"}, invalidField("name"), "", nil},
		{"bad UTF-8 name", e.key("acme", ""), admin.NewKey{Name: "a\xffb"}, invalidField("name"), "", nil},
		{"on behalf of a subuser", e.key("acme", "shop"), admin.NewKey{Name: "for shop", Scopes: []string{"mail.send"}}, noErr, "shop", []string{"mail.send"}},
		{"subuser", e.key("shop", ""), admin.NewKey{Scopes: []string{"mail.send"}}, noErr, "shop", []string{"mail.send"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := e.s.CreateKey(ctx, tc.actor, tc.key)
			if !tc.check(err) {
				t.Fatalf("CreateKey: %v", err)
			}
			if err != nil {
				return
			}
			if k.UserName != tc.user || !slices.Equal(k.Scopes, tc.scopes) || k.Name != tc.key.Name {
				t.Errorf("key = %s %q %q, want %s %q %q", k.UserName, k.Name, k.Scopes, tc.user, tc.key.Name, tc.scopes)
			}
			// The secret is the key: it authenticates, and the store has
			// the same record.
			got, err := e.accts.AuthenticateFor(ctx, account.Username, k.Secret, "")
			if err != nil || got.ID != k.ID || !slices.Equal(got.Scopes, tc.scopes) || got.UserName != tc.user {
				t.Errorf("the new key authenticates as %+v, %v", got, err)
			}
		})
	}
}

func TestCreateKeyLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.key("beta", "")
	for range admin.MaxKeys - 1 { // the actor's own key is the first
		if _, err := e.s.CreateKey(ctx, a, admin.NewKey{Scopes: []string{"mail.send"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.s.CreateKey(ctx, a, admin.NewKey{Scopes: []string{"mail.send"}}); !errors.Is(err, admin.ErrForbidden) {
		t.Fatalf("key %d: %v, want ErrForbidden", admin.MaxKeys+1, err)
	}
	// Another user's count is its own; a revoked key frees a place.
	if _, err := e.s.CreateKey(ctx, e.key("bsub", ""), admin.NewKey{Scopes: []string{"mail.send"}}); err != nil {
		t.Fatalf("bsub: %v", err)
	}
	keys, _ := e.s.ListKeys(ctx, a, admin.KeyFilter{})
	if err := e.s.RevokeKey(ctx, a, keys[len(keys)-1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateKey(ctx, a, admin.NewKey{Scopes: []string{"mail.send"}}); err != nil {
		t.Fatalf("after a revocation: %v", err)
	}
}

// Every key operation over the keys of each tenant, for each kind of
// actor: another tenant's key, and a subuser's without On-Behalf-Of, is
// not found, as a missing one is.
func TestKeyTenancy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	actors := e.keyActors()
	actors["operator"] = e.op("")
	// Which targets (by owner) each actor reaches.
	reach := map[string][]string{
		"acme":          {"acme"},
		"acme obo shop": {"shop"},
		"shop":          {"shop"},
		"beta":          {"beta"},
		"operator":      {"acme", "shop", "beta", "bsub"},
	}
	ops := []struct {
		name string
		do   func(a admin.Actor, id string) error
	}{
		{"get", func(a admin.Actor, id string) error { _, err := e.s.GetKey(ctx, a, id); return err }},
		{"rename", func(a admin.Actor, id string) error { _, err := e.s.RenameKey(ctx, a, id, "renamed"); return err }},
		{"update", func(a admin.Actor, id string) error {
			_, err := e.s.UpdateKey(ctx, a, id, "updated", []string{"mail.send"})
			return err
		}},
		{"revoke", func(a admin.Actor, id string) error { return e.s.RevokeKey(ctx, a, id) }},
	}
	for actorName, a := range actors {
		for _, op := range ops {
			for _, owner := range []string{"acme", "shop", "beta", "bsub"} {
				_, target := e.rawKey(owner)
				err := op.do(a, target.ID)
				want := slices.Contains(reach[actorName], owner)
				if want && err != nil || !want && !errors.Is(err, admin.ErrNotFound) {
					t.Errorf("%s %s %s's key: %v (reaches: %v)", actorName, op.name, owner, err, want)
				}
			}
			if err := op.do(a, "nosuchkeyaaaaaaa"); !errors.Is(err, admin.ErrNotFound) {
				t.Errorf("%s %s a missing key: %v", actorName, op.name, err)
			}
		}
		// The list holds only the reached users' keys.
		keys, err := e.s.ListKeys(ctx, a, admin.KeyFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if !slices.Contains(reach[actorName], k.UserName) {
				t.Errorf("%s lists %s's key %s", actorName, k.UserName, k.ID)
			}
		}
		if len(keys) == 0 {
			t.Errorf("%s lists no key", actorName)
		}
	}
	// Naming another tenant's user in the filter is not found, too.
	if _, err := e.s.ListKeys(ctx, actors["acme"], admin.KeyFilter{User: "beta"}); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("acme lists beta's keys: %v", err)
	}
	if _, err := e.s.ListKeys(ctx, actors["acme"], admin.KeyFilter{User: "shop"}); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("acme without On-Behalf-Of lists shop's keys: %v", err)
	}
	if _, err := e.s.ListKeys(ctx, actors["operator"], admin.KeyFilter{User: "nobody"}); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("operator lists nobody's keys: %v", err)
	}
}

func TestKeyScopesNeeded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, target := e.rawKey("acme")
	ops := []struct {
		scope string
		do    func(a admin.Actor) error
	}{
		{"api_keys.create", func(a admin.Actor) error {
			_, err := e.s.CreateKey(ctx, a, admin.NewKey{Scopes: []string{"mail.send"}})
			return err
		}},
		{"api_keys.read", func(a admin.Actor) error { _, err := e.s.ListKeys(ctx, a, admin.KeyFilter{}); return err }},
		{"api_keys.read", func(a admin.Actor) error { _, err := e.s.GetKey(ctx, a, target.ID); return err }},
		{"api_keys.update", func(a admin.Actor) error { _, err := e.s.RenameKey(ctx, a, target.ID, "r"); return err }},
		{"api_keys.update", func(a admin.Actor) error {
			_, err := e.s.UpdateKey(ctx, a, target.ID, "u", []string{"mail.send"})
			return err
		}},
		{"api_keys.delete", func(a admin.Actor) error { return e.s.RevokeKey(ctx, a, target.ID) }},
	}
	for _, op := range ops {
		var others []string
		for _, sc := range account.KnownScopes() {
			if sc != op.scope {
				others = append(others, sc)
			}
		}
		if err := op.do(e.key("acme", "", others...)); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("%s without it: %v, want ErrForbidden", op.scope, err)
		}
		if err := op.do(e.key("acme", "", op.scope, "mail.send")); err != nil {
			t.Errorf("%s with it: %v", op.scope, err)
		}
	}
}

func TestUpdateKeyTakesEffect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret, k := e.rawKey("acme", "mail.send")
	a := e.key("acme", "", "api_keys.update", "api_keys.read", "mail.send", "suppression.read")

	got, err := e.s.RenameKey(ctx, a, k.ID, "renamed")
	if err != nil || got.Name != "renamed" || !slices.Equal(got.Scopes, []string{"mail.send"}) {
		t.Fatalf("RenameKey = %+v, %v", got, err)
	}
	got, err = e.s.UpdateKey(ctx, a, k.ID, "reader", []string{"suppression.read", "suppression.read"})
	if err != nil || got.Name != "reader" || !slices.Equal(got.Scopes, []string{"suppression.read"}) {
		t.Fatalf("UpdateKey = %+v, %v", got, err)
	}
	if stored, _ := e.s.GetKey(ctx, a, k.ID); stored.Name != "reader" || !slices.Equal(stored.Scopes, []string{"suppression.read"}) {
		t.Errorf("stored: %+v", stored)
	}
	// At the next authentication: no longer a sender.
	if _, err := e.accts.Authenticate(ctx, account.Username, secret); !errors.Is(err, account.ErrScope) {
		t.Errorf("SMTP AUTH after losing mail.send: %v, want ErrScope", err)
	}
	for _, tc := range []struct {
		name   string
		key    string
		scopes []string
		check  func(error) bool
	}{
		{"grant what it lacks", "x", []string{"stats.read"}, isErr(admin.ErrForbidden)},
		{"no scopes", "x", nil, invalidField("scopes")},
		{"unknown scope", "x", []string{"nope"}, invalidField("scopes")},
		{"bad name", "a\x00", []string{"mail.send"}, invalidField("name")},
	} {
		if _, err := e.s.UpdateKey(ctx, a, k.ID, tc.key, tc.scopes); !tc.check(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := e.s.RenameKey(ctx, a, k.ID, strings.Repeat("x", 101)); !invalidField("name")(err) {
		t.Errorf("rename to a long name: %v", err)
	}
	if stored, _ := e.s.GetKey(ctx, a, k.ID); stored.Name != "reader" || !slices.Equal(stored.Scopes, []string{"suppression.read"}) {
		t.Errorf("a refused update changed the key: %+v", stored)
	}
}

func TestRevokeKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret, k := e.rawKey("acme")
	a := e.key("acme", "")
	if err := e.s.RevokeKey(ctx, a, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.accts.Authenticate(ctx, account.Username, secret); !errors.Is(err, account.ErrRevoked) {
		t.Errorf("AUTH with the revoked key: %v, want ErrRevoked", err)
	}
	// For a key a revoked key is gone; the operator still sees it, and
	// revoking it again is no error.
	if err := e.s.RevokeKey(ctx, a, k.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("key revokes twice: %v, want ErrNotFound", err)
	}
	if _, err := e.s.GetKey(ctx, a, k.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("key gets the revoked key: %v, want ErrNotFound", err)
	}
	keys, _ := e.s.ListKeys(ctx, a, admin.KeyFilter{})
	if slices.ContainsFunc(keys, func(x store.APIKey) bool { return x.ID == k.ID }) {
		t.Error("a key lists the revoked key")
	}
	if got, err := e.s.GetKey(ctx, e.op(""), k.ID); err != nil || got.RevokedAt.IsZero() {
		t.Errorf("operator gets the revoked key: %+v, %v", got, err)
	}
	if err := e.s.RevokeKey(ctx, e.op(""), k.ID); err != nil {
		t.Errorf("operator revokes twice: %v", err)
	}
	keys, _ = e.s.ListKeys(ctx, e.op(""), admin.KeyFilter{User: "acme"})
	if !slices.ContainsFunc(keys, func(x store.APIKey) bool { return x.ID == k.ID }) {
		t.Error("the operator's list lacks the revoked key")
	}
	// A whole key given as the id is not found, and not repeated.
	other, _ := e.rawKey("acme")
	if err := e.s.RevokeKey(ctx, a, other); !errors.Is(err, admin.ErrNotFound) || strings.Contains(err.Error(), other) {
		t.Errorf("revoke by the whole key: %v", err)
	}
}

func TestListKeysPaging(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.key("beta", "")
	var want []string
	for i := range 5 {
		e.now = e.now.Add(time.Second)
		k, err := e.s.CreateKey(ctx, a, admin.NewKey{Name: string(rune('a' + i)), Scopes: []string{"mail.send"}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, k.ID)
	}
	all, _ := e.s.ListKeys(ctx, a, admin.KeyFilter{})
	if len(all) != 6 { // the actor's own first
		t.Fatalf("ListKeys: %d keys", len(all))
	}
	for _, tc := range []struct {
		limit, offset int
		want          []string
	}{
		{2, 1, want[:2]},
		{0, 4, want[3:]},
		{10, 6, nil},
	} {
		got, err := e.s.ListKeys(ctx, a, admin.KeyFilter{Limit: tc.limit, Offset: tc.offset})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range got {
			ids = append(ids, k.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("limit %d offset %d: %v, want %v", tc.limit, tc.offset, ids, tc.want)
		}
	}
	if _, err := e.s.ListKeys(ctx, a, admin.KeyFilter{Limit: -1}); !invalidField("limit")(err) {
		t.Errorf("negative limit: %v", err)
	}
}

func TestParseScopes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"full", account.KnownScopes(), true},
		{" full ", account.KnownScopes(), true},
		{"", []string{"mail.send"}, true},
		{"mail.send, stats.read", []string{"mail.send", "stats.read"}, true},
		{"full,mail.send", nil, false},
		{"bogus", nil, false},
	} {
		got, err := admin.ParseScopes(tc.in)
		if (err == nil) != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("ParseScopes(%q) = %q, %v", tc.in, got, err)
		}
	}
}
