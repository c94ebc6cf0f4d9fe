package postgres

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

// populate gives an embedded store a bit of everything Copy must move.
func populate(t *testing.T, s store.Store, at time.Time) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	acme, err := s.CreateUser(ctx, "acme", "")
	must(err)
	shop, err := s.CreateUser(ctx, "shop", "acme")
	must(err)
	must(s.CreateAPIKey(ctx, store.APIKey{ID: "k1", UserID: acme.ID, Name: "app", Scopes: []string{"mail.send"},
		Hash: []byte{0, 1, 2, 0xff}, CreatedAt: at, AllowIPs: []string{"127.0.0.0/8"}}))
	must(s.CreateAPIKey(ctx, store.APIKey{ID: "k2", UserID: shop.ID, Name: "old", Scopes: []string{"mail.send"},
		Hash: []byte{9}, CreatedAt: at, RevokedAt: at.Add(time.Minute)}))
	must(s.AddAllowedIP(ctx, acme.ID, "127.0.0.0/8", at))
	must(s.SetLimit(ctx, store.LimitRow{Kind: "user", Subject: "shop", Period: "hour", Messages: 20, Mode: "reject"}))
	must(s.UpdateCounters(ctx, []string{"user:shop"}, at, func([]store.Counter) ([]store.Counter, error) {
		start := at.UTC().Truncate(time.Hour)
		return []store.Counter{{Subject: "user:shop", Period: "hour", Start: start, End: start.Add(time.Hour), Messages: 3, Recipients: 4}}, nil
	}))
	_, err = s.CreateDomain(ctx, store.Domain{Name: "acme.test", UserID: acme.ID, State: store.DomainVerified,
		RSASelector: "r1", RSAKey: []byte("rsa-private"), EdSelector: "e1", EdKey: []byte("ed-private"), CreatedAt: at, Shared: true},
		[]store.DomainEvent{{Domain: "acme.test", Type: "added", Detail: "by operator", At: at}})
	must(err)
	must(s.AddSender(ctx, store.Sender{Address: "ceo@other.test", UserID: shop.ID, Verified: true, ByOperator: true, CreatedAt: at, VerifiedAt: at}))
	_, err = s.Secret(ctx, "returnpath", []byte("secret-key"))
	must(err)
	must(s.AddSuppression(ctx, store.Suppression{UserID: shop.ID, Address: "gone@example.com", Reason: "bounce 5.1.1", CreatedAt: at}))
	must(s.EnqueueBatch(ctx, []store.NewMessage{
		{ID: "m1", UserID: acme.ID, KeyID: "k1", From: "a@acme.test", Recipients: []string{"x@example.com", "y@example.com"},
			Body: []byte("Subject: one\r\n\r\n\x00\xff body\r\n"), CreatedAt: at, Meta: `{"categories":["c"]}`},
		{ID: "m2", UserID: shop.ID, KeyID: "k2", From: "ceo@other.test", Recipients: []string{"z@example.com"},
			Body: []byte("Subject: two\r\n\r\nbody\r\n"), CreatedAt: at.Add(time.Second)},
	}))
	cs, err := s.ClaimDue(ctx, at.Add(time.Minute), 1, func(int) time.Time { return at.Add(time.Hour) })
	must(err)
	must(s.RecordAttempt(ctx, store.Attempt{MessageID: cs[0].ID, At: at.Add(time.Minute),
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}},
		Events:  []store.Event{{MessageID: cs[0].ID, Recipient: "x@example.com", Type: store.EventDelivered, Detail: "250 ok", At: at.Add(time.Minute)}}}))
}

// view is what the store shows of everything populate wrote.
func view(t *testing.T, s store.Store) map[string]any {
	t.Helper()
	ctx := context.Background()
	v := map[string]any{}
	get := func(name string, val any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v[name] = val
	}
	users, err := s.Users(ctx)
	get("users", users, err)
	keys, err := s.APIKeys(ctx, "")
	get("keys", keys, err)
	domains, err := s.Domains(ctx, "")
	get("domains", domains, err)
	devents, err := s.DomainEvents(ctx, "acme.test")
	get("domain events", devents, err)
	senders, err := s.Senders(ctx, "")
	get("senders", senders, err)
	limits, err := s.Limits(ctx, "", "")
	get("limits", limits, err)
	secret, err := s.Secret(ctx, "returnpath", []byte("other"))
	get("secret", secret, err)
	msgs, err := s.Messages(ctx)
	get("messages", msgs, err)
	for _, u := range users {
		ips, err := s.AllowedIPs(ctx, u.ID)
		get("ips "+u.Name, ips, err)
		sup, err := s.Suppressions(ctx, u.ID)
		get("suppressions "+u.Name, sup, err)
	}
	for _, m := range msgs {
		body, err := s.MessageBody(ctx, m.ID)
		get("body "+m.ID, body, err)
		ev, err := s.Events(ctx, m.ID)
		get("events "+m.ID, ev, err)
		rs, err := s.Recipients(ctx, m.ID)
		get("recipients "+m.ID, rs, err)
	}
	var counters []store.Counter
	err = s.UpdateCounters(ctx, []string{"user:shop"}, time.Time{}, func(c []store.Counter) ([]store.Counter, error) {
		counters = c
		return nil, nil
	})
	get("counters", counters, err)
	return v
}

func TestCopyFromSQLite(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 10, 30, 0, 0, time.UTC)
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "postern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	populate(t, src, at)
	dst, _ := openTemp(t)
	defer dst.Close()

	counts, err := Copy(ctx, src.WriterPool(), dst)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	byTable := map[string]int64{}
	for _, c := range counts {
		byTable[c.Table] = c.Rows
	}
	for table, want := range map[string]int64{"users": 2, "api_keys": 2, "domains": 1, "senders": 1, "messages": 2,
		"message_recipients": 3, "events": 4, "suppressions": 1, "secrets": 1, "counters": 1, "limits": 1, "ip_allowlist": 1, "domain_events": 1} {
		if byTable[table] != want {
			t.Errorf("copied %d rows of %s, want %d", byTable[table], table, want)
		}
	}
	want, got := view(t, src), view(t, dst)
	for name := range want {
		// Printed, so that an empty and a nil byte slice compare equal:
		// the drivers read an empty BLOB or BYTEA differently.
		if fmt.Sprintf("%+v", got[name]) != fmt.Sprintf("%+v", want[name]) {
			t.Errorf("%s after the copy:\n got %+v\nwant %+v", name, got[name], want[name])
		}
	}

	// New rows get new ids, past the copied ones.
	u, err := dst.CreateUser(ctx, "beta", "")
	if err != nil {
		t.Fatalf("CreateUser after the copy: %v", err)
	}
	for _, old := range want["users"].([]store.User) {
		if u.ID <= old.ID {
			t.Errorf("new user id %d not past copied id %d", u.ID, old.ID)
		}
	}
	// The queued message is still due, on the new store.
	cs, err := dst.ClaimDue(ctx, at.Add(2*time.Hour), 10, func(int) time.Time { return at.Add(3 * time.Hour) })
	if err != nil || len(cs) != 2 {
		t.Fatalf("claims after the copy: %+v %v", cs, err)
	}

	// A second copy into a store with data is refused, and changes nothing.
	if _, err := Copy(ctx, src.WriterPool(), dst); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("second Copy: %v, want ErrNotEmpty", err)
	}
}
