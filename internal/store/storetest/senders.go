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
	if ok, _ := s.SenderVerified(ctx, "me@example.test", u.ID); ok {
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
	if ok, _ := s.SenderVerified(ctx, "ME@example.test", other.ID, u.ID); !ok {
		t.Fatal("not verified after confirmation")
	}
	if ok, _ := s.SenderVerified(ctx, "me@example.test", other.ID); ok {
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
}
