package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// testGauges: QueueCounts splits the messages not done by whether they
// were claimed, and OutboxTotal counts every webhook's items.
func testGauges(t *testing.T, s store.Store) {
	ctx := context.Background()
	check := func(what string, queued, deferred, outbox int64) {
		t.Helper()
		c, err := s.QueueCounts(ctx)
		if err != nil || c["queued"] != queued || c["deferred"] != deferred || len(c) > 2 {
			t.Errorf("%s: QueueCounts = %v, %v; want queued %d, deferred %d", what, c, err, queued, deferred)
		}
		if n, err := s.OutboxTotal(ctx); err != nil || n != outbox {
			t.Errorf("%s: OutboxTotal = %d, %v; want %d", what, n, err, outbox)
		}
	}
	check("empty", 0, 0, 0)
	u := mustCreateUser(t, s, "acme", "")
	other := mustCreateUser(t, s, "beta", "")
	for _, h := range []store.Webhook{
		{ID: "wh1", UserID: u.ID, URL: "https://a.example.com/", Enabled: true, Events: []store.EventType{store.EventProcessed, store.EventDelivered}},
		{ID: "wh2", UserID: other.ID, URL: "https://b.example.com/", Enabled: true, Events: []store.EventType{store.EventProcessed}},
	} {
		h.CreatedAt, h.UpdatedAt = base, base
		if err := s.CreateWebhook(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	m3 := simpleMessage("m3", other.ID)
	m3.CreatedAt = base.Add(time.Second)
	if err := s.EnqueueBatch(ctx, []store.NewMessage{simpleMessage("m1", u.ID), simpleMessage("m2", u.ID), m3}); err != nil {
		t.Fatal(err)
	}
	check("enqueued", 3, 0, 6) // two recipients each: six processed events
	cs, err := s.ClaimDue(ctx, base, 1, func(int) time.Time { return base.Add(time.Hour) })
	if err != nil || len(cs) != 1 {
		t.Fatalf("ClaimDue = %+v, %v", cs, err)
	}
	check("one claimed", 2, 1, 6)
	at := base.Add(time.Minute)
	if err := s.RecordAttempt(ctx, store.Attempt{MessageID: cs[0].ID, At: at,
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}, {Idx: 1, State: store.RcptDelivered, Result: "250 ok"}},
		Events: []store.Event{
			{MessageID: cs[0].ID, Recipient: "r1@example.com", Type: store.EventDelivered, Detail: "250 ok", At: at},
			{MessageID: cs[0].ID, Recipient: "r2@example.com", Type: store.EventDelivered, Detail: "250 ok", At: at},
		}}); err != nil {
		t.Fatal(err)
	}
	check("one done", 2, 0, 8) // wh1 takes delivered events too
	items, err := s.ClaimOutbox(ctx, at, 100, time.Minute)
	if err != nil || len(items) != 8 {
		t.Fatalf("ClaimOutbox = %d items, %v", len(items), err)
	}
	var ids []int64
	for _, it := range items {
		if it.WebhookID == "wh1" {
			ids = append(ids, it.ID)
		}
	}
	if err := s.OutboxDelivered(ctx, "wh1", ids, at); err != nil {
		t.Fatal(err)
	}
	check("wh1's items delivered", 2, 0, 8-int64(len(ids)))
}
