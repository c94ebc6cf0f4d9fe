package identity_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

func TestFromDomain(t *testing.T) {
	cases := map[string]string{
		"From: a@Example.TEST\r\n\r\nx":             "example.test",
		"From: \"A, B\" <a@b.test>\r\n\r\nx":        "b.test",
		"From: a@b.test, c@d.test\r\n\r\nx":         "", // several authors
		"From: a@b.test\r\nFrom: c@d.test\r\n\r\nx": "", // several From fields
		"Subject: none\r\n\r\nx":                    "",
		"From: not an address\r\n\r\nx":             "",
	}
	for in, want := range cases {
		if got := identity.FromDomain([]byte(in)); got != want {
			t.Errorf("FromDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// Subusers sign for their own domains and for those shared within their
// account; never for a sibling's or the account's unshared ones; and
// nobody signs for a domain not yet verified.
func TestSignScope(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/i.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acme, _ := st.CreateUser(ctx, "acme", "")
	shop, _ := st.CreateUser(ctx, "shop", "acme")
	news, _ := st.CreateUser(ctx, "news", "acme")
	add := func(name string, owner store.User, state store.DomainState, shared bool) {
		rk, ek, err := domain.GenerateKeys(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rp, _ := domain.MarshalPrivateKey(rk)
		ep, _ := domain.MarshalPrivateKey(ek)
		if err := st.AddDomain(ctx, store.Domain{Name: name, UserID: owner.ID, State: state, RSASelector: "r",
			RSAKey: rp, EdSelector: "e", EdKey: ep, CreatedAt: time.Now(), Shared: shared}); err != nil {
			t.Fatal(err)
		}
	}
	add("acme.test", acme, store.DomainVerified, true)
	add("private.test", acme, store.DomainVerified, false)
	add("shop.test", shop, store.DomainVerified, false)
	add("common.test", shop, store.DomainVerified, true)
	add("pending.test", shop, store.DomainPending, false)
	add("trusted.test", news, store.DomainTrusted, false)
	s := &identity.Signer{Store: st}
	as := func(u store.User) account.Principal { return account.Principal{User: u, Account: acme} }
	cases := []struct {
		who    account.Principal
		from   string
		signed bool
	}{
		{as(shop), "shop.test", true},
		{as(shop), "acme.test", true},     // the account's, shared
		{as(shop), "private.test", false}, // the account's, not shared
		{as(acme), "private.test", true},
		{as(news), "shop.test", false},  // a sibling's
		{as(acme), "shop.test", false},  // a subuser's unshared domain is its own
		{as(news), "common.test", true}, // a sibling's, shared within the account
		{as(acme), "common.test", true},
		{as(shop), "pending.test", false},
		{as(news), "trusted.test", true}, // operator-verified
		{as(shop), "unknown.test", false},
	}
	for _, tc := range cases {
		msg := []byte("From: x@" + tc.from + "\r\nSubject: s\r\n\r\nbody\r\n")
		h, err := message.ParseHeader(msg)
		if err != nil {
			t.Fatal(err)
		}
		out, dom, err := s.Sign(ctx, tc.who, msg, h)
		if err != nil {
			t.Fatal(err)
		}
		got := bytes.Contains(out, []byte("DKIM-Signature:"))
		if got != tc.signed || (got && dom != tc.from) {
			t.Errorf("%s sending as %s: signed=%v (%q), want %v", tc.who.User.Name, tc.from, got, dom, tc.signed)
		}
		if !got && !bytes.Equal(out, msg) {
			t.Errorf("%s: unsigned message changed", tc.from)
		}
	}
}
