package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

func testSuspendAndPrivacy(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, "acme", "")
	if err := s.SetSuspended(ctx, "acme", base, "spam complaints"); err != nil {
		t.Fatal(err)
	}
	u, _ := s.UserByName(ctx, "acme")
	if !u.Suspended() || u.SuspendReason != "spam complaints" {
		t.Fatalf("after suspend: %+v", u)
	}
	checkTime(t, "SuspendedAt", u.SuspendedAt, stored(base))
	if err := s.SetSuspended(ctx, "acme", time.Time{}, "ignored"); err != nil {
		t.Fatal(err)
	}
	if u, _ = s.UserByName(ctx, "acme"); u.Suspended() || u.SuspendReason != "" {
		t.Fatalf("after resume: %+v", u)
	}
	if err := s.SetHideOriginatingIP(ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
	if u, _ = s.UserByName(ctx, "acme"); !u.HideOriginatingIP {
		t.Fatal("privacy switch not stored")
	}
	if err := s.SetSpamThreshold(ctx, "acme", 3.5); err != nil {
		t.Fatal(err)
	}
	if u, _ = s.UserByName(ctx, "acme"); u.SpamThreshold != 3.5 {
		t.Fatalf("spam threshold %v", u.SpamThreshold)
	}
	if err := s.SetSuspended(ctx, "nobody", base, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("suspend unknown: %v", err)
	}
	if err := s.SetHideOriginatingIP(ctx, "nobody", true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("privacy of unknown: %v", err)
	}
}

func testAllowedIPs(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, "acme", "")
	b := mustCreateUser(t, s, "beta", "")
	for _, p := range []string{"192.0.2.0/24", "2001:db8::/48"} {
		if err := s.AddAllowedIP(ctx, a.ID, p, base); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddAllowedIP(ctx, a.ID, "192.0.2.0/24", base); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	got, err := s.AllowedIPs(ctx, a.ID)
	if err != nil || strings.Join(got, ",") != "192.0.2.0/24,2001:db8::/48" {
		t.Fatalf("list %v %v", got, err)
	}
	if got, _ := s.AllowedIPs(ctx, b.ID); len(got) != 0 {
		t.Fatalf("lists are per account: %v", got)
	}
	if err := s.RemoveAllowedIP(ctx, a.ID, "192.0.2.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveAllowedIP(ctx, a.ID, "192.0.2.0/24"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	// A key's own list round-trips.
	k := store.APIKey{ID: "k1", UserID: a.ID, Name: "n", Scopes: []string{"mail.send"}, Hash: []byte{1}, CreatedAt: base,
		AllowIPs: []string{"198.51.100.7/32", "::1/128"}}
	mustCreateKey(t, s, k)
	got2, _ := s.APIKey(ctx, "k1")
	if strings.Join(got2.AllowIPs, ",") != "198.51.100.7/32,::1/128" {
		t.Fatalf("key allow list %v", got2.AllowIPs)
	}
}
