package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// testRecordAttempts: several attempts in one transaction (the delivery
// worker's group commit), each applied as RecordAttempt applies it, given
// in any order; all or nothing when one of them fails; none is no
// transaction at all.
func testRecordAttempts(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	// A webhook of deliveries and bounces: every attempt's events reach
	// its outbox, whatever the batch.
	if err := s.CreateWebhook(ctx, store.Webhook{ID: "wh1", UserID: u.ID, URL: "https://hooks.example.com/", Enabled: true,
		Events: []store.EventType{store.EventDelivered, store.EventBounced}, CreatedAt: base, UpdatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueBatch(ctx, []store.NewMessage{simpleMessage("m1", u.ID), simpleMessage("m2", u.ID),
		simpleMessage("m3", u.ID), simpleMessage("m4", u.ID)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordAttempts(ctx, nil); err != nil {
		t.Fatalf("no attempts: %v", err)
	}
	at := base.Add(time.Minute)
	retry := base.Add(time.Hour)
	delivered := func(id string) store.Attempt {
		return store.Attempt{MessageID: id, At: at,
			Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}, {Idx: 1, State: store.RcptDelivered, Result: "250 ok"}},
			Events: []store.Event{{MessageID: id, Recipient: "r1@example.com", Type: store.EventDelivered, Detail: "250 ok", At: at},
				{MessageID: id, Recipient: "r2@example.com", Type: store.EventDelivered, Detail: "250 ok", At: at}}}
	}
	bounce := simpleMessage("dsn3", u.ID)
	bounce.From, bounce.Recipients, bounce.CreatedAt = "", []string{"a@acme.example"}, at
	mixed := store.Attempt{MessageID: "m3", At: at, NextAttempt: retry,
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptBounced, Result: "550 5.1.1 no such user"}, {Idx: 1, State: store.RcptPending, Result: "451 later"}},
		Events: []store.Event{{MessageID: "m3", Recipient: "r1@example.com", Type: store.EventBounced, Detail: "550 5.1.1", At: at},
			{MessageID: "m3", Recipient: "r2@example.com", Type: store.EventDeferred, Detail: "451 later", At: at}},
		Suppress: []store.Suppression{{UserID: u.ID, Address: "r1@example.com", Reason: "550 5.1.1", CreatedAt: at}},
		Notices:  []store.NewMessage{bounce}}
	// Out of id order on purpose.
	if err := s.RecordAttempts(ctx, []store.Attempt{delivered("m2"), mixed, delivered("m1")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"m1", "m2"} {
		m, err := s.Message(ctx, id)
		if err != nil || m.State != store.StateDone {
			t.Fatalf("%s: %+v %v", id, m, err)
		}
		if ev, _ := s.Events(ctx, id); len(ev) != 4 || ev[3].Type != store.EventDelivered {
			t.Fatalf("%s events %+v", id, ev)
		}
	}
	m3, err := s.Message(ctx, "m3")
	if err != nil || m3.State != store.StateQueued {
		t.Fatalf("m3 %+v %v", m3, err)
	}
	checkTime(t, "m3 NextAttempt", m3.NextAttempt, stored(retry))
	if rs, _ := s.Recipients(ctx, "m3"); len(rs) != 2 || rs[0].State != store.RcptBounced || rs[1].State != store.RcptPending {
		t.Fatalf("m3 recipients %+v", rs)
	}
	if d, err := s.Message(ctx, "dsn3"); err != nil || d.State != store.StateQueued {
		t.Fatalf("dsn %+v %v", d, err)
	}
	if got, _ := s.Suppressed(ctx, u.ID, []string{"r1@example.com"}); len(got) != 1 {
		t.Fatalf("suppressed %+v", got)
	}
	if m4, _ := s.Message(ctx, "m4"); m4.State != store.StateQueued {
		t.Fatalf("m4, in no attempt, is %s", m4.State)
	}
	// m1 and m2: two deliveries each; m3: one bounce.
	if n, err := s.OutboxBacklog(ctx, "wh1"); err != nil || n != 5 {
		t.Fatalf("outbox backlog %d, %v; want 5", n, err)
	}

	// One attempt that fails (its DSN's id is taken) fails the batch, and
	// its neighbour is not recorded either.
	bad := store.Attempt{MessageID: "m3", At: at, Notices: []store.NewMessage{bounce},
		Events: []store.Event{{MessageID: "m3", Type: store.EventDeferred, At: at}}}
	err = s.RecordAttempts(ctx, []store.Attempt{delivered("m4"), bad})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("batch with a duplicate notice: %v", err)
	}
	if m4, _ := s.Message(ctx, "m4"); m4.State != store.StateQueued {
		t.Fatalf("a failed batch recorded m4: %s", m4.State)
	}
	if ev, _ := s.Events(ctx, "m4"); len(ev) != 2 {
		t.Fatalf("a failed batch left %d events of m4", len(ev))
	}
	// Alone, the good attempt is recorded.
	if err := s.RecordAttempts(ctx, []store.Attempt{delivered("m4")}); err != nil {
		t.Fatal(err)
	}
	if m4, _ := s.Message(ctx, "m4"); m4.State != store.StateDone {
		t.Fatalf("m4 %s", m4.State)
	}
	if n, _ := s.OutboxBacklog(ctx, "wh1"); n != 7 {
		t.Fatalf("outbox backlog %d, want 7 (the failed batch added none)", n)
	}

	// Many events at once (the outbox takes them in pieces): each once.
	backlog := 7
	for _, k := range []int{9, 64, 70, 140} {
		id := fmt.Sprintf("big%d", k)
		m := simpleMessage(id, u.ID)
		m.Recipients = nil
		a := store.Attempt{MessageID: id, At: at}
		for i := range k {
			r := fmt.Sprintf("r%d@example.com", i)
			m.Recipients = append(m.Recipients, r)
			a.Updates = append(a.Updates, store.RecipientUpdate{Idx: i, State: store.RcptDelivered, Result: "250 ok"})
			a.Events = append(a.Events, store.Event{MessageID: id, Recipient: r, Type: store.EventDelivered, Detail: "250 ok", At: at})
		}
		if err := s.EnqueueBatch(ctx, []store.NewMessage{m}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordAttempts(ctx, []store.Attempt{a}); err != nil {
			t.Fatal(err)
		}
		backlog += k
		if n, _ := s.OutboxBacklog(ctx, "wh1"); n != backlog {
			t.Fatalf("%d events: outbox backlog %d, want %d", k, n, backlog)
		}
	}
}
