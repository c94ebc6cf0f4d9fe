package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// RunShared runs the cases about several handles on one database: what
// several nodes of a cluster (or an admin command beside `postern serve`)
// do at once. open must return n handles on one new, empty database; Run
// closes them when the subtest ends.
func RunShared(t *testing.T, open func(t *testing.T, n int) []store.Store) {
	t.Helper()
	fresh := func(t *testing.T, n int) []store.Store {
		t.Helper()
		ss := open(t, n)
		t.Cleanup(func() {
			for _, s := range ss {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		})
		return ss
	}
	t.Run("ClaimConcurrent", func(t *testing.T) { testClaimConcurrent(t, fresh(t, 3)) })
	t.Run("ClaimTakenOver", func(t *testing.T) { testClaimTakenOver(t, fresh(t, 2)) })
	t.Run("CountersConcurrent", func(t *testing.T) { testCountersConcurrent(t, fresh(t, 3)) })
	t.Run("LeaseRace", func(t *testing.T) { testLeaseRace(t, fresh(t, 3)) })
	t.Run("OutboxClaimConcurrent", func(t *testing.T) { testOutboxClaimConcurrent(t, fresh(t, 3)) })
}

// testClaimConcurrent: handles claiming due messages at once, several
// claimers each, never claim one message twice, and together claim all.
func testClaimConcurrent(t *testing.T, ss []store.Store) {
	ctx := context.Background()
	const total = 120
	u := mustCreateUser(t, ss[0], "acme", "")
	var batch []store.NewMessage
	for i := range total {
		m := simpleMessage(fmt.Sprintf("m%03d", i), u.ID)
		m.CreatedAt = base.Add(time.Duration(i) * time.Millisecond)
		batch = append(batch, m)
	}
	if err := ss[0].EnqueueBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	now := base.Add(time.Minute)
	next := func(int) time.Time { return now.Add(time.Hour) }
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for _, s := range ss {
		for range 3 {
			wg.Go(func() {
				<-start
				for {
					cs, err := s.ClaimDue(ctx, now, 7, next)
					if err != nil {
						t.Errorf("ClaimDue: %v", err)
						return
					}
					if len(cs) == 0 {
						return
					}
					mu.Lock()
					for _, c := range cs {
						claimed[c.ID]++
					}
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	if len(claimed) != total {
		t.Errorf("%d distinct messages claimed, want %d", len(claimed), total)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", id, n)
		}
	}
	m, err := ss[1].Message(ctx, "m000")
	if err != nil || m.Attempts != 1 {
		t.Errorf("m000 after the claims: %+v, %v; want 1 attempt", m, err)
	}
}

// testClaimTakenOver: a claim is a lease until its saved next attempt; a
// handle that claimed and then vanished (a node killed mid-delivery) is
// taken over by another once the lease ends, with the attempt counted.
func testClaimTakenOver(t *testing.T, ss []store.Store) {
	ctx := context.Background()
	dead, live := ss[0], ss[1]
	u := mustCreateUser(t, live, "acme", "")
	if err := live.EnqueueBatch(ctx, []store.NewMessage{simpleMessage("m1", u.ID)}); err != nil {
		t.Fatal(err)
	}
	lease := base.Add(5 * time.Minute)
	cs, err := dead.ClaimDue(ctx, base, 10, func(int) time.Time { return lease })
	if err != nil || len(cs) != 1 {
		t.Fatalf("first claim: %+v %v", cs, err)
	}
	// The claimer never records its attempt.
	if cs, err := live.ClaimDue(ctx, lease.Add(-time.Second), 10, func(int) time.Time { return lease.Add(time.Hour) }); err != nil || len(cs) != 0 {
		t.Fatalf("claimed within the lease: %+v %v", cs, err)
	}
	cs, err = live.ClaimDue(ctx, lease, 10, func(int) time.Time { return lease.Add(time.Hour) })
	if err != nil || len(cs) != 1 || cs[0].ID != "m1" || cs[0].Attempts != 2 || len(cs[0].Recipients) != 2 {
		t.Fatalf("take-over claim: %+v %v", cs, err)
	}
}

// testCountersConcurrent: reservations racing on several handles, each
// admitted only while the count is under the limit, admit exactly the
// limit.
func testCountersConcurrent(t *testing.T, ss []store.Store) {
	ctx := context.Background()
	const limit, tries = 20, 60
	now := base
	subjects := []string{"user acme", "key k1"}
	var (
		mu       sync.Mutex
		admitted int
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i := range tries {
		s := ss[i%len(ss)]
		wg.Go(func() {
			<-start
			ok := false
			err := s.UpdateCounters(ctx, subjects, now, func(cur []store.Counter) ([]store.Counter, error) {
				ok = false
				for _, c := range cur {
					if c.Subject == "user acme" && c.Period == "hour" && c.Messages >= limit {
						return nil, nil
					}
				}
				ok = true
				return []store.Counter{hourWindow("user acme", now, 1, 1), hourWindow("key k1", now, 1, 1)}, nil
			})
			if err != nil {
				t.Errorf("UpdateCounters: %v", err)
				return
			}
			if ok {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if admitted != limit {
		t.Errorf("admitted %d of %d racing reservations, want exactly %d", admitted, tries, limit)
	}
	var got []store.Counter
	if err := ss[0].UpdateCounters(ctx, subjects, now, func(c []store.Counter) ([]store.Counter, error) { got = c; return nil, nil }); err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.Messages != limit {
			t.Errorf("counter %+v, want %d messages", c, limit)
		}
	}
}
