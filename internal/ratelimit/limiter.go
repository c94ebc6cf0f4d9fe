package ratelimit

import (
	"sync"
	"time"
)

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

// plan decides on req at now from the limiter's counters (see Plan).
func (l *Limiter) plan(req Request, now time.Time) (Decision, time.Time) {
	return Plan(req, now, func(s Subject, p Period, at time.Time) Counts { return l.counts[s][keyAt(p, at)] })
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

// reservation is either the Limiter's (l set) or a ReservationFunc's
// (cancel set).
type reservation struct {
	l        *Limiter
	subjects []Subject
	windows  []windowKey
	counts   Counts
	done     bool // guarded by l.mu

	cancel func()
	once   sync.Once
}

// ReservationFunc returns a Reservation whose first Cancel runs cancel,
// for counts kept outside a Limiter (a store shared by several nodes).
// Later calls do nothing; a nil cancel gives the zero Reservation.
func ReservationFunc(cancel func()) Reservation {
	if cancel == nil {
		return Reservation{}
	}
	return Reservation{r: &reservation{cancel: cancel}}
}

// Cancel gives the counts back, for a message refused after it was
// reserved (spam scan, a failed commit). Counts in a window that has since
// ended are gone already. Cancel is a no-op for the zero Reservation and
// after the first call; it is safe for concurrent use.
func (r Reservation) Cancel() {
	if r.r == nil {
		return
	}
	if r.r.cancel != nil {
		r.r.once.Do(r.r.cancel)
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
