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
