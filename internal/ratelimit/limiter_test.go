package ratelimit

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is the injected time of a test.
type clock struct{ t time.Time }

func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func req(now time.Time, rcpts int64, sls ...SubjectLimits) Request {
	return Request{Subjects: sls, Recipients: rcpts, Now: now}
}

func sl(s Subject, ls ...Limit) SubjectLimits { return SubjectLimits{Subject: s, Limits: ls} }

func mustAllow(t *testing.T, l *Limiter, r Request) Reservation {
	t.Helper()
	d, res := l.Reserve(r)
	if !d.Allow || d.Hold {
		t.Fatalf("at %v: got %+v, want allowed outright", r.Now, d)
	}
	return res
}

func mustRefuse(t *testing.T, l *Limiter, r Request) Decision {
	t.Helper()
	d, res := l.Reserve(r)
	if d.Allow {
		t.Fatalf("at %v: got %+v, want refused", r.Now, d)
	}
	if res != (Reservation{}) {
		t.Fatalf("refusal returned a non-zero Reservation")
	}
	return d
}

func TestLimiterWindowsRollOver(t *testing.T) {
	tests := []struct {
		period Period
		start  time.Time
		next   time.Time // first instant of the next window
	}{
		{Minute, utc(2026, 3, 14, 15, 9, 10), utc(2026, 3, 14, 15, 10, 0)},
		{Hour, utc(2026, 3, 14, 15, 9, 10), utc(2026, 3, 14, 16, 0, 0)},
		{Day, utc(2026, 3, 14, 15, 9, 10), utc(2026, 3, 15, 0, 0, 0)},
		{Month, utc(2026, 12, 14, 15, 9, 10), utc(2027, 1, 1, 0, 0, 0)},
		{Month, utc(2028, 2, 29, 23, 0, 0), utc(2028, 3, 1, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(string(tt.period), func(t *testing.T) {
			l := NewLimiter()
			c := &clock{tt.start}
			lim := sl(userAcm, Limit{Period: tt.period, Messages: 2, Recipients: 5})
			mustAllow(t, l, req(c.t, 2, lim))
			c.add(time.Second)
			mustAllow(t, l, req(c.t, 2, lim))
			d := mustRefuse(t, l, req(c.t, 1, lim))
			if want := tt.next.Sub(c.t); d.RetryAfter != want {
				t.Errorf("RetryAfter = %v, want %v", d.RetryAfter, want)
			}
			if d.Permanent != (tt.period == Month) {
				t.Errorf("Permanent = %v", d.Permanent)
			}
			c.t = tt.next.Add(-time.Nanosecond)
			mustRefuse(t, l, req(c.t, 1, lim))
			c.t = tt.next
			mustAllow(t, l, req(c.t, 5, lim)) // a fresh window: all 5 recipients fit again
			mustRefuse(t, l, req(c.t, 1, lim))
		})
	}
}

func TestLimiterRecipients(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 0, 0)
	lim := sl(keyK1, Limit{Period: Hour, Recipients: 10})
	mustAllow(t, l, req(now, 6, lim))
	d := mustRefuse(t, l, req(now, 5, lim))
	if !strings.Contains(d.Reason, "10 recipients per hour") || d.Permanent {
		t.Errorf("got %+v", d)
	}
	mustAllow(t, l, req(now, 4, lim))
	mustRefuse(t, l, req(now, 1, lim))

	d = mustRefuse(t, l, req(now, 11, lim))
	if !d.Permanent || d.RetryAfter != 0 {
		t.Errorf("oversize message: got %+v, want a permanent refusal", d)
	}
}

func TestLimiterCancel(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 30, 0)
	lims := []SubjectLimits{
		sl(keyK1, Limit{Period: Hour, Messages: 2}),
		sl(userAcm, Limit{Period: Day, Recipients: 10}),
	}
	r := req(now, 3, lims...)
	mustAllow(t, l, r)
	res := mustAllow(t, l, r)
	mustRefuse(t, l, r)

	res.Cancel()
	if got := l.Usage(keyK1, now)[Hour]; got != (Counts{Messages: 1, Recipients: 3}) {
		t.Errorf("key usage after Cancel = %+v", got)
	}
	if got := l.Usage(userAcm, now)[Day]; got != (Counts{Messages: 1, Recipients: 3}) {
		t.Errorf("user usage after Cancel = %+v", got)
	}
	res.Cancel() // twice: no-op
	if got := l.Usage(keyK1, now)[Hour]; got != (Counts{Messages: 1, Recipients: 3}) {
		t.Errorf("key usage after a second Cancel = %+v", got)
	}
	mustAllow(t, l, r)
	mustRefuse(t, l, r)

	Reservation{}.Cancel() // the zero Reservation: no-op
	_, refused := l.Reserve(r)
	refused.Cancel()
	if got := l.Usage(keyK1, now)[Hour]; got != (Counts{Messages: 2, Recipients: 6}) {
		t.Errorf("usage after no-op Cancels = %+v", got)
	}
}

func TestLimiterCancelAfterWindowEnded(t *testing.T) {
	l := NewLimiter()
	c := &clock{utc(2026, 3, 14, 15, 59, 0)}
	lim := sl(keyK1, Limit{Period: Hour, Messages: 1})
	res := mustAllow(t, l, req(c.t, 1, lim))
	c.add(2 * time.Minute)
	mustAllow(t, l, req(c.t, 1, lim)) // sweeps the ended hour
	res.Cancel()                      // gives back to the ended windows: nothing to do
	mustRefuse(t, l, req(c.t, 1, lim))
	u := l.Usage(keyK1, c.t)
	if u[Hour] != (Counts{Messages: 1, Recipients: 1}) || u[Day] != (Counts{Messages: 1, Recipients: 1}) {
		t.Errorf("usage = %+v", u)
	}
}

func TestLimiterUsage(t *testing.T) {
	l := NewLimiter()
	c := &clock{utc(2026, 3, 14, 15, 58, 30)}
	lims := []SubjectLimits{sl(keyK1), sl(userAcm), sl(account)}
	mustAllow(t, l, req(c.t, 3, lims...))
	c.add(time.Minute)
	mustAllow(t, l, req(c.t, 2, lims...))

	for _, s := range []Subject{keyK1, userAcm, account} {
		want := map[Period]Counts{
			Minute: {Messages: 1, Recipients: 2},
			Hour:   {Messages: 2, Recipients: 5},
			Day:    {Messages: 2, Recipients: 5},
			Month:  {Messages: 2, Recipients: 5},
		}
		got := l.Usage(s, c.t)
		for _, p := range Periods() {
			if got[p] != want[p] {
				t.Errorf("%v %s: %+v, want %+v", s, p, got[p], want[p])
			}
		}
	}
	c.add(time.Hour)
	got := l.Usage(userAcm, c.t)
	if got[Minute] != (Counts{}) || got[Hour] != (Counts{}) || got[Day] != (Counts{Messages: 2, Recipients: 5}) {
		t.Errorf("an hour later: %+v", got)
	}
	if got := l.Usage(User("nobody"), c.t); len(got) != 4 || got[Month] != (Counts{}) {
		t.Errorf("unknown subject: %+v", got)
	}
}

func TestLimiterSubjectListedTwiceCountsOnce(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 0, 0)
	// The key's user is also the account: the caller may pass it twice.
	r := req(now, 1,
		sl(userAcm, Limit{Period: Hour, Messages: 2}),
		sl(userAcm, Limit{Period: Day, Messages: 100}))
	mustAllow(t, l, r)
	mustAllow(t, l, r)
	mustRefuse(t, l, r)
	if got := l.Usage(userAcm, now)[Hour].Messages; got != 2 {
		t.Errorf("counted %d messages, want 2", got)
	}
}

func TestLimiterClockNeverRunsBackwards(t *testing.T) {
	l := NewLimiter()
	lim := sl(keyK1, Limit{Period: Minute, Messages: 1})
	mustAllow(t, l, req(utc(2026, 3, 14, 15, 1, 0), 1, lim))
	// A session stamped a moment earlier reaches the lock later: judged
	// at the limiter's time, in the window that is already full.
	d := mustRefuse(t, l, req(utc(2026, 3, 14, 15, 0, 59), 1, lim))
	if d.RetryAfter != time.Minute {
		t.Errorf("RetryAfter = %v, want 1m", d.RetryAfter)
	}
}

func TestLimiterSeed(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 30, 0)
	// Restored from the store; the window start need not be aligned.
	l.Seed(userAcm, Hour, utc(2026, 3, 14, 15, 12, 0), Counts{Messages: 99, Recipients: 400})
	l.Seed(userAcm, Hour, utc(2026, 3, 14, 14, 0, 0), Counts{Messages: 1000}) // an ended window
	l.Seed(userAcm, Month, utc(2026, 3, 1, 0, 0, 0), Counts{Messages: 5000})
	l.Seed(userAcm, "week", now, Counts{Messages: 1}) // ignored
	lim := sl(userAcm, Limit{Period: Hour, Messages: 100}, Limit{Period: Month, Messages: 5002})

	if got := l.Usage(userAcm, now); got[Hour] != (Counts{Messages: 99, Recipients: 400}) || got[Month].Messages != 5000 {
		t.Errorf("usage after Seed = %+v", got)
	}
	mustAllow(t, l, req(now, 1, lim))
	mustRefuse(t, l, req(now, 1, lim))

	// Seed replaces.
	l.Seed(userAcm, Hour, now, Counts{Messages: 10})
	mustAllow(t, l, req(now, 1, lim))
	d := mustRefuse(t, l, req(now, 1, lim)) // the month quota: 5002 reached
	if !d.Permanent || d.Blocking.Period != Month {
		t.Errorf("got %+v, want the month quota", d)
	}
	l.Seed(userAcm, Month, now, Counts{})
	if got := l.Usage(userAcm, now)[Month]; got != (Counts{}) {
		t.Errorf("month after a zero Seed = %+v", got)
	}
}

func TestLimiterSweepsEndedWindows(t *testing.T) {
	l := NewLimiter()
	c := &clock{utc(2026, 1, 31, 23, 59, 0)}
	for i := range 100 {
		mustAllow(t, l, req(c.t, 1, sl(Key(string(rune('a'+i%26))+"x"+string(rune('a'+i/26))))))
	}
	if n := len(l.counts); n != 100 {
		t.Fatalf("%d subjects, want 100", n)
	}
	c.t = utc(2026, 2, 1, 0, 0, 5)
	mustAllow(t, l, req(c.t, 1, sl(keyK1)))
	if n := len(l.counts); n != 1 {
		t.Errorf("after the month ended: %d subjects kept, want 1", n)
	}
	if n := len(l.counts[keyK1]); n != 4 {
		t.Errorf("key has %d windows, want 4", n)
	}
}

func TestLimiterHold(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 30, 0)
	h1 := utc(2026, 3, 14, 16, 0, 0)
	h2 := utc(2026, 3, 14, 17, 0, 0)
	lim := sl(userAcm, Limit{Period: Hour, Messages: 2, Mode: ModeHold})
	r := req(now, 1, lim)

	mustAllow(t, l, r)
	mustAllow(t, l, r)
	for i, want := range []time.Time{h1, h1, h2, h2} {
		d, res := l.Reserve(r)
		if !d.Allow || !d.Hold || !d.HoldUntil.Equal(want) {
			t.Fatalf("message %d: got %+v, want held until %v", i+3, d, want)
		}
		if res == (Reservation{}) {
			t.Fatalf("message %d: a held message got no Reservation", i+3)
		}
	}
	// Held mail is counted in the window it is released into.
	if got := l.Usage(userAcm, now)[Hour].Messages; got != 2 {
		t.Errorf("current hour: %d messages, want 2", got)
	}
	if got := l.Usage(userAcm, h1)[Hour].Messages; got != 2 {
		t.Errorf("next hour: %d messages, want 2", got)
	}
	if got := l.Usage(userAcm, h2)[Hour].Messages; got != 2 {
		t.Errorf("hour after: %d messages, want 2", got)
	}
	if got := l.Usage(userAcm, now)[Day].Messages; got != 6 {
		t.Errorf("day: %d messages, want 6", got)
	}

	// Cancelling a held message frees its slot in the later window.
	d, res := l.Reserve(r)
	if !d.HoldUntil.Equal(utc(2026, 3, 14, 18, 0, 0)) {
		t.Fatalf("got %+v", d)
	}
	res.Cancel()
	d, _ = l.Reserve(r)
	if !d.HoldUntil.Equal(utc(2026, 3, 14, 18, 0, 0)) {
		t.Fatalf("after Cancel: got %+v, want held until 18:00", d)
	}

	// When the next hour comes, its room is taken by the held mail.
	d, _ = l.Reserve(req(h1, 1, lim))
	if !d.Hold || !d.HoldUntil.Equal(utc(2026, 3, 14, 18, 0, 0)) {
		t.Errorf("at 16:00: got %+v, want held until 18:00", d)
	}
}

func TestLimiterHoldRespectsRejectLimitsAtRelease(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 30, 0)
	lims := []SubjectLimits{
		sl(keyK1, Limit{Period: Minute, Messages: 1}),
		sl(userAcm, Limit{Period: Hour, Messages: 1, Mode: ModeHold}),
	}
	mustAllow(t, l, req(now, 1, lims...))
	d, _ := l.Reserve(req(now.Add(time.Minute), 1, lims...))
	if !d.Hold || !d.HoldUntil.Equal(utc(2026, 3, 14, 16, 0, 0)) {
		t.Fatalf("got %+v, want held until 16:00", d)
	}
	// A third message would be released at 17:00 (16:00's hour is full of
	// held mail); 16:00's minute is full too, but that is a past window
	// by then — it must not block.
	d, _ = l.Reserve(req(now.Add(2*time.Minute), 1, lims...))
	if !d.Hold || !d.HoldUntil.Equal(utc(2026, 3, 14, 17, 0, 0)) {
		t.Fatalf("got %+v, want held until 17:00", d)
	}
	// Held mail released together must not burst a reject limit of the
	// release window: with room for 5 per hour but 1 per minute, the
	// second message for 16:00 is refused until 16:01.
	l1 := NewLimiter()
	lims1 := []SubjectLimits{
		sl(keyK1, Limit{Period: Minute, Messages: 1}),
		sl(userAcm, Limit{Period: Hour, Messages: 5, Mode: ModeHold}),
	}
	for range 5 {
		mustAllow(t, l1, req(now, 1, sl(userAcm)))
	}
	d, _ = l1.Reserve(req(now, 1, lims1...))
	if !d.Hold || !d.HoldUntil.Equal(utc(2026, 3, 14, 16, 0, 0)) {
		t.Fatalf("got %+v, want held until 16:00", d)
	}
	d = mustRefuse(t, l1, req(now, 1, lims1...))
	if d.RetryAfter != 31*time.Minute || d.BlockingSubject != keyK1 {
		t.Errorf("got %+v, want refused by the key's minute limit until 16:01", d)
	}

	// With the reject limit on the released window itself, a held
	// message that would burst it is refused until that window ends.
	l2 := NewLimiter()
	lims2 := []SubjectLimits{
		sl(keyK1, Limit{Period: Day, Messages: 2}),
		sl(userAcm, Limit{Period: Hour, Messages: 1, Mode: ModeHold}),
	}
	late := utc(2026, 3, 14, 23, 10, 0)
	mustAllow(t, l2, req(late, 1, lims2...))
	d, _ = l2.Reserve(req(late, 1, lims2...)) // held to midnight, counted on the 15th
	if !d.Hold || !d.HoldUntil.Equal(utc(2026, 3, 15, 0, 0, 0)) {
		t.Fatalf("got %+v, want held until midnight", d)
	}
	d, _ = l2.Reserve(req(late, 1, lims2...)) // 01:00 on the 15th: the day allows 1 more
	if !d.Hold || !d.HoldUntil.Equal(utc(2026, 3, 15, 1, 0, 0)) {
		t.Fatalf("got %+v, want held until 01:00", d)
	}
	d = mustRefuse(t, l2, req(late, 1, lims2...)) // the 15th is full of held mail
	if d.Blocking == nil || d.Blocking.Period != Day || d.BlockingSubject != keyK1 {
		t.Errorf("got %+v, want the key's day limit", d)
	}
	if want := utc(2026, 3, 16, 0, 0, 0).Sub(late); d.RetryAfter != want {
		t.Errorf("RetryAfter = %v, want %v", d.RetryAfter, want)
	}
}

func TestLimiterHoldBacklogIsBounded(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 30, 0)
	for i := range maxHoldSteps + 1 {
		l.Seed(userAcm, Minute, now.Add(time.Duration(i)*time.Minute), Counts{Messages: 1})
	}
	d := mustRefuse(t, l, req(now, 1, sl(userAcm, Limit{Period: Minute, Messages: 1, Mode: ModeHold})))
	if d.Permanent || d.RetryAfter != time.Minute || !strings.Contains(d.Reason, "already held") {
		t.Errorf("got %+v", d)
	}
}

func TestLimiterConcurrentExact(t *testing.T) {
	const goroutines, perG, limit = 50, 10, 100
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 30, 0)
	r := req(now, 1,
		sl(keyK1, Limit{Period: Hour, Messages: limit}),
		sl(userAcm, Limit{Period: Day, Messages: 1000}))
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range perG {
				if d, _ := l.Reserve(r); d.Allow {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != limit {
		t.Errorf("%d allowed, want exactly %d", got, limit)
	}
	if got := l.Usage(keyK1, now)[Hour].Messages; got != limit {
		t.Errorf("usage %d, want %d", got, limit)
	}
}

func TestLimiterConcurrentReserveAndCancel(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 30, 0)
	r := req(now, 2, sl(userAcm, Limit{Period: Hour, Messages: 100, Recipients: 200}))
	var kept atomic.Int64
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Go(func() {
			for i := range 10 {
				d, res := l.Reserve(r)
				if !d.Allow {
					continue
				}
				if (g+i)%3 == 0 { // refused later by the spam scan
					res.Cancel()
					continue
				}
				kept.Add(1)
			}
		})
	}
	wg.Wait()
	got := l.Usage(userAcm, now)[Hour]
	if got.Messages != kept.Load() || got.Recipients != 2*kept.Load() {
		t.Errorf("usage %+v, but %d messages kept", got, kept.Load())
	}
	if got.Messages > 100 {
		t.Errorf("over-admitted: %d", got.Messages)
	}
}

func TestLimiterConcurrentHold(t *testing.T) {
	l := NewLimiter()
	now := utc(2026, 3, 14, 15, 30, 0)
	r := req(now, 1, sl(userAcm, Limit{Period: Hour, Messages: 100, Mode: ModeHold}))
	var mu sync.Mutex
	byRelease := map[time.Time]int{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 10 {
				d, _ := l.Reserve(r)
				if !d.Allow {
					t.Errorf("refused: %+v", d)
					return
				}
				mu.Lock()
				byRelease[d.HoldUntil]++ // zero time: sent now
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := map[time.Time]int{{}: 100}
	for h := 16; h <= 19; h++ {
		want[utc(2026, 3, 14, h, 0, 0)] = 100
	}
	if len(byRelease) != len(want) {
		t.Fatalf("releases %v, want %v", byRelease, want)
	}
	for k, n := range want {
		if byRelease[k] != n {
			t.Errorf("released at %v: %d, want %d", k, byRelease[k], n)
		}
	}
}
