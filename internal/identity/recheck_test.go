package identity_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/testenv"
)

// A verified domain whose DKIM records disappear goes back to pending; a
// temporary DNS failure changes nothing; trusted domains are left alone.
func TestRecheck(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/r.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := st.CreateUser(ctx, "acme", "")
	newDomain := func(name string, state store.DomainState) store.Domain {
		rk, ek, _ := domain.GenerateKeys(rand.Reader)
		rp, _ := domain.MarshalPrivateKey(rk)
		ep, _ := domain.MarshalPrivateKey(ek)
		d := store.Domain{Name: name, UserID: u.ID, State: state, RSASelector: "r", RSAKey: rp, EdSelector: "e", EdKey: ep, CreatedAt: time.Now()}
		if err := st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	kept := newDomain("kept.test", store.DomainVerified)
	newDomain("gone.test", store.DomainVerified)
	flaky := newDomain("flaky.test", store.DomainVerified)
	newDomain("trusted.test", store.DomainTrusted)

	srv := testenv.StartDNS(t)
	for _, d := range []store.Domain{kept, flaky} {
		for _, l := range domain.ZoneLines(identity.Records(d, domain.Config{ReturnPathHost: "mail.postern.test"})) {
			srv.Add(l)
		}
	}
	srv.Set("r._domainkey.flaky.test.", dns.TypeTXT, testenv.ServFail)
	res, _ := dnsres.New(srv.Addr, dnsres.Options{Timeout: time.Second, Attempts: 1})
	changes, err := identity.Recheck(ctx, st, res, domain.Config{ReturnPathHost: "mail.postern.test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Domain != "gone.test" || changes[0].To != store.DomainPending || !strings.Contains(changes[0].Why, "_domainkey") {
		t.Fatalf("changes %+v", changes)
	}
	for name, want := range map[string]store.DomainState{"kept.test": store.DomainVerified, "gone.test": store.DomainPending,
		"flaky.test": store.DomainVerified, "trusted.test": store.DomainTrusted} {
		if d, _ := st.Domain(ctx, name); d.State != want {
			t.Errorf("%s: %s, want %s", name, d.State, want)
		}
	}
	// The user is told: the lapse is in the domain's history, and only
	// there.
	evs, err := st.DomainEvents(ctx, "gone.test")
	if err != nil || len(evs) != 1 || evs[0].Type != store.DomainEventLapsed || !strings.Contains(evs[0].Detail, "_domainkey") {
		t.Fatalf("gone.test events %+v %v", evs, err)
	}
	for _, name := range []string{"flaky.test", "trusted.test"} {
		if evs, _ := st.DomainEvents(ctx, name); len(evs) != 0 {
			t.Errorf("%s: events %+v", name, evs)
		}
	}
	// kept.test publishes its return-path MX too: the re-check turns its
	// return path on, and says so.
	keptD, _ := st.Domain(ctx, "kept.test")
	evs, _ = st.DomainEvents(ctx, "kept.test")
	if !keptD.ReturnPath || len(evs) != 1 || evs[0].Type != store.DomainEventReturnPath {
		t.Errorf("kept.test: return path %v, events %+v", keptD.ReturnPath, evs)
	}
	if gone, _ := st.Domain(ctx, "gone.test"); gone.ReturnPath {
		t.Errorf("gone.test has its return path on")
	}
}
