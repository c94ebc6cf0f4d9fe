package identity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

// tenants is a store with two accounts: acme (subusers shop and news) and
// beta, and a checker over it.
type tenants struct {
	st                     *sqlite.DB
	s                      *identity.Signer
	acme, shop, news, beta store.User
}

func newTenants(t *testing.T) *tenants {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/i.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tn := &tenants{st: st, s: &identity.Signer{Store: st}}
	for _, u := range []struct {
		p            *store.User
		name, parent string
	}{{&tn.acme, "acme", ""}, {&tn.shop, "shop", "acme"}, {&tn.news, "news", "acme"}, {&tn.beta, "beta", ""}} {
		if *u.p, err = st.CreateUser(ctx, u.name, u.parent); err != nil {
			t.Fatal(err)
		}
	}
	return tn
}

// principal is u sending, as account.Admit makes it.
func (tn *tenants) principal(u store.User) account.Principal {
	p := account.Principal{User: u, Account: u}
	if u.ParentID != 0 {
		p.Account = tn.acme
	}
	return p
}

func (tn *tenants) domain(t *testing.T, name string, owner store.User, state store.DomainState, shared bool) {
	t.Helper()
	if err := tn.st.AddDomain(context.Background(), store.Domain{Name: name, UserID: owner.ID, State: state,
		CreatedAt: time.Now(), Shared: shared}); err != nil {
		t.Fatal(err)
	}
}

// sender stores addr as a verified single sender of u: confirmed before
// the rule below existed, or vouched for by the operator.
func (tn *tenants) sender(t *testing.T, addr string, u store.User) {
	t.Helper()
	now := time.Now()
	if err := tn.st.AddSender(context.Background(), store.Sender{Address: addr, UserID: u.ID, Verified: true,
		ByOperator: true, VerifiedAt: now, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// may reports whether u may send as addr, failing on an error that is
// not a refusal.
func (tn *tenants) may(t *testing.T, u store.User, addr string) bool {
	t.Helper()
	err := tn.s.CheckAddress(context.Background(), tn.principal(u), "From", addr)
	if err != nil && !errors.Is(err, identity.ErrUnverified) {
		t.Fatalf("%s as %s: %v", u.Name, addr, err)
	}
	return err == nil
}

// TestFinding10SingleSenderOnOtherTenantsDomainRefused (issue 12,
// finding 10): a single sender does not let a user send as an address on
// a domain that another tenant has authenticated, or that a sibling has
// not shared: the domain's rule decides. Before anyone authenticates the
// domain, the single sender still counts.
func TestFinding10SingleSenderOnOtherTenantsDomainRefused(t *testing.T) {
	tn := newTenants(t)
	tn.domain(t, "acme.test", tn.acme, store.DomainVerified, false)
	tn.domain(t, "trusted.test", tn.acme, store.DomainTrusted, false)
	tn.domain(t, "shop.test", tn.shop, store.DomainVerified, false)
	tn.domain(t, "claimed.test", tn.acme, store.DomainPending, false)
	for _, addr := range []string{"ceo@acme.test", "ceo@trusted.test", "ceo@shop.test", "ceo@claimed.test", "me@mailbox.test",
		"ceo@mail.acme.test", "ceo@a.b.acme.test"} {
		tn.sender(t, addr, tn.beta)
	}
	tn.sender(t, "owner@shop.test", tn.news)
	for _, c := range []struct {
		who  store.User
		addr string
		want bool
	}{
		{tn.beta, "ceo@acme.test", false},      // another tenant's verified domain
		{tn.beta, "ceo@trusted.test", false},   // … or one the operator vouched for
		{tn.beta, "ceo@shop.test", false},      // … a subuser's of another tenant
		{tn.news, "owner@shop.test", false},    // a sibling's domain, not shared
		{tn.beta, "ceo@claimed.test", true},    // claimed, not authenticated: the mailbox proof stands
		{tn.beta, "me@mailbox.test", true},     // nobody's domain
		{tn.beta, "ceo@mail.acme.test", false}, // below another tenant's domain
		{tn.beta, "ceo@a.b.acme.test", false},  // … however deep
		{tn.acme, "ceo@acme.test", true},       // the owner, by the domain
	} {
		if got := tn.may(t, c.who, c.addr); got != c.want {
			t.Errorf("%s sending as %s: allowed=%v, want %v", c.who.Name, c.addr, got, c.want)
		}
	}
}

// TestFinding10SubuserDoesNotInheritSenders (issue 12, finding 10): a
// single sender is its user's; a subuser does not inherit its account's,
// nor the account a subuser's, nor a sibling a sibling's (sharing is
// TestSenderSharing's).
func TestFinding10SubuserDoesNotInheritSenders(t *testing.T) {
	tn := newTenants(t)
	tn.sender(t, "ops@mailbox.test", tn.acme)
	tn.sender(t, "shop@mailbox.test", tn.shop)
	for _, c := range []struct {
		who  store.User
		addr string
		want bool
	}{
		{tn.acme, "ops@mailbox.test", true},
		{tn.shop, "ops@mailbox.test", false}, // the account's
		{tn.news, "ops@mailbox.test", false},
		{tn.shop, "shop@mailbox.test", true},
		{tn.acme, "shop@mailbox.test", false}, // a subuser's
		{tn.news, "shop@mailbox.test", false}, // a sibling's
		{tn.beta, "ops@mailbox.test", false},  // another tenant's
	} {
		if got := tn.may(t, c.who, c.addr); got != c.want {
			t.Errorf("%s sending as %s: allowed=%v, want %v", c.who.Name, c.addr, got, c.want)
		}
	}
}
