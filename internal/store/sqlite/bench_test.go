package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
)

// BenchmarkEnqueueBatch measures group commit: one EnqueueBatch of n
// messages with 4 KiB bodies per iteration, each a synced transaction.
func BenchmarkEnqueueBatch(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			db, _ := openTemp(b)
			defer db.Close()
			u, err := db.CreateUser(ctx, "bench", "")
			if err != nil {
				b.Fatal(err)
			}
			body := make([]byte, 4<<10)
			rand.Read(body)
			batch := make([]store.NewMessage, n)
			seq := 0
			b.SetBytes(int64(n * len(body)))
			b.ReportAllocs()
			stop := testenv.CPUPerOp(b)
			for b.Loop() {
				now := time.Now()
				for i := range batch {
					seq++
					batch[i] = store.NewMessage{
						ID: fmt.Sprintf("m%09d", seq), UserID: u.ID, KeyID: "k1",
						From:       "sender@bench.example",
						Recipients: []string{"a@example.com", "b@example.org"},
						Body:       body, CreatedAt: now,
					}
				}
				if err := db.EnqueueBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			stop()
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// benchFixture is one account with what a message touches on its way in:
// an API key, an allowed IP, a verified domain, a sender and a suppression.
type benchFixture struct {
	db   *DB
	user store.User
}

func newBenchFixture(b *testing.B) benchFixture {
	b.Helper()
	ctx := context.Background()
	db, _ := openTemp(b)
	b.Cleanup(func() { db.Close() })
	u, err := db.CreateUser(ctx, "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if err := db.CreateAPIKey(ctx, store.APIKey{ID: "k1", UserID: u.ID, Name: "bench", Scopes: []string{"mail.send"},
		Hash: []byte("hash"), CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := db.AddAllowedIP(ctx, u.ID, "192.0.2.0/24", now); err != nil {
		b.Fatal(err)
	}
	if err := db.AddDomain(ctx, store.Domain{Name: "bench.example", UserID: u.ID, State: store.DomainVerified,
		RSASelector: "r1", RSAKey: make([]byte, 1200), EdSelector: "e1", EdKey: make([]byte, 32), CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := db.AddSender(ctx, store.Sender{UserID: u.ID, Address: "sender@bench.example", Verified: true, CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := db.AddSuppression(ctx, store.Suppression{UserID: u.ID, Address: "gone@example.com", Reason: "550", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	if err := db.SetLimit(ctx, store.LimitRow{Kind: "user", Subject: "bench", Period: "day", Messages: 1000, Recipients: 5000, Mode: "reject"}); err != nil {
		b.Fatal(err)
	}
	return benchFixture{db: db, user: u}
}

// BenchmarkLookups measures the store reads a message costs on its way in
// (AUTH: APIKey, UserByName, AllowedIPs; MAIL FROM and signing: Domain,
// SendersByAddress; limits: Limits) and on its way out (MessageBody,
// Suppressed), one call per iteration.
func BenchmarkLookups(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()
	if err := f.db.EnqueueBatch(ctx, []store.NewMessage{{ID: "m1", UserID: f.user.ID, KeyID: "k1", From: "sender@bench.example",
		Recipients: []string{"a@example.com"}, Body: make([]byte, 4<<10), CreatedAt: time.Now()}}); err != nil {
		b.Fatal(err)
	}
	for _, bm := range []struct {
		name string
		call func() error
	}{
		{"APIKey", func() error { _, err := f.db.APIKey(ctx, "k1"); return err }},
		{"UserByName", func() error { _, err := f.db.UserByName(ctx, "bench"); return err }},
		{"AllowedIPs", func() error { _, err := f.db.AllowedIPs(ctx, f.user.ID); return err }},
		{"Domain", func() error { _, err := f.db.Domain(ctx, "bench.example"); return err }},
		{"SendersByAddress", func() error { _, err := f.db.SendersByAddress(ctx, "sender@bench.example"); return err }},
		{"Limits", func() error { _, err := f.db.Limits(ctx, "user", "bench"); return err }},
		{"MessageBody", func() error { _, err := f.db.MessageBody(ctx, "m1"); return err }},
		{"Suppressed", func() error {
			_, err := f.db.Suppressed(ctx, f.user.ID, []string{"a@example.com", "gone@example.com"})
			return err
		}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			defer testenv.CPUPerOp(b)()
			for b.Loop() {
				if err := bm.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeliveryCycle measures the store's share of one delivery
// attempt: ClaimDue of one message with two recipients, then RecordAttempt
// of a deferral for both (two updates, two events), each a synced
// transaction. The message stays due, so every iteration claims it again.
func BenchmarkDeliveryCycle(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()
	past := time.Unix(1, 0)
	if err := f.db.EnqueueBatch(ctx, []store.NewMessage{{ID: "m1", UserID: f.user.ID, KeyID: "k1", From: "sender@bench.example",
		Recipients: []string{"a@example.com", "b@example.org"}, Body: make([]byte, 4<<10), CreatedAt: past}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer testenv.CPUPerOp(b)()
	for b.Loop() {
		now := time.Now()
		claims, err := f.db.ClaimDue(ctx, now, 1, func(int) time.Time { return past })
		if err != nil {
			b.Fatal(err)
		}
		if len(claims) != 1 {
			b.Fatalf("claimed %d messages, want 1", len(claims))
		}
		c := claims[0]
		a := store.Attempt{MessageID: c.ID, At: now}
		for _, r := range c.Recipients {
			a.Updates = append(a.Updates, store.RecipientUpdate{Idx: r.Idx, State: store.RcptPending, Result: "451 4.3.0 try later"})
			a.Events = append(a.Events, store.Event{MessageID: c.ID, Recipient: r.Address, Type: store.EventDeferred, Detail: "451 4.3.0 try later", At: now})
		}
		if err := f.db.RecordAttempt(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordAttempts measures group commit of delivery results: one
// RecordAttempts of n deferrals (two recipient updates and two events
// each) per iteration, a synced transaction; batch=1 is what RecordAttempt
// costs. cpu-µs/attempt is the process's CPU per attempt recorded.
func BenchmarkRecordAttempts(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			f := newBenchFixture(b)
			ctx := context.Background()
			past := time.Unix(1, 0)
			msgs := make([]store.NewMessage, n)
			for i := range msgs {
				msgs[i] = store.NewMessage{ID: fmt.Sprintf("m%03d", i), UserID: f.user.ID, KeyID: "k1", From: "sender@bench.example",
					Recipients: []string{"a@example.com", "b@example.org"}, Body: make([]byte, 4<<10), CreatedAt: past}
			}
			if err := f.db.EnqueueBatch(ctx, msgs); err != nil {
				b.Fatal(err)
			}
			as := make([]store.Attempt, n)
			b.ReportAllocs()
			start := testenv.CPUTime(b)
			for b.Loop() {
				now := time.Now()
				for i := range as {
					id := msgs[i].ID
					as[i] = store.Attempt{MessageID: id, At: now,
						Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptPending, Result: "451 4.3.0 try later"},
							{Idx: 1, State: store.RcptPending, Result: "451 4.3.0 try later"}},
						Events: []store.Event{{MessageID: id, Recipient: "a@example.com", Type: store.EventDeferred, Detail: "451 4.3.0 try later", At: now},
							{MessageID: id, Recipient: "b@example.org", Type: store.EventDeferred, Detail: "451 4.3.0 try later", At: now}}}
				}
				if err := f.db.RecordAttempts(ctx, as); err != nil {
					b.Fatal(err)
				}
			}
			testenv.ReportCPU(b, start, b.N*n, "cpu-µs/attempt")
		})
	}
}
