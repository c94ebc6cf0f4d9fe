package admin_test

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/testenv"
)

// env is the admin service of every test here: a real SQLite store, the
// account service and an admin.Service with the installation's config
// (host mail.postern.test) and the store's queue for confirmation mails,
// over two tenants:
//
//	acme with its subuser shop
//	beta with its subuser bsub
//
// Time stands still at now (envTime) unless a test moves it. With
// withDNS, an in-process DNS server is the service's resolver.
type env struct {
	t                      *testing.T
	s                      *admin.Service
	st                     store.Store
	accts                  *account.Service
	dns                    *testenv.DNSServer // nil without withDNS
	acme, shop, beta, bsub store.User
	now                    time.Time
}

// envTime is where env's clock stands at the start.
var envTime = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

// envOption sets up an env beyond the defaults.
type envOption func(*env)

// withDNS starts an in-process DNS server and makes it the resolver, for
// domain validation; publish serves records in it.
func withDNS(e *env) {
	e.dns = testenv.StartDNS(e.t)
	res, err := dnsres.New(e.dns.Addr, dnsres.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.s.Resolver = res
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "postern.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, now: envTime}
	now := func() time.Time { return e.now }
	cfg := config.Default()
	cfg.Hostname = "mail.postern.test"
	cfg.Domains.SenderResendInterval = config.Duration{} // TestSenderResendInterval sets it
	e.accts = &account.Service{Store: st, Rand: rand.Reader, Now: now}
	e.s = &admin.Service{Store: st, Accounts: e.accts, Config: cfg, Queue: queue.Direct{Store: st}, Now: now, Rand: rand.Reader}
	for _, u := range []struct {
		dst          *store.User
		name, parent string
	}{{&e.acme, "acme", ""}, {&e.shop, "shop", "acme"}, {&e.beta, "beta", ""}, {&e.bsub, "bsub", "beta"}} {
		if *u.dst, err = e.accts.CreateUser(ctx, u.name, u.parent); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// op is the operator acting for the user named name ("": for no one).
func (e *env) op(name string) admin.Actor {
	e.t.Helper()
	if name == "" {
		return admin.Actor{Operator: true}
	}
	a, err := e.s.Operator(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// key makes a real key of the user named user with scopes (none: every
// scope) and returns its Actor, acting on behalf of obo when set. The
// key's user and account are as the store has them now.
func (e *env) key(user, obo string, scopes ...string) admin.Actor {
	e.t.Helper()
	ctx := context.Background()
	if len(scopes) == 0 {
		scopes = account.KnownScopes()
	}
	_, rec, err := e.accts.CreateKey(ctx, user, "test", scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := e.st.UserByName(ctx, user)
	if err != nil {
		e.t.Fatal(err)
	}
	acct := u
	if u.ParentID != 0 {
		if acct, err = e.st.UserByName(ctx, u.ParentName); err != nil {
			e.t.Fatal(err)
		}
	}
	a, err := e.s.KeyActor(ctx, account.Principal{Key: rec, User: u, Account: acct}, obo)
	if err != nil {
		e.t.Fatalf("key of %s obo %q: %v", user, obo, err)
	}
	return a
}

// keyActors are full keys of each kind of tenant actor, by name: acme,
// acme on behalf of its subuser shop, shop, and beta.
func (e *env) keyActors() map[string]admin.Actor {
	e.t.Helper()
	return map[string]admin.Actor{
		"acme": e.key("acme", ""), "acme obo shop": e.key("acme", "shop"), "shop": e.key("shop", ""), "beta": e.key("beta", ""),
	}
}

// rawKey makes a key of user (scopes none: mail.send) for the tests to
// act on, and returns it with its record.
func (e *env) rawKey(user string, scopes ...string) (string, store.APIKey) {
	e.t.Helper()
	if len(scopes) == 0 {
		scopes = []string{account.ScopeMailSend}
	}
	secret, rec, err := e.accts.CreateKey(context.Background(), user, "target", scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret, rec
}

// publish serves records in the DNS of withDNS.
func (e *env) publish(recs ...domain.Record) {
	e.t.Helper()
	if e.dns == nil {
		e.t.Fatal("publish without withDNS")
	}
	e.dns.Add(domain.ZoneLines(recs)...)
}

// isErr is a check that err is target.
func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// invalidField is a check that err is an *admin.InvalidError of field.
func invalidField(field string) func(error) bool {
	return func(err error) bool {
		var inv *admin.InvalidError
		return errors.As(err, &inv) && inv.Field == field
	}
}

// noErr is a check that there is no error.
func noErr(err error) bool { return err == nil }

// wantRefused reports under name unless err is an *admin.InvalidError of
// field or, with field "", is want.
func wantRefused(t *testing.T, name string, err error, field string, want error) {
	t.Helper()
	switch {
	case field != "" && !invalidField(field)(err):
		t.Errorf("%s: %v, want invalid %s", name, err, field)
	case field == "" && !errors.Is(err, want):
		t.Errorf("%s: %v, want %v", name, err, want)
	}
}
