package lockout

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Config sets a Tracker's thresholds. A zero or negative field takes its
// default.
type Config struct {
	PerIP      int           // failed AUTHs per Window per IPv4 address or IPv6 /64 before lockout; default 10
	PerKey     int           // failed AUTHs per Window against one key id; default 10
	Window     time.Duration // default 1 minute
	Backoff    time.Duration // first lockout length; default 1 minute
	MaxBackoff time.Duration // default 1 hour; each repeated lockout of the same client doubles the previous length
	Forget     time.Duration // after this long without failures a client's repetition count resets; default 24h
	MaxEntries int           // memory bound: least-recently-used entries evicted; default 100000
}

// Defaults of Config.
const (
	DefaultPerIP      = 10
	DefaultPerKey     = 10
	DefaultWindow     = time.Minute
	DefaultBackoff    = time.Minute
	DefaultMaxBackoff = time.Hour
	DefaultForget     = 24 * time.Hour
	DefaultMaxEntries = 100000
)

// withDefaults returns c with every unset field at its default. A
// MaxBackoff shorter than Backoff is raised to Backoff.
func (c Config) withDefaults() Config {
	if c.PerIP <= 0 {
		c.PerIP = DefaultPerIP
	}
	if c.PerKey <= 0 {
		c.PerKey = DefaultPerKey
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = c.Backoff
	}
	if c.Forget <= 0 {
		c.Forget = DefaultForget
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	return c
}

// Prefix returns the unit that failures and connections are counted by:
// the /32 of an IPv4 address (an IPv4-mapped IPv6 address counts as the
// IPv4 address), the /64 of an IPv6 address. A zone is ignored. The zero
// Addr gives the zero Prefix, which is then one shared bucket.
func Prefix(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	switch {
	case ip.Is4():
		return netip.PrefixFrom(ip, 32)
	case ip.Is6():
		p, _ := ip.Prefix(64) // cannot fail: 64 bits of a zone-less IPv6 address
		return p
	}
	return netip.Prefix{}
}

// kind says what an entry counts.
type kind uint8

const (
	kindPrefix kind = iota + 1 // failures of one client prefix
	kindKey                    // failures against one key id
	kindPair                   // lockout of one prefix for one key id
)

// entryKey names an entry in Tracker.entries.
type entryKey struct {
	kind   kind
	prefix netip.Prefix // kindPrefix, kindPair
	keyID  string       // kindKey, kindPair
}

// failure is one counted failure against a key id.
type failure struct {
	at     time.Time
	prefix netip.Prefix
}

// entry is the state of one prefix, key id or pair. Which fields are used
// depends on its kind.
type entry struct {
	key  entryKey
	elem *list.Element // in Tracker.lru

	// kindPrefix: the times of the latest counted failures, oldest first,
	// at most Config.PerIP of them; emptied when a lockout starts.
	times []time.Time
	// kindKey: the latest counted failures against the key id, oldest
	// first, at most Config.PerKey of them.
	fails []failure

	// kindPrefix, kindPair: the lockout and its repetition.
	lastFail time.Time // latest failure, counted or not
	lockedAt time.Time // start of the latest lockout; zero if never locked
	until    time.Time // end of the latest lockout
	level    int       // lockouts since the repetition was last forgotten
}

// locked reports whether e is locked out at now. e may be nil.
func (e *entry) locked(now time.Time) bool {
	return e != nil && now.Before(e.until)
}

// Tracker counts failed AUTHs and decides lockouts. It is safe for
// concurrent use. The zero value is not usable; call New.
type Tracker struct {
	cfg Config

	mu      sync.Mutex
	entries map[entryKey]*entry
	lru     *list.List // of *entry, most recently used at the front
}

// New returns a Tracker with cfg's thresholds, unset fields at their
// defaults.
func New(cfg Config) *Tracker {
	return &Tracker{
		cfg:     cfg.withDefaults(),
		entries: make(map[entryKey]*entry),
		lru:     list.New(),
	}
}

// Check reports whether AUTH from ip with keyID must be refused at now,
// and until when. It is asked at every AUTH before the credentials are
// looked at, so a locked-out client is refused even with a valid key. ip
// is refused when its prefix is locked out, or when keyID is not "" and
// the prefix is locked out for that key id (see the package documentation
// for the per-key rule). until is the end of the longest lockout that
// applies; it is zero when locked is false.
func (t *Tracker) Check(ip netip.Addr, keyID string, now time.Time) (locked bool, until time.Time) {
	p := Prefix(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	pe := t.get(entryKey{kind: kindPrefix, prefix: p})
	var pair *entry
	if keyID != "" {
		pair = t.get(entryKey{kind: kindPair, prefix: p, keyID: keyID})
	}
	return lockedUntil(now, pe, pair)
}

// Fail records a failed AUTH from ip at now; keyID is the id of the key
// presented, or "" when the password was not a well-formed key. It
// returns whether this failure started a lockout of ip's prefix, or of the
// prefix for keyID, and until is then when the lockout ends.
//
// A failure from a client that Check reports locked out is not counted —
// it is an attempt refused before any credential was looked at — and
// lockedNow is false; until is the end of the lockout in force. Such a
// failure still keeps the client's repetition from being forgotten.
func (t *Tracker) Fail(ip netip.Addr, keyID string, now time.Time) (lockedNow bool, until time.Time) {
	p := Prefix(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	defer t.evict()

	pe := t.getOrAdd(entryKey{kind: kindPrefix, prefix: p})
	t.noteFailure(pe, now)
	var pair *entry
	if keyID != "" {
		if pair = t.get(entryKey{kind: kindPair, prefix: p, keyID: keyID}); pair != nil {
			t.noteFailure(pair, now)
		}
	}
	if pe.locked(now) || pair.locked(now) {
		_, until = lockedUntil(now, pe, pair)
		return false, until
	}

	// Per prefix: PerIP failures within Window.
	pe.times = appendLatest(pe.times, now, t.cfg.PerIP)
	if len(pe.times) == t.cfg.PerIP && now.Sub(pe.times[0]) < t.cfg.Window {
		t.lock(pe, now)
		pe.times = pe.times[:0]
		lockedNow = true
	}

	// Per key id: PerKey failures within Window lock the prefixes that
	// made them, for this key id only.
	if keyID != "" {
		ke := t.getOrAdd(entryKey{kind: kindKey, keyID: keyID})
		ke.fails = appendLatest(ke.fails, failure{at: now, prefix: p}, t.cfg.PerKey)
		if len(ke.fails) == t.cfg.PerKey && now.Sub(ke.fails[0].at) < t.cfg.Window {
			if t.lockGuessers(ke, now, p) {
				lockedNow = true
			}
		}
	}

	if !lockedNow {
		return false, time.Time{}
	}
	if pair == nil && keyID != "" {
		pair = t.get(entryKey{kind: kindPair, prefix: p, keyID: keyID})
	}
	_, until = lockedUntil(now, pe, pair)
	return true, until
}

// lockGuessers locks, for the key id of ke, every prefix that has a
// failure against it within the window that no lockout has yet answered.
// It reports whether self was among them.
func (t *Tracker) lockGuessers(ke *entry, now time.Time, self netip.Prefix) bool {
	lockedSelf := false
	for _, f := range ke.fails {
		if now.Sub(f.at) >= t.cfg.Window {
			continue
		}
		k := entryKey{kind: kindPair, prefix: f.prefix, keyID: ke.key.keyID}
		pair := t.get(k)
		if pair == nil {
			pair = t.getOrAdd(k)
			pair.lastFail = f.at
		}
		if pair.locked(now) {
			continue // already refused, or locked earlier in this loop
		}
		if !pair.lockedAt.IsZero() && !pair.lockedAt.Before(f.at) {
			continue // this failure was already answered by a lockout
		}
		t.lock(pair, now)
		if f.prefix == self {
			lockedSelf = true
		}
	}
	return lockedSelf
}

// Succeed records a successful AUTH from ip with keyID at now.
//
// It deliberately leaves ip's failure count and repetition alone: an
// attacker holding one valid key must not be able to reset the counter
// between guesses at other keys by logging in with the key it has. What it
// does forgive is the prefix's own failures against keyID, which it has
// just shown it owns: they leave the key id's count, and the prefix's
// repetition for that key id is forgotten. Nothing is forgiven while
// Check would refuse ip with keyID.
func (t *Tracker) Succeed(ip netip.Addr, keyID string, now time.Time) {
	if keyID == "" {
		return
	}
	p := Prefix(ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	pe := t.get(entryKey{kind: kindPrefix, prefix: p})
	pair := t.get(entryKey{kind: kindPair, prefix: p, keyID: keyID})
	if locked, _ := lockedUntil(now, pe, pair); locked {
		return
	}
	if pair != nil {
		t.remove(pair)
	}
	if ke := t.get(entryKey{kind: kindKey, keyID: keyID}); ke != nil {
		kept := ke.fails[:0]
		for _, f := range ke.fails {
			if f.prefix != p {
				kept = append(kept, f)
			}
		}
		clear(ke.fails[len(kept):])
		ke.fails = kept
	}
}

// Len returns the number of entries the Tracker holds, at most
// Config.MaxEntries between calls.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}

// noteFailure forgets e's repetition if it last failed at least Forget
// ago, then records now as its latest failure.
func (t *Tracker) noteFailure(e *entry, now time.Time) {
	if !e.lastFail.IsZero() && now.Sub(e.lastFail) >= t.cfg.Forget {
		e.level = 0
	}
	e.lastFail = now
}

// lock starts a lockout of e at now, twice as long as the previous one
// unless the repetition was forgotten, and at most MaxBackoff.
func (t *Tracker) lock(e *entry, now time.Time) {
	d := t.cfg.Backoff
	for i := 0; i < e.level && d < t.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, t.cfg.MaxBackoff)
	e.level++
	e.lockedAt = now
	e.until = now.Add(d)
}

// lockedUntil combines the lockouts of a prefix and a pair entry, either
// of which may be nil.
func lockedUntil(now time.Time, es ...*entry) (bool, time.Time) {
	var until time.Time
	for _, e := range es {
		if e.locked(now) && e.until.After(until) {
			until = e.until
		}
	}
	return !until.IsZero(), until
}

// appendLatest appends v to s and keeps only the latest n elements.
func appendLatest[T any](s []T, v T, n int) []T {
	if len(s) >= n {
		copy(s, s[len(s)-n+1:])
		s = s[:n-1]
	}
	return append(s, v)
}

// get returns the entry named k, marked as just used, or nil.
func (t *Tracker) get(k entryKey) *entry {
	e := t.entries[k]
	if e != nil {
		t.lru.MoveToFront(e.elem)
	}
	return e
}

// getOrAdd returns the entry named k, marked as just used, adding it if
// missing. It does not evict: callers run evict when done, so that no
// entry in use disappears under them.
func (t *Tracker) getOrAdd(k entryKey) *entry {
	if e := t.get(k); e != nil {
		return e
	}
	e := &entry{key: k}
	e.elem = t.lru.PushFront(e)
	t.entries[k] = e
	return e
}

// remove drops e.
func (t *Tracker) remove(e *entry) {
	t.lru.Remove(e.elem)
	delete(t.entries, e.key)
}

// evict drops the least recently used entries beyond MaxEntries.
func (t *Tracker) evict() {
	for t.lru.Len() > t.cfg.MaxEntries {
		t.remove(t.lru.Back().Value.(*entry))
	}
}
