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
