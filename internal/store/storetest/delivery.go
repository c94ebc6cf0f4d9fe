package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

func testClaimDue(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	m := simpleMessage("m1", u.ID)
	if err := s.EnqueueBatch(ctx, []store.NewMessage{m}); err != nil {
		t.Fatal(err)
	}
	// Not due before its creation time.
	if cs, err := s.ClaimDue(ctx, base.Add(-time.Second), 10, nil); err != nil || len(cs) != 0 {
		t.Fatalf("early claim: %v %v", cs, err)
	}
	var asked []int
	next := func(n int) time.Time { asked = append(asked, n); return base.Add(time.Duration(n) * time.Minute) }
	cs, err := s.ClaimDue(ctx, base, 10, next)
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %v %v", cs, err)
	}
	c := cs[0]
	if c.ID != "m1" || c.UserID != u.ID || c.UserName != "acme" || c.From != m.From || c.Attempts != 1 || len(asked) != 1 || asked[0] != 1 {
		t.Fatalf("claim %+v asked %v", c, asked)
	}
	checkTime(t, "NextAttempt", c.NextAttempt, stored(base.Add(time.Minute)))
	checkTime(t, "CreatedAt", c.CreatedAt, stored(base))
	if len(c.Recipients) != 2 || c.Recipients[1].Address != "r2@example.com" || c.Recipients[1].State != store.RcptPending {
		t.Fatalf("recipients %+v", c.Recipients)
	}
	// The lease holds: not due again until NextAttempt.
	if cs, _ := s.ClaimDue(ctx, base.Add(30*time.Second), 10, next); len(cs) != 0 {
		t.Fatalf("claimed twice within the lease: %+v", cs)
	}
	cs, err = s.ClaimDue(ctx, base.Add(time.Minute), 10, next)
	if err != nil || len(cs) != 1 || cs[0].Attempts != 2 {
		t.Fatalf("second claim: %+v %v", cs, err)
	}
	ev, err := s.Events(ctx, "m1")
	if err != nil || len(ev) != 2 || ev[0].Type != store.EventProcessed || ev[0].Recipient != "r1@example.com" {
		t.Fatalf("events %+v %v", ev, err)
	}
}

func testRecordAttempt(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	if err := s.EnqueueBatch(ctx, []store.NewMessage{simpleMessage("m1", u.ID)}); err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Minute)
	bounce := simpleMessage("dsn1", u.ID)
	bounce.From, bounce.Recipients, bounce.CreatedAt = "", []string{"a@acme.example"}, at
	err := s.RecordAttempt(ctx, store.Attempt{
		MessageID: "m1", At: at,
		Updates: []store.RecipientUpdate{
			{Idx: 0, State: store.RcptDelivered, Result: "250 ok"},
			{Idx: 1, State: store.RcptBounced, Result: "550 5.1.1 no such user"},
		},
		Events: []store.Event{
			{MessageID: "m1", Recipient: "r1@example.com", Type: store.EventDelivered, Detail: "250 ok", At: at},
			{MessageID: "m1", Recipient: "r2@example.com", Type: store.EventBounced, Detail: "550 5.1.1", At: at},
		},
		Suppress: []store.Suppression{{UserID: u.ID, Address: "R2@Example.com", Reason: "550 5.1.1", CreatedAt: at}},
		Notices:  []store.NewMessage{bounce},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.Message(ctx, "m1")
	if err != nil || msg.State != store.StateDone {
		t.Fatalf("message %+v %v", msg, err)
	}
	rs, err := s.Recipients(ctx, "m1")
	if err != nil || len(rs) != 2 || rs[0].State != store.RcptDelivered || rs[1].State != store.RcptBounced || rs[1].LastResult != "550 5.1.1 no such user" {
		t.Fatalf("recipients %+v %v", rs, err)
	}
	checkTime(t, "UpdatedAt", rs[0].UpdatedAt, stored(at))
	ev, _ := s.Events(ctx, "m1")
	if len(ev) != 4 || ev[3].Type != store.EventBounced {
		t.Fatalf("events %+v", ev)
	}
	// The DSN is queued, due at once, from the null sender.
	d, err := s.Message(ctx, "dsn1")
	if err != nil || d.From != "" || d.State != store.StateQueued {
		t.Fatalf("dsn %+v %v", d, err)
	}
	if d, b, err := s.BounceStats(ctx, "acme", at); err != nil || d != 1 || b != 1 {
		t.Fatalf("bounce stats %d %d %v", d, b, err)
	}
	if d, b, _ := s.BounceStats(ctx, "acme", at.Add(time.Second)); d+b != 0 {
		t.Fatalf("bounce stats after the window %d %d", d, b)
	}
	got, err := s.Suppressed(ctx, u.ID, []string{"r2@EXAMPLE.com", "r1@example.com"})
	if err != nil || len(got) != 1 || got["r2@EXAMPLE.com"].Reason != "550 5.1.1" {
		t.Fatalf("suppressed %+v %v", got, err)
	}
	// A failing attempt changes nothing (atomic): the DSN id is taken.
	err = s.RecordAttempt(ctx, store.Attempt{MessageID: "m1", At: at, Notices: []store.NewMessage{bounce},
		Events: []store.Event{{MessageID: "m1", Type: store.EventDeferred, At: at}}})
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate notice: %v", err)
	}
	if ev, _ := s.Events(ctx, "m1"); len(ev) != 4 {
		t.Fatalf("failed attempt left %d events", len(ev))
	}
	if _, err := s.Events(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("events of unknown: %v", err)
	}

	// Only a pending recipient changes, except to bounced: a late bounce
	// of the delivered r1 applies; a "delivered" recorded after it, or
	// after r2's bounce, does not undo them.
	later := at.Add(time.Hour)
	up := func(idx int, state store.RecipientState, result string) {
		t.Helper()
		if err := s.RecordAttempt(ctx, store.Attempt{MessageID: "m1", At: later,
			Updates: []store.RecipientUpdate{{Idx: idx, State: state, Result: result}}}); err != nil {
			t.Fatal(err)
		}
	}
	up(0, store.RcptPending, "451 try later")
	if rs, _ := s.Recipients(ctx, "m1"); rs[0].State != store.RcptDelivered {
		t.Fatalf("a delivered recipient went back to %s", rs[0].State)
	}
	up(0, store.RcptBounced, "bounced after delivery: 5.1.1")
	up(0, store.RcptDelivered, "250 ok")
	up(1, store.RcptDelivered, "250 ok")
	rs, _ = s.Recipients(ctx, "m1")
	if rs[0].State != store.RcptBounced || rs[0].LastResult != "bounced after delivery: 5.1.1" || rs[1].State != store.RcptBounced {
		t.Fatalf("after late updates %+v", rs)
	}
}

func testRetryAndDrop(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	if err := s.EnqueueBatch(ctx, []store.NewMessage{simpleMessage("m1", u.ID)}); err != nil {
		t.Fatal(err)
	}
	far := func(int) time.Time { return base.Add(time.Hour) }
	if cs, _ := s.ClaimDue(ctx, base, 10, far); len(cs) != 1 {
		t.Fatal("claim")
	}
	now := base.Add(time.Minute)
	if err := s.RetryNow(ctx, "m1", now); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.ClaimDue(ctx, now, 10, far); len(cs) != 1 {
		t.Fatal("retry now did not make the message due")
	}
	if err := s.RetryNow(ctx, "nope", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retry unknown: %v", err)
	}
	if err := s.Drop(ctx, "m1", "dropped by operator", now); err != nil {
		t.Fatal(err)
	}
	msg, _ := s.Message(ctx, "m1")
	rs, _ := s.Recipients(ctx, "m1")
	if msg.State != store.StateDone || rs[0].State != store.RcptDropped || rs[1].LastResult != "dropped by operator" {
		t.Fatalf("after drop: %+v %+v", msg, rs)
	}
	if err := s.Drop(ctx, "m1", "again", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("drop twice: %v", err)
	}
	if err := s.RetryNow(ctx, "m1", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retry of a done message: %v", err)
	}
}

func testSuppressions(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, "acme", "")
	b := mustCreateUser(t, s, "beta", "")
	add := func(u int64, addr string) error {
		return s.AddSuppression(ctx, store.Suppression{UserID: u, Address: addr, Reason: "manual", CreatedAt: base})
	}
	if err := add(a.ID, "X@Example.com"); err != nil {
		t.Fatal(err)
	}
	if err := add(a.ID, "x@example.com"); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := add(a.ID, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	list, err := s.Suppressions(ctx, a.ID)
	if err != nil || len(list) != 2 || list[0].Address != "a@example.com" || list[1].Address != "x@example.com" {
		t.Fatalf("list %+v %v", list, err)
	}
	// Lists are per user.
	if got, _ := s.Suppressed(ctx, b.ID, []string{"x@example.com"}); len(got) != 0 {
		t.Fatalf("other user's list leaked: %+v", got)
	}
	if err := s.RemoveSuppression(ctx, a.ID, "X@EXAMPLE.COM"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveSuppression(ctx, a.ID, "x@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
}

// testRecordAttemptNextAttempt: an attempt that leaves recipients pending
// may save the retry time itself, replacing the lease its claim saved.
func testRecordAttemptNextAttempt(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	if err := s.EnqueueBatch(ctx, []store.NewMessage{simpleMessage("m1", u.ID)}); err != nil {
		t.Fatal(err)
	}
	lease := base.Add(15 * time.Minute)
	if cs, err := s.ClaimDue(ctx, base, 10, func(int) time.Time { return lease }); err != nil || len(cs) != 1 {
		t.Fatalf("claim: %+v %v", cs, err)
	}
	retry := base.Add(2 * time.Minute)
	if err := s.RecordAttempt(ctx, store.Attempt{MessageID: "m1", At: base.Add(time.Minute), NextAttempt: retry,
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}, {Idx: 1, State: store.RcptPending, Result: "451 later"}}}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Message(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	checkTime(t, "NextAttempt after the attempt", m.NextAttempt, stored(retry))
	if cs, err := s.ClaimDue(ctx, retry, 10, func(int) time.Time { return lease.Add(time.Hour) }); err != nil || len(cs) != 1 || len(cs[0].Recipients) != 1 {
		t.Fatalf("claim at the saved retry: %+v %v", cs, err)
	}
	// Once nothing is pending, a next attempt is not saved: the message is done.
	if err := s.RecordAttempt(ctx, store.Attempt{MessageID: "m1", At: retry, NextAttempt: retry.Add(time.Hour),
		Updates: []store.RecipientUpdate{{Idx: 1, State: store.RcptDelivered, Result: "250 ok"}}}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Message(ctx, "m1"); err != nil || m.State != store.StateDone || !m.NextAttempt.IsZero() {
		t.Fatalf("finished message: %+v %v", m, err)
	}
}
