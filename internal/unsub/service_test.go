package unsub_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/unsub"
)

const msgID = "0g2r4t6v8a0c2e4g6i8k0m2o4q"

type fixture struct {
	st       store.Store
	svc      *unsub.Service
	codec    unsub.Codec
	acme     store.User
	shop     store.User
	now      time.Time
	tok, bad string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "u.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		codec: unsub.Codec{Key: []byte("an installation secret of 32 b.")}}
	f.acme, _ = st.CreateUser(ctx, "acme", "")
	f.shop, _ = st.CreateUser(ctx, "shop", "acme")
	if err := st.EnqueueBatch(ctx, []store.NewMessage{{ID: msgID, UserID: f.shop.ID, From: "app@shop.test",
		Recipients: []string{"Alice@Rcpt.test"}, Body: []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: f.now}}); err != nil {
		t.Fatal(err)
	}
	f.svc = &unsub.Service{Codec: f.codec, Store: st, Now: func() time.Time { return f.now }}
	if f.tok, err = f.codec.Encode(unsub.Token{UserID: f.shop.ID, MessageID: msgID, Recipient: "Alice@Rcpt.test"}); err != nil {
		t.Fatal(err)
	}
	f.bad = f.tok[:len(f.tok)-2] + "AA"
	return f
}

func (f *fixture) unsubscribes(t *testing.T) ([]store.Suppression, int) {
	t.Helper()
	ctx := context.Background()
	sup, err := f.st.FindSuppressions(ctx, store.SuppressionFilter{UserID: f.shop.ID})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.st.Events(ctx, msgID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == store.EventUnsubscribe {
			n++
			if e.Recipient != "Alice@Rcpt.test" || e.Detail != unsub.Reason {
				t.Errorf("event %+v", e)
			}
		}
	}
	return sup, n
}

func TestCheckChangesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	got, err := f.svc.Check(ctx, f.tok)
	if err != nil || got.UserID != f.shop.ID || got.MessageID != msgID {
		t.Fatalf("Check = %+v, %v", got, err)
	}
	if sup, n := f.unsubscribes(t); len(sup) != 0 || n != 0 {
		t.Errorf("Check recorded: %v, %d events", sup, n)
	}
}

func TestUnsubscribeOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	o, err := f.svc.Unsubscribe(ctx, f.tok)
	if err != nil || o.Already {
		t.Fatalf("first Unsubscribe = %+v, %v", o, err)
	}
	sup, n := f.unsubscribes(t)
	if len(sup) != 1 || sup[0].Address != "alice@rcpt.test" || sup[0].Kind != store.SuppressUnsubscribe || n != 1 {
		t.Fatalf("after the first: %+v, %d events", sup, n)
	}
	// Delivery now drops the address for shop, and only for shop.
	if s, _ := f.st.Suppressed(ctx, f.shop.ID, []string{"alice@rcpt.test"}); len(s) != 1 {
		t.Errorf("Suppressed for shop: %v", s)
	}
	if s, _ := f.st.Suppressed(ctx, f.acme.ID, []string{"alice@rcpt.test"}); len(s) != 0 {
		t.Errorf("Suppressed for acme: %v", s)
	}
	o, err = f.svc.Unsubscribe(ctx, f.tok)
	if err != nil || !o.Already {
		t.Fatalf("second Unsubscribe = %+v, %v", o, err)
	}
	if sup, n := f.unsubscribes(t); len(sup) != 1 || n != 1 {
		t.Errorf("after the second: %+v, %d events", sup, n)
	}
	// Resubscribed (the user removed the entry), a new click counts again.
	if err := f.st.RemoveSuppression(ctx, f.shop.ID, "alice@rcpt.test"); err != nil {
		t.Fatal(err)
	}
	if o, err := f.svc.Unsubscribe(ctx, f.tok); err != nil || o.Already {
		t.Fatalf("after resubscription: %+v, %v", o, err)
	}
	if sup, n := f.unsubscribes(t); len(sup) != 1 || n != 2 {
		t.Errorf("after resubscription: %+v, %d events", sup, n)
	}
}

func TestRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := func(tk unsub.Token) string {
		s, err := f.codec.Encode(tk)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for name, tok := range map[string]string{
		"altered":       f.bad,
		"truncated":     f.tok[:40],
		"empty":         "",
		"unknown msg":   other(unsub.Token{UserID: f.shop.ID, MessageID: "0000000000000000000000000a", Recipient: "alice@rcpt.test"}),
		"another owner": other(unsub.Token{UserID: f.acme.ID, MessageID: msgID, Recipient: "alice@rcpt.test"}),
	} {
		if _, err := f.svc.Check(ctx, tok); !errors.Is(err, unsub.ErrInvalid) {
			t.Errorf("%s: Check error %v, want ErrInvalid", name, err)
		}
		if _, err := f.svc.Unsubscribe(ctx, tok); !errors.Is(err, unsub.ErrInvalid) {
			t.Errorf("%s: Unsubscribe error %v, want ErrInvalid", name, err)
		}
	}
	if sup, n := f.unsubscribes(t); len(sup) != 0 || n != 0 {
		t.Errorf("refused tokens recorded: %v, %d events", sup, n)
	}
}
