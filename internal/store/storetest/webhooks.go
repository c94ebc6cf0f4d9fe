package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

func testWebhooks(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	other := mustCreateUser(t, s, "beta", "")
	hook := store.Webhook{ID: "wh1", UserID: u.ID, URL: "https://hooks.example.com/sg", Enabled: true,
		Events: []store.EventType{store.EventProcessed, store.EventDelivered}, CreatedAt: base, UpdatedAt: base}
	if err := s.CreateWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebhook(ctx, hook); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate id: %v, want ErrExists", err)
	}
	if err := s.CreateWebhook(ctx, store.Webhook{ID: "wh-x", UserID: 999, CreatedAt: base, UpdatedAt: base}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	// A disabled webhook of the same user, and another user's: neither
	// gets acme's events.
	if err := s.CreateWebhook(ctx, store.Webhook{ID: "wh2", UserID: u.ID, URL: "https://b.example.com/", Enabled: false,
		Events: []store.EventType{store.EventProcessed}, CreatedAt: base.Add(time.Second), UpdatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebhook(ctx, store.Webhook{ID: "wh3", UserID: other.ID, URL: "https://c.example.com/", Enabled: true,
		Events: []store.EventType{store.EventProcessed}, CreatedAt: base, UpdatedAt: base}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Webhook(ctx, "wh1")
	if err != nil || got.URL != hook.URL || !got.Enabled || fmt.Sprint(got.Events) != "[processed delivered]" || got.UserID != u.ID {
		t.Fatalf("Webhook = %+v, %v", got, err)
	}
	checkTime(t, "CreatedAt", got.CreatedAt, stored(base))
	if hs, err := s.Webhooks(ctx, u.ID); err != nil || len(hs) != 2 || hs[0].ID != "wh1" || hs[1].ID != "wh2" {
		t.Fatalf("Webhooks = %+v, %v", hs, err)
	}
	if _, err := s.Webhook(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown webhook: %v", err)
	}

	// Events go to the outbox with the transaction that records them.
	m := simpleMessage("m1", u.ID) // two recipients
	dsnMsg := simpleMessage("dsn1", u.ID)
	dsnMsg.From = ""
	if err := s.EnqueueBatch(ctx, []store.NewMessage{m, dsnMsg}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.OutboxBacklog(ctx, "wh1"); err != nil || n != 2 {
		t.Fatalf("backlog after enqueue = %d, %v; want m1's two processed events (none for the DSN)", n, err)
	}
	for _, id := range []string{"wh2", "wh3"} {
		if n, _ := s.OutboxBacklog(ctx, id); n != 0 {
			t.Errorf("%s has %d items of acme's events", id, n)
		}
	}
	if err := s.RecordAttempt(ctx, store.Attempt{MessageID: "m1", At: base.Add(time.Minute),
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}, {Idx: 1, State: store.RcptPending, Result: "451 later"}},
		Events: []store.Event{
			{MessageID: "m1", Recipient: "r1@example.com", Type: store.EventDelivered, Detail: "250 ok", At: base.Add(time.Minute)},
			{MessageID: "m1", Recipient: "r2@example.com", Type: store.EventDeferred, Detail: "451 later", At: base.Add(time.Minute)},
		}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx, "wh1"); n != 3 {
		t.Fatalf("backlog = %d, want 3: the deferral is not among wh1's events", n)
	}

	// Claims lease; delivered items go, failed ones come back later.
	now := base.Add(2 * time.Minute)
	items, err := s.ClaimOutbox(ctx, now, 10, time.Minute)
	if err != nil || len(items) != 3 {
		t.Fatalf("ClaimOutbox = %+v, %v", items, err)
	}
	if items[0].WebhookID != "wh1" || items[0].Event.Type != store.EventProcessed || items[0].Event.MessageID != "m1" ||
		items[2].Event.Type != store.EventDelivered || items[2].Event.Detail != "250 ok" || items[0].Attempts != 0 {
		t.Fatalf("items = %+v", items)
	}
	checkTime(t, "event time", items[2].Event.At, stored(base.Add(time.Minute)))
	if again, _ := s.ClaimOutbox(ctx, now.Add(30*time.Second), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed again within the lease: %+v", again)
	}
	if err := s.OutboxDelivered(ctx, "wh1", []int64{items[0].ID, items[1].ID}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.OutboxFailed(ctx, "wh1", []int64{items[2].ID}, now.Add(5*time.Minute), "HTTP 503", now); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx, "wh1"); n != 1 {
		t.Fatalf("backlog = %d, want the failed one", n)
	}
	w, _ := s.Webhook(ctx, "wh1")
	if w.LastError != "HTTP 503" || !w.LastErrorAt.Equal(stored(now)) || !w.LastSuccessAt.Equal(stored(now)) {
		t.Errorf("webhook record = %+v", w)
	}
	if again, _ := s.ClaimOutbox(ctx, now.Add(4*time.Minute), 10, time.Minute); len(again) != 0 {
		t.Fatalf("claimed before its retry: %+v", again)
	}
	again, err := s.ClaimOutbox(ctx, now.Add(5*time.Minute), 10, time.Minute)
	if err != nil || len(again) != 1 || again[0].Attempts != 1 {
		t.Fatalf("retry claim = %+v, %v", again, err)
	}
	if err := s.OutboxDiscard(ctx, "wh1", []int64{again[0].ID}, "gave up after 72h", now); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx, "wh1"); n != 0 {
		t.Fatalf("backlog after discard = %d", n)
	}

	// Settings change; deleting a webhook takes its outbox with it.
	w.Enabled, w.URL, w.Signed, w.PrivateKey = false, "https://new.example.com/", true, []byte{1, 2, 3}
	w.UpdatedAt = base.Add(time.Hour)
	if err := s.UpdateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Webhook(ctx, "wh1"); got.Enabled || got.URL != "https://new.example.com/" || !got.Signed || string(got.PrivateKey) != "\x01\x02\x03" {
		t.Fatalf("after update: %+v", got)
	}
	if err := s.UpdateWebhook(ctx, store.Webhook{ID: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}
	if err := s.EnqueueBatch(ctx, []store.NewMessage{simpleMessage("m2", other.ID)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx, "wh3"); n != 2 {
		t.Fatalf("beta's backlog = %d", n)
	}
	if err := s.DeleteWebhook(ctx, "wh3"); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.OutboxBacklog(ctx, "wh3"); n != 0 {
		t.Errorf("deleted webhook's backlog = %d", n)
	}
	if err := s.DeleteWebhook(ctx, "wh3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// testOutboxClaimConcurrent: handles claiming the outbox at once never
// take one item twice.
func testOutboxClaimConcurrent(t *testing.T, ss []store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, ss[0], "acme", "")
	if err := ss[0].CreateWebhook(ctx, store.Webhook{ID: "wh1", UserID: u.ID, URL: "https://h.example.com/", Enabled: true,
		Events: []store.EventType{store.EventProcessed}, CreatedAt: base, UpdatedAt: base}); err != nil {
		t.Fatal(err)
	}
	var batch []store.NewMessage
	for i := range 50 {
		batch = append(batch, simpleMessage(fmt.Sprintf("m%03d", i), u.ID)) // two recipients each
	}
	if err := ss[0].EnqueueBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		seen  = map[int64]int{}
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for _, s := range ss {
		for range 3 {
			wg.Go(func() {
				<-start
				for {
					items, err := s.ClaimOutbox(ctx, base.Add(time.Minute), 7, time.Hour)
					if err != nil {
						t.Errorf("ClaimOutbox: %v", err)
						return
					}
					if len(items) == 0 {
						return
					}
					mu.Lock()
					for _, it := range items {
						seen[it.ID]++
					}
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(seen) != 100 {
		t.Errorf("%d items claimed, want 100", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("item %d claimed %d times", id, n)
		}
	}
}
