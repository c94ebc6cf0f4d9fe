package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

func testDomains(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	d := store.Domain{Name: "Mail.Example.TEST", UserID: u.ID, State: store.DomainPending, RSASelector: "r1",
		RSAKey: []byte("rsa pem"), EdSelector: "e1", EdKey: []byte("ed pem"), CreatedAt: base}
	if err := s.AddDomain(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.AddDomain(ctx, d); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	got, err := s.Domain(ctx, "mail.example.test")
	if err != nil || got.Name != "mail.example.test" || got.UserName != "acme" || string(got.EdKey) != "ed pem" || got.Usable() {
		t.Fatalf("domain %+v %v", got, err)
	}
	if err := s.SetDomainState(ctx, "mail.example.test", store.DomainVerified, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Domain(ctx, "MAIL.example.test")
	if !got.Usable() {
		t.Fatalf("after verify %+v", got)
	}
	checkTime(t, "VerifiedAt", got.VerifiedAt, stored(base.Add(time.Hour)))
	list, _ := s.Domains(ctx, "acme")
	if len(list) != 1 {
		t.Fatalf("list %+v", list)
	}
	if err := s.PromoteNextKeys(ctx, "mail.example.test", base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("promote without a rotation: %v", err)
	}
	if err := s.SetNextKeys(ctx, "mail.example.test", "r2", []byte("rsa2"), "e2", []byte("ed2")); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Domain(ctx, "mail.example.test")
	if got.NextRSASelector != "r2" || string(got.NextEdKey) != "ed2" || got.RSASelector != "r1" {
		t.Fatalf("during rotation %+v", got)
	}
	if err := s.PromoteNextKeys(ctx, "mail.example.test", base.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Domain(ctx, "mail.example.test")
	if got.RSASelector != "r2" || string(got.RSAKey) != "rsa2" || got.EdSelector != "e2" || got.NextRSASelector != "" ||
		got.PrevSelectors != "r1,e1" || got.RotatedAt.IsZero() {
		t.Fatalf("after promotion %+v", got)
	}
	if _, err := s.Domain(ctx, "nope.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if err := s.SetDomainState(ctx, "nope.test", store.DomainVerified, base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown state: %v", err)
	}
}

func testDomainSharingAndEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	acct := mustCreateUser(t, s, "acme", "")
	sub := mustCreateUser(t, s, "shop", "acme")
	for _, d := range []store.Domain{
		{Name: "acme.test", UserID: acct.ID, State: store.DomainPending, Shared: true, CreatedAt: base},
		{Name: "shop.test", UserID: sub.ID, State: store.DomainPending, CreatedAt: base},
	} {
		if err := s.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := s.Domain(ctx, "acme.test")
	b, _ := s.Domain(ctx, "shop.test")
	if !a.Shared || a.AccountID != acct.ID || b.Shared || b.AccountID != acct.ID {
		t.Fatalf("acme %+v shop %+v", a, b)
	}
	if err := s.SetDomainShared(ctx, "shop.test", true); err != nil {
		t.Fatal(err)
	}
	if b, _ = s.Domain(ctx, "shop.test"); !b.Shared {
		t.Fatalf("not shared after SetDomainShared: %+v", b)
	}
	if err := s.SetDomainShared(ctx, "nope.test", true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if a.ReturnPath {
		t.Fatalf("a new domain has its return path on: %+v", a)
	}
	if err := s.SetDomainReturnPath(ctx, "acme.test", true); err != nil {
		t.Fatal(err)
	}
	if a, _ = s.Domain(ctx, "acme.test"); !a.ReturnPath || !a.Shared {
		t.Fatalf("after SetDomainReturnPath: %+v", a)
	}
	if err := s.SetDomainReturnPath(ctx, "nope.test", true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	evs := []store.DomainEvent{
		{Domain: "Shop.test", Type: store.DomainEventAdded, Detail: "by the operator", At: base},
		{Domain: "shop.test", Type: store.DomainEventLapsed, Detail: "r1._domainkey.shop.test TXT: missing", At: base.Add(time.Hour)},
		{Domain: "acme.test", Type: store.DomainEventVerified, At: base},
	}
	for _, e := range evs {
		if err := s.AddDomainEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.DomainEvents(ctx, "SHOP.test")
	if err != nil || len(got) != 2 || got[0].Type != store.DomainEventAdded || got[1].Type != store.DomainEventLapsed ||
		got[1].Detail != evs[1].Detail || got[0].Domain != "shop.test" {
		t.Fatalf("events %+v %v", got, err)
	}
	checkTime(t, "event At", got[1].At, stored(base.Add(time.Hour)))
	if none, err := s.DomainEvents(ctx, "nope.test"); err != nil || len(none) != 0 {
		t.Fatalf("unknown domain's events %+v %v", none, err)
	}
}

func testSecret(t *testing.T, s store.Store) {
	ctx := context.Background()
	first, err := s.Secret(ctx, "return-path", []byte("one"))
	if err != nil || string(first) != "one" {
		t.Fatalf("first %q %v", first, err)
	}
	again, err := s.Secret(ctx, "return-path", []byte("two"))
	if err != nil || string(again) != "one" {
		t.Fatalf("second call replaced the secret: %q %v", again, err)
	}
	other, err := s.Secret(ctx, "other", []byte("three"))
	if err != nil || string(other) != "three" {
		t.Fatalf("other %q %v", other, err)
	}
}
