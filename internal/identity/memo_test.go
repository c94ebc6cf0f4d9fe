package identity_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/store"
)

// countingStore counts the domain lookups that reach the store.
type countingStore struct {
	store.Store
	domains atomic.Int32
}

func (c *countingStore) Domain(ctx context.Context, name string) (store.Domain, error) {
	c.domains.Add(1)
	return c.Store.Domain(ctx, name)
}

// Under identity.ForMessage, a message's From check and its signature
// ask the store for the domain once; each message asks again, and so sees
// a domain deleted in between.
func TestForMessageLooksUpOnce(t *testing.T) {
	e := newKeyEnv(t)
	e.add("acme.test")
	cs := &countingStore{Store: e.st}
	s := &identity.Signer{Store: cs}
	p := account.Principal{User: e.user, Account: e.user}
	msg := []byte("From: a@acme.test\r\nSender: b@acme.test\r\nSubject: s\r\n\r\nbody\r\n")
	h, err := message.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	commit := func() string {
		t.Helper()
		ctx := identity.ForMessage(context.Background())
		if err := s.CheckHeaders(ctx, p, h); err != nil {
			t.Fatal(err)
		}
		_, dom, err := s.Sign(ctx, p, msg, h)
		if err != nil {
			t.Fatal(err)
		}
		return dom
	}
	if dom := commit(); dom != "acme.test" || cs.domains.Load() != 1 {
		t.Fatalf("signed for %q with %d lookups, want acme.test with 1", dom, cs.domains.Load())
	}
	if dom := commit(); dom != "acme.test" || cs.domains.Load() != 2 {
		t.Fatalf("second message: %q, %d lookups in all, want 2", dom, cs.domains.Load())
	}
	// Without the memo, each asks.
	ctx := context.Background()
	if err := s.CheckHeaders(ctx, p, h); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Sign(ctx, p, msg, h); err != nil {
		t.Fatal(err)
	}
	if n := cs.domains.Load(); n != 5 {
		t.Fatalf("%d lookups in all, want 5", n)
	}
	if err := e.st.DeleteDomain(ctx, "acme.test"); err != nil {
		t.Fatal(err)
	}
	mctx := identity.ForMessage(ctx)
	if err := s.CheckHeaders(mctx, p, h); err == nil {
		t.Fatal("a deleted domain passed the From check")
	}
	if _, dom, err := s.Sign(mctx, p, msg, h); err != nil || dom != "" {
		t.Fatalf("a deleted domain: signed for %q, %v", dom, err)
	}
}
