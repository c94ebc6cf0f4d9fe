package ratelimit

import (
	"fmt"
	"sync"
	"time"
)

// maxHoldSteps bounds how many windows ahead Reserve looks for room for a
// held message. Past it the backlog is too deep and the message is refused
// for now. A step costs a few map lookups per limit.
const maxHoldSteps = 5000

// Limiter keeps the counters of one process in memory and makes check and
// reserve one atomic step. The zero Limiter is not usable; use NewLimiter.
// It is safe for concurrent use.
type Limiter struct {
	mu        sync.Mutex
	now       time.Time // latest time seen; the limiter's clock never runs backwards
	nextSweep time.Time
	counts    map[Subject]map[windowKey]Counts
}

// windowKey names one window of one period by its start (Unix seconds,
// UTC); a time.Time is not a reliable map key.
type windowKey struct {
	period Period
	start  int64
}

func keyAt(p Period, at time.Time) windowKey {
	start, _ := Window(p, at)
	return windowKey{period: p, start: start.Unix()}
}

func (k windowKey) end() time.Time {
	_, end := Window(k.period, time.Unix(k.start, 0))
	return end
}

// NewLimiter returns an empty limiter.
func NewLimiter() *Limiter {
	return &Limiter{counts: make(map[Subject]map[windowKey]Counts)}
}

// Reserve decides on req and, when the message is allowed or held, counts
// it at once against every distinct subject of the request, in all four
// periods, so that the next caller sees it. A held message is counted in
// the windows that contain its release time (HoldUntil): if those are
// already full of held mail, Reserve moves the release on to the next
// window with room, and every limit, reject-mode ones included, applies
// to the windows the message is counted in.
//
// req.Now earlier than a time the limiter has already seen is taken as
// that later time. The Reservation gives the counts back with Cancel; it
// is the zero Reservation when the message is refused.
func (l *Limiter) Reserve(req Request) (Decision, Reservation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.advance(req.Now)

	d, at := l.plan(req, now)
	if !d.Allow {
		return d, Reservation{}
	}
	res := &reservation{
		l:      l,
		counts: Counts{Messages: 1, Recipients: max(req.Recipients, 0)},
	}
	for _, p := range Periods() {
		res.windows = append(res.windows, keyAt(p, at))
	}
	seen := make(map[Subject]bool, len(req.Subjects))
	for _, sl := range req.Subjects {
		if seen[sl.Subject] {
			continue
		}
		seen[sl.Subject] = true
		res.subjects = append(res.subjects, sl.Subject)
	}
	l.apply(res, +1)
	return d, Reservation{r: res}
}

// plan decides on req at now and returns the time whose windows the
// message is to be counted in: now, or its release time when held.
func (l *Limiter) plan(req Request, now time.Time) (Decision, time.Time) {
	lookup := func(s Subject, p Period, at time.Time) Counts { return l.counts[s][keyAt(p, at)] }
	at := now
	var first, last *hit
	for step := 0; ; step++ {
		v := evaluate(req, at, lookup)
		if v.oversize != nil || (step == 0 && v.reject != nil) {
			return v.decision(now), now
		}
		if v.hold == nil {
			if v.reject != nil {
				// Over a reject limit in the windows the held message
				// would be released into: refused until that one ends.
				return v.decision(now), now
			}
			break
		}
		// Held past at: reject limits on windows that end before the
		// release are no concern; those that do not are checked there.
		if first == nil {
			first = v.hold
		}
		if step == maxHoldSteps {
			lim := first.limit
			d := Decision{
				RetryAfter:      first.end.Sub(now),
				Blocking:        &lim,
				BlockingSubject: first.subject,
			}
			d.Reason = fmt.Sprintf("%s: %s per %s reached and too much mail is already held; try again in %s",
				first.subject, first.what(), lim.Period, humanDuration(d.RetryAfter))
			return d, now
		}
		last = v.hold
		at = v.hold.end // strictly later: a window ends after any instant in it
	}
	if last == nil {
		return Decision{Allow: true}, now
	}
	return holdDecision(last), at
}

// advance moves the limiter's clock to t unless it is already later,
// sweeps ended windows now and then, and returns the clock.
func (l *Limiter) advance(t time.Time) time.Time {
	t = t.UTC()
	if t.After(l.now) {
		l.now = t
	}
	if !l.now.Before(l.nextSweep) {
		l.sweep()
		_, l.nextSweep = Window(Minute, l.now)
	}
	return l.now
}

// sweep drops the counters of windows that have ended. Lookups never reach
// them (a window is found by its start), so this only bounds memory; it
// runs at most once per minute of limiter time.
func (l *Limiter) sweep() {
	for s, ws := range l.counts {
		for k := range ws {
			if !k.end().After(l.now) {
				delete(ws, k)
			}
		}
		if len(ws) == 0 {
			delete(l.counts, s)
		}
	}
}

// apply adds (sign +1) or removes (sign -1) a reservation's counts. A
// removal never takes a counter below zero and skips windows already swept.
func (l *Limiter) apply(r *reservation, sign int64) {
	for _, s := range r.subjects {
		ws := l.counts[s]
		if ws == nil {
			if sign < 0 {
				continue
			}
			ws = make(map[windowKey]Counts, len(r.windows))
			l.counts[s] = ws
		}
		for _, k := range r.windows {
			c, ok := ws[k]
			if !ok && sign < 0 {
				continue
			}
			c.Messages = max(c.Messages+sign*r.counts.Messages, 0)
			c.Recipients = max(c.Recipients+sign*r.counts.Recipients, 0)
			if c == (Counts{}) {
				delete(ws, k)
			} else {
				ws[k] = c
			}
		}
		if len(ws) == 0 {
			delete(l.counts, s)
		}
	}
}

// Usage returns a subject's counts in the windows of every period that
// contain now (zero where nothing was sent). Mail held for a later window
// is counted there, not here.
func (l *Limiter) Usage(s Subject, now time.Time) map[Period]Counts {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[Period]Counts, 4)
	for _, p := range Periods() {
		out[p] = l.counts[s][keyAt(p, now)]
	}
	return out
}

// Seed sets a subject's counts for the window of period p that contains
// windowStart, replacing what the limiter had. The app calls it at
// start-up with the counts of the current (and any later, held-for)
// windows recounted from the store. An unknown period is ignored;
// negative counts are taken as zero.
func (l *Limiter) Seed(s Subject, p Period, windowStart time.Time, c Counts) {
	if !p.valid() {
		return
	}
	c.Messages = max(c.Messages, 0)
	c.Recipients = max(c.Recipients, 0)
	l.mu.Lock()
	defer l.mu.Unlock()
	k := keyAt(p, windowStart)
	ws := l.counts[s]
	if c == (Counts{}) {
		if ws != nil {
			delete(ws, k)
			if len(ws) == 0 {
				delete(l.counts, s)
			}
		}
		return
	}
	if ws == nil {
		ws = make(map[windowKey]Counts)
		l.counts[s] = ws
	}
	ws[k] = c
}

// Reservation is the counts one allowed message took. The zero
// Reservation holds nothing.
type Reservation struct {
	r *reservation
}

type reservation struct {
	l        *Limiter
	subjects []Subject
	windows  []windowKey
	counts   Counts
	done     bool // guarded by l.mu
}

// Cancel gives the counts back, for a message refused after it was
// reserved (spam scan, a failed commit). Counts in a window that has since
// ended are gone already. Cancel is a no-op for the zero Reservation and
// after the first call.
func (r Reservation) Cancel() {
	if r.r == nil {
		return
	}
	l := r.r.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.r.done {
		return
	}
	r.r.done = true
	l.apply(r.r, -1)
}
