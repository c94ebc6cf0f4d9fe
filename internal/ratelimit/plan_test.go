package ratelimit

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mapCounter is a counter kept outside a Limiter, as a store keeps it:
// rows keyed by subject, period and window start, decided on by Plan.
type mapCounter map[mapKey]Counts

type mapKey struct {
	subject Subject
	period  Period
	start   int64
}

func (m mapCounter) lookup(s Subject, p Period, at time.Time) Counts {
	start, _ := Window(p, at)
	return m[mapKey{s, p, start.Unix()}]
}

// reserve is Limiter.Reserve redone over the map: Plan, then one count
// per distinct subject in each period's window containing Plan's time.
func (m mapCounter) reserve(req Request) Decision {
	d, at := Plan(req, req.Now, m.lookup)
	if !d.Allow {
		return d
	}
	seen := map[Subject]bool{}
	for _, sl := range req.Subjects {
		if seen[sl.Subject] {
			continue
		}
		seen[sl.Subject] = true
		for _, p := range Periods() {
			start, _ := Window(p, at)
			k := mapKey{sl.Subject, p, start.Unix()}
			c := m[k]
			c.Messages++
			c.Recipients += max(req.Recipients, 0)
			m[k] = c
		}
	}
	return d
}

func sameDecision(a, b Decision) bool {
	if (a.Blocking == nil) != (b.Blocking == nil) || (a.Blocking != nil && *a.Blocking != *b.Blocking) {
		return false
	}
	return a.Allow == b.Allow && a.Hold == b.Hold && a.HoldUntil.Equal(b.HoldUntil) &&
		a.RetryAfter == b.RetryAfter && a.Permanent == b.Permanent &&
		a.BlockingSubject == b.BlockingSubject && a.Reason == b.Reason
}

// TestPlanDecidesAsTheLimiter: Plan over counters kept elsewhere gives,
// request after request, the decisions of the Limiter, held mail and its
// release windows included.
func TestPlanDecidesAsTheLimiter(t *testing.T) {
	start := utc(2026, 3, 14, 22, 50, 0) // the run crosses an hour, a day and the limits' windows
	tests := []struct {
		name     string
		subjects []SubjectLimits
		steps    int
		maxStep  time.Duration
		maxRcpts int64
	}{
		{
			name: "reject limits",
			subjects: []SubjectLimits{
				sl(keyK1, Limit{Period: Minute, Messages: 3}, Limit{Period: Hour, Recipients: 40}),
				sl(userAcm, Limit{Period: Day, Messages: 60}),
			},
			steps: 400, maxStep: 20 * time.Second, maxRcpts: 5,
		},
		{
			name: "hold limits",
			subjects: []SubjectLimits{
				sl(keyK1),
				sl(userAcm, Limit{Period: Minute, Messages: 2, Mode: ModeHold}, Limit{Period: Hour, Recipients: 30, Mode: ModeHold}),
			},
			steps: 300, maxStep: 30 * time.Second, maxRcpts: 4,
		},
		{
			name: "hold with reject at release",
			subjects: []SubjectLimits{
				sl(keyK1, Limit{Period: Minute, Messages: 2}, Limit{Period: Day, Messages: 150}),
				sl(userAcm, Limit{Period: Hour, Messages: 12, Mode: ModeHold}),
				sl(account, Limit{Period: Month, Recipients: 450}),
			},
			steps: 400, maxStep: 90 * time.Second, maxRcpts: 3,
		},
		{
			name: "oversize and the same subject twice",
			subjects: []SubjectLimits{
				sl(userAcm, Limit{Period: Hour, Recipients: 6, Mode: ModeHold}),
				sl(userAcm, Limit{Period: Minute, Messages: 2}),
			},
			steps: 200, maxStep: 15 * time.Second, maxRcpts: 8,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, uint64(len(tt.name))))
			l := NewLimiter()
			m := mapCounter{}
			now := start
			holds := 0
			for i := range tt.steps {
				r := req(now, rng.Int64N(tt.maxRcpts+1), tt.subjects...)
				got := m.reserve(r)
				want, _ := l.Reserve(r)
				if !sameDecision(got, want) {
					t.Fatalf("step %d at %v: Plan gave %+v, the Limiter %+v", i, now, got, want)
				}
				if got.Hold {
					holds++
				}
				now = now.Add(time.Duration(rng.Int64N(int64(tt.maxStep))))
			}
			if hasHold(tt.subjects) && holds == 0 {
				t.Errorf("no message was held: the sequence does not exercise hold mode")
			}
		})
	}
}

func hasHold(sls []SubjectLimits) bool {
	for _, s := range sls {
		for _, l := range s.Limits {
			if l.Mode.hold() {
				return true
			}
		}
	}
	return false
}

func TestPlanHoldBacklogIsBounded(t *testing.T) {
	now := utc(2026, 3, 14, 15, 30, 0)
	full := func(Subject, Period, time.Time) Counts { return Counts{Messages: 1} }
	d, at := Plan(req(now, 1, sl(userAcm, Limit{Period: Minute, Messages: 1, Mode: ModeHold})), now, full)
	if d.Allow || d.RetryAfter != time.Minute || !at.Equal(now) {
		t.Errorf("got %+v at %v", d, at)
	}
}

func TestReservationFunc(t *testing.T) {
	if ReservationFunc(nil) != (Reservation{}) {
		t.Errorf("ReservationFunc(nil) is not the zero Reservation")
	}
	var n atomic.Int64
	r := ReservationFunc(func() { n.Add(1) })
	if r == (Reservation{}) {
		t.Fatal("a ReservationFunc is the zero Reservation")
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(r.Cancel)
	}
	wg.Wait()
	r.Cancel()
	if got := n.Load(); got != 1 {
		t.Errorf("cancel ran %d times, want once", got)
	}
}
