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
	testDomainIDsAndChanges(t, s, u)
}

// testDomainIDsAndChanges: CreateDomain writes a domain with its first
// events and gives it an ID that DomainByID finds and no later domain
// reuses; ChangeDomain writes a whole change or, for an unknown domain
// or a promotion without a rotation, nothing; DeleteDomain takes the
// history with it.
func testDomainIDsAndChanges(t *testing.T, s store.Store, u store.User) {
	ctx := context.Background()
	first, _ := s.Domain(ctx, "mail.example.test")
	if first.ID == 0 {
		t.Fatalf("AddDomain gave no ID: %+v", first)
	}
	byo := store.Domain{Name: "byo.test", UserID: u.ID, State: store.DomainPending, RSASelector: "brought", RSAKey: []byte("rsa"),
		EdSelector: "e1", EdKey: []byte("ed"), CreatedAt: base, BroughtKey: store.KeyRSA}
	id, err := s.CreateDomain(ctx, byo, []store.DomainEvent{{Domain: "byo.test", Type: store.DomainEventAdded, Detail: "brought", At: base}})
	if err != nil || id == 0 || id == first.ID {
		t.Fatalf("CreateDomain: %d %v (first %d)", id, err, first.ID)
	}
	if _, err := s.CreateDomain(ctx, byo, nil); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate CreateDomain: %v", err)
	}
	got, err := s.DomainByID(ctx, id)
	if err != nil || got.Name != "byo.test" || got.BroughtKey != store.KeyRSA || got.CompanionPublished || got.UserName != "acme" {
		t.Fatalf("DomainByID %+v %v", got, err)
	}
	if _, err := s.DomainByID(ctx, id+1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if evs, _ := s.DomainEvents(ctx, "byo.test"); len(evs) != 1 || evs[0].Detail != "brought" {
		t.Fatalf("CreateDomain's events %+v", evs)
	}

	yes := true
	ch := store.DomainChange{State: store.DomainVerified, At: base.Add(time.Hour), ReturnPath: &yes, Shared: &yes, CompanionPublished: &yes,
		Events: []store.DomainEvent{{Domain: "byo.test", Type: store.DomainEventVerified, At: base.Add(time.Hour)},
			{Domain: "byo.test", Type: store.DomainEventCompanion, At: base.Add(time.Hour)}}}
	if err := s.ChangeDomain(ctx, "BYO.test", ch); err != nil {
		t.Fatal(err)
	}
	got, _ = s.DomainByID(ctx, id)
	if got.State != store.DomainVerified || !got.ReturnPath || !got.Shared || !got.CompanionPublished {
		t.Fatalf("after ChangeDomain %+v", got)
	}
	checkTime(t, "VerifiedAt", got.VerifiedAt, stored(base.Add(time.Hour)))
	if evs, _ := s.DomainEvents(ctx, "byo.test"); len(evs) != 3 || evs[2].Type != store.DomainEventCompanion {
		t.Fatalf("events after ChangeDomain %+v", evs)
	}
	if err := s.ChangeDomain(ctx, "nope.test", ch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ChangeDomain of an unknown domain: %v", err)
	}
	// A promotion without a rotation fails as a whole: the state and
	// the event asked with it are not written.
	no := false
	err = s.ChangeDomain(ctx, "byo.test", store.DomainChange{State: store.DomainPending, Shared: &no, Promote: true,
		Events: []store.DomainEvent{{Domain: "byo.test", Type: store.DomainEventRotated, At: base}}})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("promotion without a rotation: %v", err)
	}
	if got, _ = s.DomainByID(ctx, id); got.State != store.DomainVerified || !got.Shared {
		t.Fatalf("a failed change was partly written: %+v", got)
	}
	if evs, _ := s.DomainEvents(ctx, "byo.test"); len(evs) != 3 {
		t.Fatalf("a failed change wrote its events: %+v", evs)
	}
	// A rotation and its promotion: the brought key goes with the old
	// keys.
	next := store.DomainKeys{RSASelector: "r2", RSAKey: []byte("rsa2"), EdSelector: "e2", EdKey: []byte("ed2")}
	if err := s.ChangeDomain(ctx, "byo.test", store.DomainChange{Next: &next}); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.DomainByID(ctx, id); got.NextRSASelector != "r2" || string(got.NextEdKey) != "ed2" || got.RSASelector != "brought" {
		t.Fatalf("during rotation %+v", got)
	}
	if err := s.ChangeDomain(ctx, "byo.test", store.DomainChange{Promote: true, At: base.Add(2 * time.Hour),
		Events: []store.DomainEvent{{Domain: "byo.test", Type: store.DomainEventRotated, At: base}}}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.DomainByID(ctx, id)
	if got.RSASelector != "r2" || string(got.EdKey) != "ed2" || got.PrevSelectors != "brought,e1" || got.BroughtKey != "" ||
		got.CompanionPublished || got.NextRSASelector != "" {
		t.Fatalf("after promotion %+v", got)
	}
	checkTime(t, "RotatedAt", got.RotatedAt, stored(base.Add(2*time.Hour)))

	if err := s.DeleteDomain(ctx, "Byo.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DomainByID(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted domain: %v", err)
	}
	if evs, err := s.DomainEvents(ctx, "byo.test"); err != nil || len(evs) != 0 {
		t.Fatalf("a deleted domain's history: %+v %v", evs, err)
	}
	if err := s.DeleteDomain(ctx, "byo.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted twice: %v", err)
	}
	again, err := s.CreateDomain(ctx, byo, nil)
	if err != nil || again == id || again == first.ID {
		t.Fatalf("re-added after delete: id %d (deleted %d) %v", again, id, err)
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
