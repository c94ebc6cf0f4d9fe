package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

func testSenders(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	other := mustCreateUser(t, s, "beta", "")
	if err := s.AddSender(ctx, store.Sender{Address: "Me@Example.test", UserID: u.ID, CodeHash: []byte("h1"),
		ExpiresAt: base.Add(time.Hour), CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if usable(t, s, "me@example.test", u) {
		t.Fatal("verified before confirmation")
	}
	if _, err := s.ConfirmSender(ctx, []byte("h1"), base.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired code accepted: %v", err)
	}
	if _, err := s.ConfirmSender(ctx, []byte("nope"), base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	got, err := s.ConfirmSender(ctx, []byte("h1"), base.Add(time.Minute))
	if err != nil || !got.Verified || got.Address != "me@example.test" || got.UserName != "acme" {
		t.Fatalf("confirm %+v %v", got, err)
	}
	if _, err := s.ConfirmSender(ctx, []byte("h1"), base.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("code used twice: %v", err)
	}
	if !usable(t, s, "ME@example.test", u) {
		t.Fatal("not verified after confirmation")
	}
	if usable(t, s, "me@example.test", other) {
		t.Fatal("another user's sender")
	}
	if err := s.AddSender(ctx, store.Sender{Address: "ops@example.test", UserID: u.ID, Verified: true, ByOperator: true,
		VerifiedAt: base, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	list, _ := s.Senders(ctx, "acme")
	if len(list) != 2 || !list[1].ByOperator || !list[1].Verified {
		t.Fatalf("list %+v", list)
	}

	// Sharing: a subuser's sender, shared, is usable by its account and
	// its siblings, never by another account; a new code keeps the
	// sharing as it was.
	shop := mustCreateUser(t, s, "shop", "acme")
	news := mustCreateUser(t, s, "news", "acme")
	if err := s.AddSender(ctx, store.Sender{Address: "me@example.test", UserID: shop.ID, Verified: true, ByOperator: true,
		VerifiedAt: base, CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	byAddr, err := s.SendersByAddress(ctx, "Me@Example.TEST")
	if err != nil || len(byAddr) != 2 || byAddr[0].UserName != "acme" || byAddr[1].UserName != "shop" ||
		byAddr[0].AccountID != u.ID || byAddr[1].AccountID != u.ID || byAddr[1].Shared {
		t.Fatalf("SendersByAddress %+v %v", byAddr, err)
	}
	if usable(t, s, "ops@example.test", shop) {
		t.Fatal("a subuser uses its account's sender unshared")
	}
	if err := s.SetSenderShared(ctx, u.ID, "OPS@example.test", true); err != nil {
		t.Fatal(err)
	}
	if !usable(t, s, "ops@example.test", shop) || !usable(t, s, "ops@example.test", news) || usable(t, s, "ops@example.test", other) {
		t.Fatal("a shared sender: usable by the account's users, and by them only")
	}
	if err := s.AddSender(ctx, store.Sender{Address: "ops@example.test", UserID: u.ID, CodeHash: []byte("h2"),
		ExpiresAt: base.Add(time.Hour), CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if byAddr, _ := s.SendersByAddress(ctx, "ops@example.test"); len(byAddr) != 1 || !byAddr[0].Shared || byAddr[0].Verified {
		t.Fatalf("after a new code: %+v", byAddr)
	}
	if err := s.SetSenderShared(ctx, other.ID, "ops@example.test", true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("sharing a sender the user does not have: %v", err)
	}
	testSenderIDsAndProfile(t, s, u, other)
}

// testSenderIDsAndProfile: a sender has an ID that a new code keeps and
// no other sender shares; its profile stays unless a new one is given;
// DeleteSender removes the one user's sender only.
func testSenderIDsAndProfile(t *testing.T, s store.Store, u, other store.User) {
	ctx := context.Background()
	add := func(sd store.Sender) store.Sender {
		t.Helper()
		if err := s.AddSender(ctx, sd); err != nil {
			t.Fatal(err)
		}
		for _, got := range mustSenders(t, s, sd.Address) {
			if got.UserID == sd.UserID {
				return got
			}
		}
		t.Fatalf("%s not stored", sd.Address)
		return store.Sender{}
	}
	a := add(store.Sender{Address: "prof@example.test", UserID: u.ID, CodeHash: []byte("p1"), ExpiresAt: base.Add(time.Hour), CreatedAt: base,
		Nickname: "Orders", FromName: "Example Orders", ReplyTo: "help@example.test", ReplyToName: "Help"})
	b := add(store.Sender{Address: "prof@example.test", UserID: other.ID, CodeHash: []byte("p2"), ExpiresAt: base.Add(time.Hour), CreatedAt: base})
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID || a.Nickname != "Orders" || a.ReplyTo != "help@example.test" || a.ReplyToName != "Help" ||
		a.FromName != "Example Orders" || b.Nickname != "" {
		t.Fatalf("senders %+v %+v", a, b)
	}
	again := add(store.Sender{Address: "prof@example.test", UserID: u.ID, CodeHash: []byte("p3"), ExpiresAt: base.Add(time.Hour), CreatedAt: base,
		FromName: "New Name"})
	if again.ID != a.ID || again.Nickname != "Orders" || again.FromName != "New Name" || string(again.CodeHash) != "p3" {
		t.Fatalf("after a new code %+v (was %+v)", again, a)
	}
	got, err := s.SenderByID(ctx, a.ID)
	if err != nil || got.Address != "prof@example.test" || got.UserName != "acme" || got.FromName != "New Name" {
		t.Fatalf("SenderByID %+v %v", got, err)
	}
	if _, err := s.SenderByID(ctx, a.ID+b.ID+1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := s.DeleteSender(ctx, u.ID, "PROF@example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SenderByID(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted sender: %v", err)
	}
	if left := mustSenders(t, s, "prof@example.test"); len(left) != 1 || left[0].ID != b.ID {
		t.Fatalf("another user's sender of the address went too: %+v", left)
	}
	if err := s.DeleteSender(ctx, u.ID, "prof@example.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted twice: %v", err)
	}
	if c := add(store.Sender{Address: "prof@example.test", UserID: u.ID, CodeHash: []byte("p4"), ExpiresAt: base.Add(time.Hour), CreatedAt: base}); c.ID == a.ID || c.Nickname != "" {
		t.Fatalf("re-added after delete: %+v (deleted %d)", c, a.ID)
	}
}

func mustSenders(t *testing.T, s store.Store, address string) []store.Sender {
	t.Helper()
	list, err := s.SendersByAddress(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// usable reports whether u (of its account) may send as address by its
// single senders.
func usable(t *testing.T, s store.Store, address string, u store.User) bool {
	t.Helper()
	list, err := s.SendersByAddress(context.Background(), address)
	if err != nil {
		t.Fatal(err)
	}
	for _, sd := range list {
		if sd.UsableBy(u.ID, u.AccountID()) {
			return true
		}
	}
	return false
}
