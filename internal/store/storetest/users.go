package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// The user and key management of UserKeyStore.

func testUserProfile(t *testing.T, s store.Store) {
	ctx := context.Background()
	acme, err := s.AddUser(ctx, store.NewUser{Name: "acme", CreatedAt: base})
	if err != nil {
		t.Fatal(err)
	}
	checkTime(t, "acme CreatedAt", acme.CreatedAt, stored(base))
	hash := []byte("$2a$12$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234")
	shop, err := s.AddUser(ctx, store.NewUser{Name: "shop", Parent: "acme", Email: "ops@shop.example", PasswordHash: hash, CreatedAt: base})
	if err != nil {
		t.Fatal(err)
	}
	if shop.ParentID != acme.ID || shop.Email != "ops@shop.example" {
		t.Errorf("AddUser = %+v", shop)
	}
	got, err := s.UserByName(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	checkUser(t, got, shop)
	if got.Email != "ops@shop.example" {
		t.Errorf("UserByName Email = %q", got.Email)
	}
	if h, err := s.PasswordHash(ctx, "shop"); err != nil || !bytes.Equal(h, hash) {
		t.Errorf("PasswordHash(shop) = %q, %v", h, err)
	}
	if h, err := s.PasswordHash(ctx, "acme"); err != nil || h != nil {
		t.Errorf("PasswordHash(acme) = %q, %v; want nil, nil", h, err)
	}
	if _, err := s.PasswordHash(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PasswordHash(nobody) error = %v, want ErrNotFound", err)
	}
	for _, bad := range []store.NewUser{
		{Name: "shop", Parent: "acme"},       // taken
		{Name: "x", Parent: "nobody"},        // no parent
		{Name: "sub-of-sub", Parent: "shop"}, // a subuser's subuser
		{Name: ""},
	} {
		if _, err := s.AddUser(ctx, bad); err == nil {
			t.Errorf("AddUser(%+v) succeeded", bad)
		}
	}
	if _, err := s.AddUser(ctx, store.NewUser{Name: "shop"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddUser(taken) error = %v, want ErrExists", err)
	}

	mustCreateUser(t, s, "beta", "")
	mustCreateUser(t, s, "bsub", "beta")
	mustCreateUser(t, s, "alpha", "acme")
	subs, err := s.Subusers(ctx, acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range subs {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"alpha", "shop"}) {
		t.Errorf("Subusers(acme) = %q, want [alpha shop]", names)
	}
	if subs, err := s.Subusers(ctx, shop.ID); err != nil || subs == nil || len(subs) != 0 {
		t.Errorf("Subusers(shop) = %v, %v; want an empty list", subs, err)
	}
}

func testDeleteUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, "acme", "")
	shop := mustCreateUser(t, s, "shop", "acme")
	beta := mustCreateUser(t, s, "beta", "")
	mustCreateUser(t, s, "bsub", "beta")
	early := base.Add(-time.Hour)
	keys := []store.APIKey{
		{ID: "k1", UserID: shop.ID, Name: "one", Scopes: []string{"mail.send"}, Hash: []byte("1"), CreatedAt: base},
		{ID: "k2", UserID: shop.ID, Name: "two", Scopes: []string{"mail.send"}, Hash: []byte("2"), CreatedAt: base, RevokedAt: early},
		{ID: "k3", UserID: beta.ID, Name: "beta", Scopes: []string{"mail.send"}, Hash: []byte("3"), CreatedAt: base},
	}
	for _, k := range keys {
		mustCreateKey(t, s, k)
	}
	if err := s.EnqueueBatch(ctx, []store.NewMessage{{ID: "m1", UserID: shop.ID, KeyID: "k1", From: "a@shop.example",
		Recipients: []string{"x@example.com"}, Body: []byte("Subject: x\r\n\r\nx\r\n"), CreatedAt: base}}); err != nil {
		t.Fatal(err)
	}

	at := base.Add(time.Hour)
	if err := s.DeleteUser(ctx, "shop", at); err != nil {
		t.Fatalf("DeleteUser(shop): %v", err)
	}
	if _, err := s.UserByName(ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByName(deleted) error = %v, want ErrNotFound", err)
	}
	if _, err := s.APIKeys(ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("APIKeys(deleted) error = %v, want ErrNotFound", err)
	}
	if _, err := s.PasswordHash(ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PasswordHash(deleted) error = %v, want ErrNotFound", err)
	}
	users, _ := s.Users(ctx)
	for _, u := range users {
		if u.Name == "shop" {
			t.Error("Users lists the deleted user")
		}
	}
	acme, _ := s.UserByName(ctx, "acme")
	if subs, _ := s.Subusers(ctx, acme.ID); len(subs) != 0 {
		t.Errorf("Subusers lists the deleted user: %v", subs)
	}
	// Its keys are revoked in the same change, a key revoked before keeps
	// its time, another user's is untouched.
	for id, want := range map[string]time.Time{"k1": at, "k2": early, "k3": {}} {
		k, err := s.APIKey(ctx, id)
		if err != nil {
			t.Fatalf("APIKey(%s): %v", id, err)
		}
		checkTime(t, "key "+id+" RevokedAt", k.RevokedAt, stored(want))
	}
	// What names it keeps the name; the name stays taken.
	if m, err := s.Message(ctx, "m1"); err != nil || m.UserName != "shop" {
		t.Errorf("Message of the deleted user = %+v, %v", m, err)
	}
	if _, err := s.CreateUser(ctx, "shop", "acme"); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateUser(deleted name) error = %v, want ErrExists", err)
	}
	if err := s.DeleteUser(ctx, "shop", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteUser twice: error = %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, "nobody", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteUser(unknown) error = %v, want ErrNotFound", err)
	}
	// An account with a live subuser is not deleted.
	if err := s.DeleteUser(ctx, "beta", at); err == nil {
		t.Error("DeleteUser(account with a subuser) succeeded")
	}
	if _, err := s.UserByName(ctx, "beta"); err != nil {
		t.Errorf("beta after a refused delete: %v", err)
	}
	if k, _ := s.APIKey(ctx, "k3"); k.Revoked() {
		t.Error("a refused delete revoked the account's key")
	}
}

func testUserSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, "acme", "")
	hide, spam := true, 4.5
	if err := s.UpdateUserSettings(ctx, "acme", store.UserSettings{HideOriginatingIP: &hide, SpamThreshold: &spam}); err != nil {
		t.Fatal(err)
	}
	u, _ := s.UserByName(ctx, "acme")
	if !u.HideOriginatingIP || u.SpamThreshold != 4.5 {
		t.Errorf("after both settings: %+v", u)
	}
	hide = false
	if err := s.UpdateUserSettings(ctx, "acme", store.UserSettings{HideOriginatingIP: &hide}); err != nil {
		t.Fatal(err)
	}
	if u, _ = s.UserByName(ctx, "acme"); u.HideOriginatingIP || u.SpamThreshold != 4.5 {
		t.Errorf("one setting changed the other: %+v", u)
	}
	if u.ListUnsubscribe {
		t.Errorf("list_unsubscribe is on by default: %+v", u)
	}
	unsub := true
	if err := s.UpdateUserSettings(ctx, "acme", store.UserSettings{ListUnsubscribe: &unsub}); err != nil {
		t.Fatal(err)
	}
	if u, _ = s.UserByName(ctx, "acme"); !u.ListUnsubscribe || u.HideOriginatingIP || u.SpamThreshold != 4.5 {
		t.Errorf("after list_unsubscribe on: %+v", u)
	}
	if users, _ := s.Users(ctx); len(users) != 1 || !users[0].ListUnsubscribe {
		t.Errorf("Users after list_unsubscribe on: %+v", users)
	}
	unsub = false
	if err := s.UpdateUserSettings(ctx, "acme", store.UserSettings{ListUnsubscribe: &unsub}); err != nil {
		t.Fatal(err)
	}
	if u, _ = s.UserByName(ctx, "acme"); u.ListUnsubscribe {
		t.Errorf("after list_unsubscribe off: %+v", u)
	}
	if err := s.UpdateUserSettings(ctx, "nobody", store.UserSettings{SpamThreshold: &spam}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateUserSettings(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.UpdateUserSettings(ctx, "acme", store.UserSettings{}); err == nil {
		t.Error("UpdateUserSettings with nothing to set succeeded")
	}
}

func testAPIKeyUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	k := store.APIKey{ID: "k1", UserID: u.ID, UserName: u.Name, Name: "old", Scopes: []string{"mail.send"}, Hash: binaryHash(), CreatedAt: base}
	mustCreateKey(t, s, k)
	if err := s.RenameAPIKey(ctx, "k1", "new name"); err != nil {
		t.Fatal(err)
	}
	k.Name = "new name"
	got, _ := s.APIKey(ctx, "k1")
	checkKey(t, got, k)
	if err := s.SetAPIKey(ctx, "k1", "scoped", []string{"stats.read", "api_keys.read"}); err != nil {
		t.Fatal(err)
	}
	k.Name, k.Scopes = "scoped", []string{"stats.read", "api_keys.read"}
	got, _ = s.APIKey(ctx, "k1")
	checkKey(t, got, k)
	if err := s.SetAPIKey(ctx, "k1", "x", []string{"a,b"}); err == nil {
		t.Error("SetAPIKey with a comma in a scope succeeded")
	}
	if err := s.RenameAPIKey(ctx, "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RenameAPIKey(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.SetAPIKey(ctx, "nope", "x", []string{"mail.send"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetAPIKey(unknown) error = %v, want ErrNotFound", err)
	}
}
