package admin_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/store"
)

// record is the first of recs with purpose.
func record(t *testing.T, recs []domain.Record, purpose domain.Purpose) domain.Record {
	t.Helper()
	for _, r := range recs {
		if r.Purpose == purpose {
			return r
		}
	}
	t.Fatalf("no %s record in %+v", purpose, recs)
	return domain.Record{}
}

func eventTypes(evs []store.DomainEvent) string {
	var types []string
	for _, e := range evs {
		types = append(types, string(e.Type))
	}
	return strings.Join(types, " ")
}

// TestAddVerifyDomain: a domain is added pending with two generated keys
// whose records are both required; it verifies once they are published,
// in one change with its history; adding it again, for anyone, is a
// conflict.
func TestAddVerifyDomain(t *testing.T) {
	e := newEnv(t, withDNS)
	ctx := context.Background()
	d, err := e.s.AddDomain(ctx, e.op("acme"), admin.NewDomain{Name: "Acme.TEST."})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID == 0 || d.Name != "acme.test" || d.User != "acme" || d.State != store.DomainPending || d.Usable() ||
		d.RSASelector != "pst202612r" || d.EdSelector != "pst202612e" || d.BroughtKey != "" || d.ReturnPathHost != "pst-bounces.acme.test" {
		t.Fatalf("added %+v", d)
	}
	rsaRec, edRec := record(t, d.Records, domain.PurposeDKIMRSA), record(t, d.Records, domain.PurposeDKIMEd25519)
	if !rsaRec.Required || !edRec.Required {
		t.Fatalf("generated keys' records not both required: %+v %+v", rsaRec, edRec)
	}
	for _, name := range []string{"acme.test", "ACME.test"} {
		for _, who := range []admin.Actor{e.op("beta"), e.key("beta", "")} {
			if _, err := e.s.AddDomain(ctx, who, admin.NewDomain{Name: name}); !errors.Is(err, admin.ErrConflict) {
				t.Errorf("%s again: %v, want ErrConflict", name, err)
			}
		}
	}

	v, err := e.s.VerifyDomain(ctx, e.op(""), admin.DomainRef{Name: "acme.test"}, admin.VerifyOptions{})
	if err != nil || v.Verified || v.Domain.State != store.DomainPending || len(v.Checks) != len(d.Records) {
		t.Fatalf("before publishing: %+v %v", v, err)
	}
	e.publish(rsaRec)
	if v, _ = e.s.VerifyDomain(ctx, e.op(""), admin.DomainRef{ID: d.ID}, admin.VerifyOptions{}); v.Verified {
		t.Fatal("verified with one of two generated keys' records")
	}
	e.publish(edRec, record(t, d.Records, domain.PurposeReturnPath))
	v, err = e.s.VerifyDomain(ctx, e.key("acme", ""), admin.DomainRef{ID: d.ID}, admin.VerifyOptions{})
	if err != nil || !v.Verified || v.Domain.State != store.DomainVerified || !v.Domain.ReturnPath || v.Companion != nil ||
		!v.Domain.VerifiedAt.Equal(e.now) || v.Before.State != store.DomainPending {
		t.Fatalf("after publishing: %+v %v", v, err)
	}
	shown, err := e.s.ShowDomain(ctx, e.op(""), admin.DomainRef{Name: "acme.test"})
	if err != nil || eventTypes(shown.Events) != "added verified" {
		t.Fatalf("history %q %v", eventTypes(shown.Events), err)
	}
	// A second verification changes nothing and tells nothing new.
	if _, err := e.s.VerifyDomain(ctx, e.op(""), admin.DomainRef{Name: "acme.test"}, admin.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if shown, _ = e.s.ShowDomain(ctx, e.op(""), admin.DomainRef{Name: "acme.test"}); eventTypes(shown.Events) != "added verified" {
		t.Fatalf("history after a second verification %q", eventTypes(shown.Events))
	}
}

// rsaPEM is a fresh RSA key in PKCS#1 PEM, as an owner brings it.
func rsaPEM(t *testing.T) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// TestBroughtKeyAlone (issue 11): a brought RSA key's record alone
// verifies the domain, which then signs with that key alone; the
// generated Ed25519 companion signs once its record is found, which the
// verification and the history say. A brought Ed25519 key likewise,
// its RSA companion optional.
func TestBroughtKeyAlone(t *testing.T) {
	e := newEnv(t, withDNS)
	ctx := context.Background()
	d, err := e.s.AddDomain(ctx, e.op("acme"), admin.NewDomain{Name: "byo.test", Key: rsaPEM(t), Selector: "Brought"})
	if err != nil {
		t.Fatal(err)
	}
	rsaRec, edRec := record(t, d.Records, domain.PurposeDKIMRSA), record(t, d.Records, domain.PurposeDKIMEd25519)
	if d.BroughtKey != store.KeyRSA || d.RSASelector != "brought" || !rsaRec.Required || edRec.Required ||
		!strings.HasPrefix(rsaRec.Name, "brought._domainkey.") {
		t.Fatalf("brought key: %+v\n%+v\n%+v", d, rsaRec, edRec)
	}
	e.publish(rsaRec)
	v, err := e.s.VerifyDomain(ctx, e.op(""), admin.DomainRef{ID: d.ID}, admin.VerifyOptions{})
	if err != nil || !v.Verified || v.Companion == nil || v.Companion.OK || v.Domain.CompanionPublished {
		t.Fatalf("brought record alone: %+v %v", v, err)
	}
	signsWith := func() (bool, bool) {
		sd, err := e.st.DomainByID(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return sd.SignsWith()
	}
	if r, ed := signsWith(); !r || ed {
		t.Fatalf("signs with RSA %v, Ed25519 %v; want the brought RSA key alone", r, ed)
	}
	e.publish(edRec)
	v, err = e.s.VerifyDomain(ctx, e.op(""), admin.DomainRef{ID: d.ID}, admin.VerifyOptions{})
	if err != nil || !v.Verified || !v.Companion.OK || !v.Domain.CompanionPublished {
		t.Fatalf("companion published: %+v %v", v, err)
	}
	if r, ed := signsWith(); !r || !ed {
		t.Fatalf("signs with RSA %v, Ed25519 %v; want both", r, ed)
	}
	shown, _ := e.s.ShowDomain(ctx, e.op(""), admin.DomainRef{ID: d.ID})
	if got := eventTypes(shown.Events); got != "added verified companion-key" ||
		!strings.Contains(shown.Events[2].Detail, "signed with it too") || !strings.Contains(shown.Events[0].Detail, "brought") {
		t.Fatalf("history %q %+v", got, shown.Events)
	}

	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(edKey)
	d2, err := e.s.AddDomain(ctx, e.op("acme"), admin.NewDomain{Name: "byo-ed.test", Selector: "ed1",
		Key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})})
	if err != nil {
		t.Fatal(err)
	}
	if d2.BroughtKey != store.KeyEd25519 || d2.EdSelector != "ed1" || record(t, d2.Records, domain.PurposeDKIMRSA).Required ||
		!record(t, d2.Records, domain.PurposeDKIMEd25519).Required {
		t.Fatalf("brought Ed25519 key: %+v", d2)
	}
	e.publish(record(t, d2.Records, domain.PurposeDKIMEd25519))
	if v, err := e.s.VerifyDomain(ctx, e.op(""), admin.DomainRef{ID: d2.ID}, admin.VerifyOptions{}); err != nil || !v.Verified || v.Companion.OK {
		t.Fatalf("brought Ed25519 record alone: %+v %v", v, err)
	}
}

// TestAddDomainRefused: what AddDomain refuses, and with which field.
func TestAddDomainRefused(t *testing.T) {
	e := newEnv(t, withDNS)
	ctx := context.Background()
	cases := []struct {
		name  string
		who   admin.Actor
		req   admin.NewDomain
		field string // "" : the error is want
		want  error
	}{
		{"not a name", e.op("acme"), admin.NewDomain{Name: "localhost"}, "domain", nil},
		{"bad key", e.op("acme"), admin.NewDomain{Name: "a.test", Key: []byte("not a key"), Selector: "s"}, "key", nil},
		{"bad selector", e.op("acme"), admin.NewDomain{Name: "a.test", Key: rsaPEM(t), Selector: "a_b"}, "selector", nil},
		{"brought key and custom selector", e.op("acme"), admin.NewDomain{Name: "a.test", Key: rsaPEM(t), Selector: "s", CustomSelector: "abc"}, "custom_dkim_selector", nil},
		{"custom selector with a dot", e.op("acme"), admin.NewDomain{Name: "a.test", CustomSelector: "a.b"}, "custom_dkim_selector", nil},
		{"another tenant's user", e.key("beta", ""), admin.NewDomain{Name: "a.test", User: "shop"}, "username", nil},
		{"a subuser names its account", e.key("shop", ""), admin.NewDomain{Name: "a.test", User: "acme"}, "username", nil},
		{"no such user", e.key("acme", ""), admin.NewDomain{Name: "a.test", User: "nobody"}, "username", nil},
		{"no user at all", e.op(""), admin.NewDomain{Name: "a.test"}, "username", nil},
		{"operator names no such user", e.op(""), admin.NewDomain{Name: "a.test", User: "nobody"}, "", admin.ErrNotFound},
		{"without the scope", e.key("acme", "", "whitelabel.read"), admin.NewDomain{Name: "a.test"}, "", admin.ErrForbidden},
	}
	for _, tc := range cases {
		_, err := e.s.AddDomain(ctx, tc.who, tc.req)
		wantRefused(t, tc.name, err, tc.field, tc.want)
	}
	if list, _ := e.s.ListDomains(ctx, e.op(""), admin.DomainFilter{}); len(list) != 0 {
		t.Fatalf("refused domains stored: %+v", list)
	}
	// What is allowed: an account's key names its own subuser (SendGrid's
	// username), and custom selectors name the generated keys.
	d, err := e.s.AddDomain(ctx, e.key("acme", ""), admin.NewDomain{Name: "shop.test", User: "shop", CustomSelector: "ABC"})
	if err != nil || d.User != "shop" || d.RSASelector != "abc" || d.EdSelector != "abc2" {
		t.Fatalf("for a subuser with custom selectors: %+v %v", d, err)
	}
}

// TestDomainTrustRotateShare: the operator alone vouches for a domain;
// a rotation checks the new records alone and switches signing once
// they are there; sharing is recorded.
func TestDomainTrustRotateShare(t *testing.T) {
	e := newEnv(t, withDNS)
	ctx := context.Background()
	d, err := e.s.AddDomain(ctx, e.op("acme"), admin.NewDomain{Name: "acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	ref := admin.DomainRef{ID: d.ID}
	if _, err := e.s.VerifyDomain(ctx, e.key("acme", ""), ref, admin.VerifyOptions{Trust: true}); !errors.Is(err, admin.ErrForbidden) {
		t.Fatalf("a key vouches: %v", err)
	}
	v, err := e.s.VerifyDomain(ctx, e.op(""), ref, admin.VerifyOptions{Trust: true, TrustReturnPath: true})
	if err != nil || !v.Verified || v.Domain.State != store.DomainTrusted || !v.Domain.ReturnPath || len(v.Checks) != 0 {
		t.Fatalf("trust: %+v %v", v, err)
	}

	e.now = e.now.Add(24 * time.Hour) // still December: the new names get an x
	rot, err := e.s.RotateDKIM(ctx, e.key("acme", ""), ref)
	if err != nil || !rot.Rotating() || rot.NextRSASelector != "pst202612rx" || rot.NextEdSelector != "pst202612ex" || len(rot.NextRecords) != 2 ||
		rot.RSASelector != d.RSASelector {
		t.Fatalf("rotate: %+v %v", rot, err)
	}
	v, err = e.s.VerifyDomain(ctx, e.op(""), ref, admin.VerifyOptions{})
	if err != nil || !v.Rotation || v.Verified || len(v.Checks) != 2 || v.Domain.RSASelector != d.RSASelector {
		t.Fatalf("rotation before publishing: %+v %v", v, err)
	}
	e.publish(rot.NextRecords...)
	v, err = e.s.VerifyDomain(ctx, e.op(""), ref, admin.VerifyOptions{})
	if err != nil || !v.Rotation || !v.Verified || v.Domain.RSASelector != "pst202612rx" || v.Domain.Rotating() || v.Before.RSASelector != d.RSASelector {
		t.Fatalf("rotation published: %+v %v", v, err)
	}

	sh, detail, err := e.s.ShareDomain(ctx, e.key("acme", ""), ref, true)
	if err != nil || !sh.Shared || detail != "every user of the owner's account may send as it" {
		t.Fatalf("share: %+v %q %v", sh, detail, err)
	}
	if sh, detail, _ = e.s.ShareDomain(ctx, e.op(""), admin.DomainRef{Name: "acme.test"}, false); sh.Shared || detail != "only acme may send as it" {
		t.Fatalf("unshare: %+v %q", sh, detail)
	}
	shown, _ := e.s.ShowDomain(ctx, e.op(""), ref)
	if got := eventTypes(shown.Events); got != "added trusted rotated shared unshared" {
		t.Fatalf("history %q", got)
	}
}

// TestDomainTenancy: keys reach their own user's domains alone; another
// tenant's domain, by id or name, is not found for every operation, as a
// missing one; an account reaches its subuser's only on its behalf.
func TestDomainTenancy(t *testing.T) {
	e := newEnv(t, withDNS)
	ctx := context.Background()
	byOwner := map[string]admin.Domain{}
	for _, owner := range []string{"acme", "shop", "beta"} {
		d, err := e.s.AddDomain(ctx, e.op(owner), admin.NewDomain{Name: owner + ".test"})
		if err != nil {
			t.Fatal(err)
		}
		byOwner[owner] = d
	}
	actors := e.keyActors()
	sees := map[string]string{"acme": "acme", "acme obo shop": "shop", "shop": "shop", "beta": "beta"}
	ops := map[string]func(admin.Actor, admin.DomainRef) error{
		"show": func(a admin.Actor, r admin.DomainRef) error { _, err := e.s.ShowDomain(ctx, a, r); return err },
		"verify": func(a admin.Actor, r admin.DomainRef) error {
			_, err := e.s.VerifyDomain(ctx, a, r, admin.VerifyOptions{})
			return err
		},
		"share": func(a admin.Actor, r admin.DomainRef) error {
			_, _, err := e.s.ShareDomain(ctx, a, r, true)
			return err
		},
		"rotate": func(a admin.Actor, r admin.DomainRef) error { _, err := e.s.RotateDKIM(ctx, a, r); return err },
		"delete": func(a admin.Actor, r admin.DomainRef) error { return e.s.DeleteDomain(ctx, a, r) },
	}
	for who, a := range actors {
		list, err := e.s.ListDomains(ctx, a, admin.DomainFilter{})
		if err != nil || len(list) != 1 || list[0].User != sees[who] {
			t.Errorf("%s lists %+v %v, want %s's alone", who, list, err, sees[who])
		}
		if other, _ := e.s.ListDomains(ctx, a, admin.DomainFilter{User: "beta"}); who != "beta" && len(other) != 0 {
			t.Errorf("%s lists beta's: %+v", who, other)
		}
		for owner, d := range byOwner {
			if owner == sees[who] {
				continue
			}
			for opName, op := range ops {
				for _, ref := range []admin.DomainRef{{ID: d.ID}, {Name: d.Name}, {ID: d.ID + 1000}} {
					if err := op(a, ref); !errors.Is(err, admin.ErrNotFound) {
						t.Errorf("%s %s %s's %v: %v, want ErrNotFound", who, opName, owner, ref, err)
					}
				}
			}
		}
	}
	// Nothing was changed by the refused calls.
	for owner, d := range byOwner {
		got, err := e.s.ShowDomain(ctx, e.op(""), admin.DomainRef{ID: d.ID})
		if err != nil || got.Shared || got.Rotating() || eventTypes(got.Events) != "added" {
			t.Errorf("%s's domain after the others' calls: %+v %v", owner, got, err)
		}
	}
	// Its own: deleted, then gone for everyone.
	if err := e.s.DeleteDomain(ctx, actors["acme obo shop"], admin.DomainRef{ID: byOwner["shop"].ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ShowDomain(ctx, e.op(""), admin.DomainRef{Name: "shop.test"}); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}

// TestListDomainsPaging: the list is by name, paged by limit and offset
// and searched by name.
func TestListDomainsPaging(t *testing.T) {
	e := newEnv(t, withDNS)
	ctx := context.Background()
	for _, n := range []string{"c.test", "a.test", "b.example"} {
		if _, err := e.s.AddDomain(ctx, e.op("acme"), admin.NewDomain{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(f admin.DomainFilter) string {
		list, err := e.s.ListDomains(ctx, e.key("acme", ""), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range list {
			out = append(out, d.Name)
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		f    admin.DomainFilter
		want string
	}{
		{admin.DomainFilter{}, "a.test b.example c.test"},
		{admin.DomainFilter{Limit: 2}, "a.test b.example"},
		{admin.DomainFilter{Limit: 2, Offset: 2}, "c.test"},
		{admin.DomainFilter{Offset: 3}, ""},
		{admin.DomainFilter{Search: ".TEST"}, "a.test c.test"},
	} {
		if got := names(tc.f); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.f, got, tc.want)
		}
	}
	if _, err := e.s.ListDomains(ctx, e.op(""), admin.DomainFilter{User: "nobody"}); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("operator lists nobody's: %v", err)
	}
}
