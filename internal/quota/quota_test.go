package quota_test

import (
	"context"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/quota"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

func TestTally(t *testing.T) {
	got := quota.Tally([]store.UsageRow{
		{UserName: "acme", KeyID: "k1", Messages: 2, Recipients: 5},
		{UserName: "shop", ParentName: "acme", KeyID: "k2", Messages: 1, Recipients: 1},
		{UserName: "shop", ParentName: "acme", KeyID: "k3", Messages: 3, Recipients: 4},
	})
	want := map[ratelimit.Subject]ratelimit.Counts{
		ratelimit.Key("k1"):    {Messages: 2, Recipients: 5},
		ratelimit.Key("k2"):    {Messages: 1, Recipients: 1},
		ratelimit.Key("k3"):    {Messages: 3, Recipients: 4},
		ratelimit.User("shop"): {Messages: 4, Recipients: 5},
		ratelimit.User("acme"): {Messages: 6, Recipients: 10}, // its own and its subuser's
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for s, c := range want {
		if got[s] != c {
			t.Errorf("%s: %+v, want %+v", s, got[s], c)
		}
	}
}

func TestDefaults(t *testing.T) {
	ls := quota.Defaults(ratelimit.ModeHold, [4]int64{0, 100, 0, 0}, [4]int64{0, 0, 0, 5000})
	if len(ls) != 2 || ls[0].Period != ratelimit.Hour || ls[0].Messages != 100 || ls[1].Period != ratelimit.Month ||
		ls[1].Recipients != 5000 || ls[0].Mode != ratelimit.ModeHold {
		t.Fatalf("defaults %+v", ls)
	}
}

// Seed restores usage from the queue after a restart, so a limit already
// reached stays reached; a subuser's mail counts against its account.
func TestSeedAfterRestart(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/q.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acme, _ := st.CreateUser(ctx, "acme", "")
	shop, _ := st.CreateUser(ctx, "shop", "acme")
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	for i, u := range []store.User{acme, shop, shop} {
		m := store.NewMessage{ID: string(rune('a' + i)), UserID: u.ID, KeyID: "k", From: "a@x.test",
			Recipients: []string{"b@x.test"}, Body: []byte("x\r\n"), CreatedAt: now.Add(-time.Minute)}
		if err := st.EnqueueBatch(ctx, []store.NewMessage{m}); err != nil {
			t.Fatal(err)
		}
	}
	q := quota.New(st, []ratelimit.Limit{{Period: ratelimit.Hour, Messages: 3}})
	if err := q.Seed(ctx, now); err != nil {
		t.Fatal(err)
	}
	// The account already sent 3 this hour (1 + its subuser's 2).
	p := account.Principal{Key: store.APIKey{ID: "k2"}, User: shop, Account: acme}
	d, err := q.Check(ctx, p, now)
	if err != nil || d.Allow {
		t.Fatalf("after restart: %+v %v", d, err)
	}
	d, _, _ = q.Reserve(ctx, p, 1, now.Add(time.Hour))
	if !d.Allow {
		t.Fatalf("next hour: %+v", d)
	}
}
