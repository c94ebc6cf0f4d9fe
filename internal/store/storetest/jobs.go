package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	take := func(holder string, at time.Time) bool {
		t.Helper()
		ok, err := s.TakeLease(ctx, "retention", holder, at, time.Minute)
		if err != nil {
			t.Fatalf("TakeLease(%s): %v", holder, err)
		}
		return ok
	}
	if !take("a", base) {
		t.Fatal("a free lease was not given")
	}
	if take("b", base.Add(30*time.Second)) {
		t.Fatal("b took a's lease before it expired")
	}
	if take("a", base.Add(50*time.Second)) {
		t.Fatal("a took its own lease again before it expired")
	}
	if !take("b", base.Add(60*time.Second)) {
		t.Fatal("b could not take the expired lease")
	}
	if take("a", base.Add(110*time.Second)) {
		t.Fatal("a took b's lease before it expired")
	}
	if ok, err := s.TakeLease(ctx, "recheck", "a", base.Add(110*time.Second), time.Minute); err != nil || !ok {
		t.Fatalf("another lease name: %v, %v", ok, err)
	}
}

func testPurgeFinished(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	old, fresh, pending := simpleMessage("old", u.ID), simpleMessage("fresh", u.ID), simpleMessage("pending", u.ID)
	fresh.CreatedAt = base.Add(48 * time.Hour)
	if err := s.EnqueueBatch(ctx, []store.NewMessage{old, fresh, pending}); err != nil {
		t.Fatal(err)
	}
	finish := func(id string) {
		t.Helper()
		if err := s.RecordAttempt(ctx, store.Attempt{MessageID: id, At: base.Add(49 * time.Hour), Updates: []store.RecipientUpdate{
			{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}, {Idx: 1, State: store.RcptBounced, Result: "550 no"}}}); err != nil {
			t.Fatal(err)
		}
	}
	finish("old")
	finish("fresh")
	usageBefore, err := s.UsageSince(ctx, base.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeFinished(ctx, base.Add(24*time.Hour), 100)
	if err != nil || n != 1 {
		t.Fatalf("PurgeFinished = %d, %v; want the one old finished message", n, err)
	}
	if n, err := s.PurgeFinished(ctx, base.Add(24*time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("second PurgeFinished = %d, %v; want nothing left", n, err)
	}
	body, err := s.MessageBody(ctx, "old")
	if err != nil || len(body) != 0 {
		t.Errorf("purged body = %q, %v; want empty", body, err)
	}
	m, err := s.Message(ctx, "old")
	if err != nil || m.State != store.StateDone || m.Size != int64(len(old.Body)) || len(m.Recipients) != 0 {
		t.Errorf("purged message = %+v, %v; want done, its size kept, no recipients", m, err)
	}
	if ev, err := s.Events(ctx, "old"); err != nil || len(ev) == 0 {
		t.Errorf("purged message's events = %v, %v; want them kept", ev, err)
	}
	for _, id := range []string{"fresh", "pending"} {
		if b, err := s.MessageBody(ctx, id); err != nil || len(b) == 0 {
			t.Errorf("%s body = %d bytes, %v; want it kept (too new, or not finished)", id, len(b), err)
		}
	}
	usageAfter, err := s.UsageSince(ctx, base.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(usageAfter) != fmt.Sprint(usageBefore) || len(usageAfter) != 1 || usageAfter[0].Messages != 3 || usageAfter[0].Recipients != 6 {
		t.Errorf("usage after the purge = %+v, before %+v; want 3 messages, 6 recipients both times", usageAfter, usageBefore)
	}
}

// testLeaseRace: handles asking for one free lease at once give it to
// exactly one.
func testLeaseRace(t *testing.T, ss []store.Store) {
	ctx := context.Background()
	var (
		mu    sync.Mutex
		won   []string
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i, s := range ss {
		for j := range 4 {
			holder := fmt.Sprintf("node%d-%d", i, j)
			wg.Go(func() {
				<-start
				ok, err := s.TakeLease(ctx, "recheck", holder, base, time.Minute)
				if err != nil {
					t.Errorf("TakeLease: %v", err)
				}
				if ok {
					mu.Lock()
					won = append(won, holder)
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(won) != 1 {
		t.Errorf("lease given to %v, want exactly one holder", won)
	}
}
