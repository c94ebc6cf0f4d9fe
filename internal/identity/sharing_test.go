package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/store"
)

// TestSenderSharing: a shared single sender is usable by every user of
// its owner's account, as a shared domain is, and by no other account;
// unsharing takes that back.
func TestSenderSharing(t *testing.T) {
	tn := newTenants(t)
	ctx := context.Background()
	tn.sender(t, "ops@mailbox.test", tn.acme)
	tn.sender(t, "shop@mailbox.test", tn.shop)
	for _, sh := range []struct {
		owner store.User
		addr  string
	}{{tn.acme, "ops@mailbox.test"}, {tn.shop, "shop@mailbox.test"}} {
		if err := tn.st.SetSenderShared(ctx, sh.owner.ID, sh.addr, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []store.User{tn.acme, tn.shop, tn.news} {
		for _, addr := range []string{"ops@mailbox.test", "shop@mailbox.test"} {
			if !tn.may(t, u, addr) {
				t.Errorf("%s may not send as the shared %s", u.Name, addr)
			}
		}
	}
	if tn.may(t, tn.beta, "ops@mailbox.test") || tn.may(t, tn.beta, "shop@mailbox.test") {
		t.Error("another account uses a shared sender")
	}
	if err := tn.st.SetSenderShared(ctx, tn.acme.ID, "ops@mailbox.test", false); err != nil {
		t.Fatal(err)
	}
	if tn.may(t, tn.shop, "ops@mailbox.test") || !tn.may(t, tn.acme, "ops@mailbox.test") {
		t.Error("unsharing: only the owner again")
	}
}

// CheckSingleSender refuses what CheckAddress would not honour, before a
// confirmation is mailed.
func TestCheckSingleSender(t *testing.T) {
	tn := newTenants(t)
	tn.domain(t, "acme.test", tn.acme, store.DomainVerified, false)
	tn.domain(t, "common.test", tn.acme, store.DomainVerified, true)
	tn.domain(t, "claimed.test", tn.beta, store.DomainPending, false)
	for _, c := range []struct {
		who     store.User
		addr    string
		refused bool
	}{
		{tn.beta, "ceo@acme.test", true},
		{tn.beta, "CEO@ACME.TEST", true},
		{tn.shop, "ceo@acme.test", true},     // the account's, not shared
		{tn.shop, "ceo@common.test", false},  // shared with it: allowed, and changes nothing
		{tn.beta, "ceo@common.test", true},   // shared within acme only
		{tn.acme, "ceo@acme.test", false},    // its own
		{tn.acme, "ceo@claimed.test", false}, // claimed by beta, not proven
		{tn.beta, "me@mailbox.test", false},
		{tn.beta, "ceo@news.acme.test", true},  // below another tenant's domain
		{tn.acme, "ceo@news.acme.test", false}, // below its own
		{tn.shop, "ceo@x.common.test", false},  // below one shared with it
		{tn.beta, "ceo@x.claimed.test", false}, // below a claim, not proven
	} {
		err := identity.CheckSingleSender(context.Background(), tn.st, c.who, c.addr)
		var od *identity.OthersDomain
		if got := errors.As(err, &od); got != c.refused || (err != nil && !got) {
			t.Errorf("%s asking for %s: %v, want refused=%v", c.who.Name, c.addr, err, c.refused)
		}
		if od != nil && (!errors.Is(err, identity.ErrOthersDomain) || strings.Contains(err.Error(), "acme ") || od.Domain == "") {
			t.Errorf("refusal %q", err)
		}
	}
}
