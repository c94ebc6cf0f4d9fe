package identity_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/mailauth"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/testenv"
)

// TestBroughtKeyCompanion (issue 11, "bring-your-own DKIM key means that
// key alone"): a domain whose owner brought its RSA key is signed with
// that key alone until the record of the generated Ed25519 companion is
// found; its record is advice, not required; the re-check follows the
// companion's record both ways and records each change. The signatures
// are checked by mailauth's verifier against the in-process DNS.
func TestBroughtKeyCompanion(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/c.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := st.CreateUser(ctx, "acme", "")
	rk, ek, _ := domain.GenerateKeys(rand.Reader)
	rp, _ := domain.MarshalPrivateKey(rk)
	ep, _ := domain.MarshalPrivateKey(ek)
	if err := st.AddDomain(ctx, store.Domain{Name: "byo.test", UserID: u.ID, State: store.DomainVerified, RSASelector: "brought", RSAKey: rp,
		EdSelector: "e", EdKey: ep, CreatedAt: time.Now(), BroughtKey: store.KeyRSA}); err != nil {
		t.Fatal(err)
	}
	d, _ := st.Domain(ctx, "byo.test")
	recs := identity.Records(d, domain.Config{})
	var rsaRec, edRec domain.Record
	for _, r := range recs {
		switch r.Purpose {
		case domain.PurposeDKIMRSA:
			rsaRec = r
		case domain.PurposeDKIMEd25519:
			edRec = r
		}
	}
	if !rsaRec.Required || edRec.Required {
		t.Fatalf("records: brought %+v, companion %+v", rsaRec, edRec)
	}
	srv := testenv.StartDNS(t)
	srv.Add(domain.ZoneLines([]domain.Record{rsaRec})...)
	res, _ := dnsres.New(srv.Addr, dnsres.Options{})

	signer := &identity.Signer{Store: st}
	p := account.Principal{User: u, Account: u}
	selectors := func() string {
		t.Helper()
		msg := []byte("From: news@byo.test\r\nTo: a@example.test\r\nSubject: s\r\n\r\nbody\r\n")
		h, err := message.ParseHeader(msg)
		if err != nil {
			t.Fatal(err)
		}
		signed, dom, err := signer.Sign(ctx, p, msg, h)
		if err != nil || dom != "byo.test" || bytes.Equal(signed, msg) {
			t.Fatalf("not signed: %q %v", dom, err)
		}
		results, err := mailauth.Verify(ctx, signed, res.LookupTXT)
		if err != nil {
			t.Fatal(err)
		}
		var sels []string
		for _, r := range results {
			if !r.OK || r.Domain != "byo.test" {
				t.Errorf("signature %+v", r)
			}
			sels = append(sels, r.Selector)
		}
		return strings.Join(sels, " ")
	}
	recheck := func() {
		t.Helper()
		changes, err := identity.Recheck(ctx, st, res, domain.Config{}, time.Now())
		if err != nil || len(changes) != 0 {
			t.Fatalf("recheck: %+v %v", changes, err)
		}
	}
	if got := selectors(); got != "brought" {
		t.Fatalf("before the companion's record: signed by %q, want the brought key alone", got)
	}
	recheck()
	if got := selectors(); got != "brought" {
		t.Fatalf("after a re-check without it: %q", got)
	}
	srv.Add(domain.ZoneLines([]domain.Record{edRec})...)
	recheck()
	if got := selectors(); got != "brought e" {
		t.Fatalf("companion published: signed by %q, want both", got)
	}
	// A second, different record at the companion's name: verifiers may
	// pick either, so the companion no longer counts as published.
	_, other, _ := domain.GenerateKeys(rand.Reader)
	srv.Add(domain.ZoneLines(domain.Records("byo.test", domain.Config{}, []domain.SelectorKey{{Selector: "e", Public: other.Public()}})[:1])...)
	recheck()
	if got := selectors(); got != "brought" {
		t.Fatalf("companion record spoiled: signed by %q", got)
	}
	d, _ = st.Domain(ctx, "byo.test")
	evs, _ := st.DomainEvents(ctx, "byo.test")
	if d.State != store.DomainVerified || d.CompanionPublished || len(evs) != 2 ||
		evs[0].Type != store.DomainEventCompanion || !strings.Contains(evs[0].Detail, "was found") ||
		evs[1].Type != store.DomainEventCompanion || !strings.Contains(evs[1].Detail, "not published") {
		t.Fatalf("domain %+v, history %+v", d, evs)
	}
}
