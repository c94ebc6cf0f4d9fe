package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

func testLimitsAndUsage(t *testing.T, s store.Store) {
	ctx := context.Background()
	l := store.LimitRow{Kind: "user", Subject: "acme", Period: "hour", Messages: 100, Recipients: 500, Mode: "reject"}
	if err := s.SetLimit(ctx, l); err != nil {
		t.Fatal(err)
	}
	l.Messages, l.Mode = 50, "hold"
	if err := s.SetLimit(ctx, l); err != nil { // replaces
		t.Fatal(err)
	}
	if err := s.SetLimit(ctx, store.LimitRow{Kind: "key", Subject: "k1", Period: "day", Messages: 10, Mode: "reject"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Limits(ctx, "", "")
	if err != nil || len(all) != 2 || all[0].Kind != "key" || all[1].Messages != 50 || all[1].Mode != "hold" {
		t.Fatalf("limits %+v %v", all, err)
	}
	one, _ := s.Limits(ctx, "user", "acme")
	if len(one) != 1 || one[0].Recipients != 500 {
		t.Fatalf("limits of acme %+v", one)
	}

	acme := mustCreateUser(t, s, "acme", "")
	shop := mustCreateUser(t, s, "shop", "acme")
	m1 := simpleMessage("m1", acme.ID) // 2 recipients, key k1, at base
	m2 := simpleMessage("m2", shop.ID)
	m2.CreatedAt = base.Add(time.Hour)
	dsn := simpleMessage("d1", acme.ID)
	dsn.From = ""
	held := simpleMessage("m3", acme.ID)
	held.NotBefore = base.Add(2 * time.Hour)
	if err := s.EnqueueBatch(ctx, []store.NewMessage{m1, m2, dsn, held}); err != nil {
		t.Fatal(err)
	}
	u, err := s.UsageSince(ctx, base)
	if err != nil || len(u) != 2 {
		t.Fatalf("usage %+v %v", u, err)
	}
	if u[0].UserName != "acme" || u[0].Messages != 2 || u[0].Recipients != 4 || u[1].UserName != "shop" || u[1].ParentName != "acme" {
		t.Errorf("usage %+v", u)
	}
	if u, _ := s.UsageSince(ctx, base.Add(time.Minute)); len(u) != 1 || u[0].UserName != "shop" {
		t.Errorf("usage since later %+v", u)
	}
	// A held message is not due before its hold ends.
	never := func(int) time.Time { return base.Add(24 * time.Hour) }
	cs, _ := s.ClaimDue(ctx, base.Add(time.Hour), 10, never)
	for _, c := range cs {
		if c.ID == "m3" {
			t.Fatal("held message claimed before its hold ended")
		}
	}
	cs, _ = s.ClaimDue(ctx, base.Add(2*time.Hour), 10, never)
	if len(cs) != 1 || cs[0].ID != "m3" {
		t.Fatalf("after the hold: %+v", cs)
	}
}
