package lockout

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is the start of every scenario; step times are offsets from it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// op is what a step asks of the Tracker.
type op int

const (
	opFail op = iota
	opCheck
	opSucceed
)

// step is one call in a scenario. For opFail, locked is the expected
// lockedNow; for opCheck, the expected locked. until is the expected
// until as an offset from t0, 0 meaning the zero time.
type step struct {
	op     op
	at     time.Duration
	ip     string
	key    string
	locked bool
	until  time.Duration
}

func fail(at time.Duration, ip, key string) step  { return step{op: opFail, at: at, ip: ip, key: key} }
func check(at time.Duration, ip, key string) step { return step{op: opCheck, at: at, ip: ip, key: key} }
func succeed(at time.Duration, ip, key string) step {
	return step{op: opSucceed, at: at, ip: ip, key: key}
}

// locks marks s as expected to report a lockout ending at until.
func (s step) locks(until time.Duration) step {
	s.locked, s.until = true, until
	return s
}

// fails returns n failures from ip against key, the first at start and
// then every `every`, none expected to start a lockout.
func fails(n int, start, every time.Duration, ip, key string) []step {
	var s []step
	for i := range n {
		s = append(s, fail(start+time.Duration(i)*every, ip, key))
	}
	return s
}

// seq concatenates steps and lists of steps.
func seq(parts ...any) []step {
	var s []step
	for _, p := range parts {
		switch p := p.(type) {
		case step:
			s = append(s, p)
		case []step:
			s = append(s, p...)
		default:
			panic(fmt.Sprintf("seq: %T", p))
		}
	}
	return s
}

// run plays steps against tr and reports every mismatch.
func run(t *testing.T, tr *Tracker, steps []step) {
	t.Helper()
	for i, s := range steps {
		ip := netip.MustParseAddr(s.ip)
		now := t0.Add(s.at)
		var wantUntil time.Time
		if s.until != 0 {
			wantUntil = t0.Add(s.until)
		}
		var locked bool
		var until time.Time
		name := ""
		switch s.op {
		case opFail:
			name = "Fail"
			locked, until = tr.Fail(ip, s.key, now)
		case opCheck:
			name = "Check"
			locked, until = tr.Check(ip, s.key, now)
		case opSucceed:
			tr.Succeed(ip, s.key, now)
			continue
		}
		if locked != s.locked || !until.Equal(wantUntil) {
			t.Errorf("step %d: %s(%s, %q, t0+%v) = %v, t0+%v; want %v, t0+%v",
				i, name, s.ip, s.key, s.at, locked, offset(until), s.locked, offset(wantUntil))
		}
	}
}

// offset shows a time as its distance from t0, or 0 for the zero time.
func offset(u time.Time) time.Duration {
	if u.IsZero() {
		return 0
	}
	return u.Sub(t0)
}

const (
	sec    = time.Second
	minute = time.Minute
	hr     = time.Hour
)

func TestTracker(t *testing.T) {
	const (
		a = "192.0.2.1"
		b = "192.0.2.2"
		k = "keyaaaaaaaaaaaaa"
		j = "keybbbbbbbbbbbbb"
	)
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "locks after exactly PerIP failures, not before",
			steps: seq(
				fails(9, 0, sec, a, ""),
				check(8*sec, a, ""),
				fail(9*sec, a, "").locks(9*sec+minute),
				check(9*sec, a, "").locks(9*sec+minute),
				check(9*sec, b, ""), // another address is untouched
			),
		},
		{
			name: "failures spread over more than the window do not lock",
			steps: seq(
				fails(30, 0, 7*sec, a, ""), // any 10 of them span 63s
				check(4*minute, a, ""),
			),
		},
		{
			name: "the window is half-open: the 10th failure exactly Window after the 1st does not lock",
			steps: seq(
				fail(0, a, ""),
				fails(8, 30*sec, sec, a, ""),
				fail(minute, a, ""),
				// The 10 latest now span 31s: locks.
				fail(minute+sec, a, "").locks(2*minute+sec),
			),
		},
		{
			name: "a valid key from a locked-out address is refused",
			steps: seq(
				fails(9, 0, 0, a, ""),
				fail(0, a, j).locks(minute),
				check(30*sec, a, k).locks(minute), // k was never guessed: still refused
				check(30*sec, a, j).locks(minute),
			),
		},
		{
			name: "lockout ends after Backoff",
			steps: seq(
				fails(9, 0, 0, a, ""),
				fail(0, a, "").locks(minute),
				check(minute-1, a, "").locks(minute),
				check(minute, a, ""),
			),
		},
		{
			name: "failures during a lockout are not counted and do not extend it",
			steps: seq(
				fails(9, 0, 0, a, ""),
				fail(0, a, "").locks(minute),
				// Refused attempts: lockedNow false, until the one in force.
				step{op: opFail, at: 10 * sec, ip: a, locked: false, until: minute},
				step{op: opFail, at: 50 * sec, ip: a, locked: false, until: minute},
				check(minute, a, ""),
				// The spent failures are gone: 9 fresh ones do not lock.
				fails(9, minute, 0, a, ""),
				check(minute, a, ""),
			),
		},
		{
			name: "a second lockout lasts twice as long, capped at MaxBackoff",
			cfg:  Config{MaxBackoff: 5 * minute},
			steps: seq(
				fails(9, 0, 0, a, ""),
				fail(0, a, "").locks(minute), // 1m
				fails(9, minute, 0, a, ""),
				fail(minute, a, "").locks(3*minute), // 2m
				fails(9, 3*minute, 0, a, ""),
				fail(3*minute, a, "").locks(7*minute), // 4m
				fails(9, 7*minute, 0, a, ""),
				fail(7*minute, a, "").locks(12*minute), // 8m, capped at 5m
				fails(9, 12*minute, 0, a, ""),
				fail(12*minute, a, "").locks(17*minute), // still 5m
			),
		},
		{
			name: "the default cap is one hour",
			steps: seq(
				// Lockouts of 1, 2, 4, 8, 16, 32 minutes, then 60.
				fails(9, 0, 0, a, ""), fail(0, a, "").locks(minute),
				fails(9, 1*minute, 0, a, ""), fail(1*minute, a, "").locks(3*minute),
				fails(9, 3*minute, 0, a, ""), fail(3*minute, a, "").locks(7*minute),
				fails(9, 7*minute, 0, a, ""), fail(7*minute, a, "").locks(15*minute),
				fails(9, 15*minute, 0, a, ""), fail(15*minute, a, "").locks(31*minute),
				fails(9, 31*minute, 0, a, ""), fail(31*minute, a, "").locks(63*minute),
				fails(9, 63*minute, 0, a, ""), fail(63*minute, a, "").locks(123*minute),
				fails(9, 123*minute, 0, a, ""), fail(123*minute, a, "").locks(183*minute),
			),
		},
		{
			name: "Forget without failures resets the repetition",
			steps: seq(
				fails(9, 0, 0, a, ""), fail(0, a, "").locks(minute),
				fails(9, minute, 0, a, ""), fail(minute, a, "").locks(3*minute),
				// Last failure at 1m; 24h later the repetition is gone.
				fails(9, 24*hr+minute, 0, a, ""), fail(24*hr+minute, a, "").locks(24*hr+2*minute),
			),
		},
		{
			name: "a failure within Forget keeps the repetition",
			steps: seq(
				fails(9, 0, 0, a, ""), fail(0, a, "").locks(minute),
				fail(23*hr, a, ""), // keeps it alive
				fails(9, 46*hr, 0, a, ""), fail(46*hr, a, "").locks(46*hr+2*minute),
			),
		},
		{
			name: "Forget counts from the last refused attempt too",
			steps: seq(
				fails(9, 0, 0, a, ""), fail(0, a, "").locks(minute),
				step{op: opFail, at: 59 * sec, ip: a, until: minute}, // refused, not counted
				fails(9, 24*hr+58*sec, 0, a, ""),
				fail(24*hr+58*sec, a, "").locks(24*hr+58*sec+2*minute),
			),
		},
		{
			name: "IPv6 addresses in one /64 share a counter, other /64s do not",
			steps: seq(
				fails(5, 0, 0, "2001:db8:0:1::1", ""),
				fails(4, 0, 0, "2001:db8:0:1:ffff:ffff:ffff:ffff", ""),
				fail(0, "2001:db8:0:1:1234::", "").locks(minute),
				check(0, "2001:db8:0:1::99", "").locks(minute),
				check(0, "2001:db8:0:2::1", ""),
				check(0, "2001:db8:1:1::1", ""),
				check(0, "2001:db8::1", ""),
			),
		},
		{
			name: "IPv4-mapped IPv6 counts as IPv4",
			steps: seq(
				fails(5, 0, 0, "198.51.100.7", ""),
				fails(4, 0, 0, "::ffff:198.51.100.7", ""),
				fail(0, "198.51.100.7", "").locks(minute),
				check(0, "::ffff:198.51.100.7", "").locks(minute),
				check(0, "198.51.100.8", ""),
				check(0, "::ffff:198.51.100.8", ""),
			),
		},
		{
			name: "IPv4 addresses are counted one by one",
			steps: seq(
				fails(9, 0, 0, a, ""),
				fails(9, 0, 0, b, ""),
				check(0, a, ""),
				check(0, b, ""),
			),
		},
		{
			name: "a zone does not make another client",
			steps: seq(
				fails(5, 0, 0, "fe80::1%eth0", ""),
				fails(4, 0, 0, "fe80::1%eth1", ""),
				fail(0, "fe80::2", "").locks(minute),
			),
		},
		{
			name: "Succeed does not clear the address's failure count",
			steps: seq(
				fails(9, 0, sec, a, j),
				succeed(9*sec, a, k), // the attacker's own valid key
				fail(10*sec, a, j).locks(10*sec+minute),
			),
		},
		{
			name: "Succeed does not clear the repetition",
			steps: seq(
				fails(9, 0, 0, a, ""), fail(0, a, "").locks(minute),
				succeed(minute, a, k),
				fails(9, minute, 0, a, ""), fail(minute, a, "").locks(3*minute),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, New(tt.cfg), tt.steps)
		})
	}
}

// TestTrackerPerKey: failures against one key id lock that id only for the
// prefixes that failed against it; the owner elsewhere keeps working.
func TestTrackerPerKey(t *testing.T) {
	const (
		k     = "victimaaaaaaaaaa" // the public id under attack
		j     = "otherbbbbbbbbbbb"
		owner = "203.0.113.50"
	)
	// attackers[i] are ten distinct clients, one IPv4 and the rest /64s.
	attackers := []string{"198.51.100.1"}
	for i := 1; i < 10; i++ {
		attackers = append(attackers, fmt.Sprintf("2001:db8:%x::1", i))
	}
	// guesses: the first n attackers fail once each against key, a second
	// apart from start, none expected to start a lockout.
	guesses := func(n int, start time.Duration, key string) []step {
		var s []step
		for i, ip := range attackers[:n] {
			s = append(s, fail(start+time.Duration(i)*sec, ip, key))
		}
		return s
	}
	// PerIP high, so only the per-key rule is at work.
	cfg := Config{PerIP: 1000}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "PerKey failures from many clients lock each of them for that key only",
			steps: seq(
				guesses(9, 0, k), fail(9*sec, attackers[9], k).locks(9*sec+minute),
				// Every attacker, including the first, is refused for k…
				check(10*sec, attackers[0], k).locks(9*sec+minute),
				check(10*sec, attackers[4], k).locks(9*sec+minute),
				check(10*sec, "2001:db8:9::abcd", k).locks(9*sec+minute), // same /64
				// …but not for another key, nor with a malformed one.
				check(10*sec, attackers[0], j),
				check(10*sec, attackers[0], ""),
				// The owner never failed against k: not locked.
				check(10*sec, owner, k),
				step{op: opSucceed, at: 10 * sec, ip: owner, key: k},
				// Lockouts end after Backoff.
				check(9*sec+minute, attackers[0], k),
			),
		},
		{
			name: "nine failures do not lock",
			steps: seq(
				guesses(9, 0, k), fail(9*sec, attackers[0], j),
				check(9*sec, attackers[0], k),
			),
		},
		{
			name: "a new client failing against a key over its threshold is locked at once",
			steps: seq(
				guesses(9, 0, k), fail(9*sec, attackers[9], k).locks(9*sec+minute),
				fail(20*sec, "192.0.2.99", k).locks(20*sec+minute),
				check(20*sec, owner, k),
			),
		},
		{
			name: "once the attack is over, a new client's failure does not lock",
			steps: seq(
				guesses(9, 0, k), fail(9*sec, attackers[9], k).locks(9*sec+minute),
				// The 10 counted failures are from 0s to 9s; with one at
				// 70s, the 10 latest span more than the window.
				fail(70*sec, "192.0.2.99", k),
				check(70*sec, "192.0.2.99", k),
			),
		},
		{
			name: "the owner's own failures during the attack lock the owner for that key",
			steps: seq(
				guesses(9, 0, k), fail(9*sec, attackers[9], k).locks(9*sec+minute),
				fail(30*sec, owner, k).locks(30*sec+minute),
				check(30*sec, owner, k).locks(30*sec+minute),
				check(30*sec, owner, j), // the owner's other keys still work
			),
		},
		{
			name: "Succeed forgives the owner's earlier failure against its own key",
			steps: seq(
				fail(0, owner, k),
				succeed(sec, owner, k),
				guesses(9, 2*sec, k), fail(11*sec, attackers[9], k).locks(11*sec+minute),
				check(12*sec, owner, k),
			),
		},
		{
			name: "without Succeed the owner's earlier failure counts it among the guessers",
			steps: seq(
				fail(0, owner, k),
				guesses(8, 2*sec, k), fail(10*sec, attackers[8], k).locks(10*sec+minute),
				check(12*sec, owner, k).locks(10*sec+minute),
			),
		},
		{
			name: "Succeed with another key forgives nothing",
			steps: seq(
				fail(0, owner, k),
				succeed(sec, owner, j),
				guesses(8, 2*sec, k), fail(10*sec, attackers[8], k).locks(10*sec+minute),
				check(12*sec, owner, k).locks(10*sec+minute),
			),
		},
		{
			name: "Succeed while locked forgives nothing",
			steps: seq(
				guesses(9, 0, k), fail(9*sec, attackers[9], k).locks(9*sec+minute),
				succeed(10*sec, attackers[0], k),
				check(11*sec, attackers[0], k).locks(9*sec+minute),
			),
		},
		{
			name: "a repeated key lockout of the same client doubles",
			steps: seq(
				guesses(9, 0, k), fail(9*sec, attackers[9], k).locks(9*sec+minute),
				// After its lockout, attacker 9 tries again while the key
				// is still over its threshold (the 10 failures within the
				// window now end with this one).
				guesses(9, minute+10*sec, k), fail(minute+19*sec, attackers[9], k).locks(minute+19*sec+2*minute),
			),
		},
		{
			name: "one client reaching PerKey against one key is locked for it",
			cfg:  Config{PerIP: 1000, PerKey: 3},
			steps: seq(
				fail(0, "192.0.2.1", k),
				fail(sec, "192.0.2.1", k),
				fail(2*sec, "192.0.2.1", k).locks(2*sec+minute),
				check(3*sec, "192.0.2.1", j),
				check(3*sec, owner, k),
			),
		},
		{
			name: "a locked client's refused failures do not count against the key",
			cfg:  Config{PerIP: 1000, PerKey: 3},
			steps: seq(
				fail(0, "192.0.2.1", k),
				fail(0, "192.0.2.1", k),
				fail(0, "192.0.2.1", k).locks(minute),
				step{op: opFail, at: sec, ip: "192.0.2.1", key: k, until: minute},
				step{op: opFail, at: sec, ip: "192.0.2.1", key: k, until: minute},
				step{op: opFail, at: 2 * minute, ip: "192.0.2.1", key: k}, // counted again
				fail(2*minute, "192.0.2.2", k),
				// Three counted failures within the window from 2m, plus
				// the three from 0s long gone.
				fail(2*minute+sec, "192.0.2.3", k).locks(2*minute+sec+minute),
				check(2*minute+sec, "192.0.2.1", k).locks(4*minute+sec), // its second: 2m
				check(2*minute+sec, "192.0.2.2", k).locks(3*minute+sec),
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg != (Config{}) {
				c = tt.cfg
			}
			run(t, New(c), tt.steps)
		})
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		ip   netip.Addr
		want string
	}{
		{netip.MustParseAddr("192.0.2.1"), "192.0.2.1/32"},
		{netip.MustParseAddr("::ffff:192.0.2.1"), "192.0.2.1/32"},
		{netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64"},
		{netip.MustParseAddr("fe80::1%eth0"), "fe80::/64"},
		{netip.MustParseAddr("::1"), "::/64"},
		{netip.Addr{}, "invalid Prefix"},
	}
	for _, tt := range tests {
		if got := Prefix(tt.ip); got.String() != tt.want {
			t.Errorf("Prefix(%v) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{MaxBackoff: 10 * time.Second, PerIP: -1}.withDefaults()
	want := Config{
		PerIP: 10, PerKey: 10, Window: time.Minute, Backoff: time.Minute,
		MaxBackoff: time.Minute, // raised to Backoff
		Forget:     24 * time.Hour, MaxEntries: 100000,
	}
	if got != want {
		t.Errorf("withDefaults = %+v, want %+v", got, want)
	}
}

// TestEviction: the Tracker never holds more than MaxEntries, dropping the
// least recently used; Check keeps a knocking client's lockout alive and
// never adds an entry.
func TestEviction(t *testing.T) {
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }

	t.Run("bound", func(t *testing.T) {
		tr := New(Config{MaxEntries: 100})
		for i := range 1000 {
			tr.Fail(addr(i), fmt.Sprintf("key%013d", i), t0)
			if n := tr.Len(); n > 100 {
				t.Fatalf("after %d failures: Len = %d, want <= 100", i+1, n)
			}
		}
		for i := range 1000 {
			tr.Check(addr(5000+i), "", t0)
		}
		if n := tr.Len(); n != 100 {
			t.Errorf("Len = %d, want 100", n)
		}
	})

	t.Run("least recently used goes first", func(t *testing.T) {
		tr := New(Config{PerIP: 1, MaxEntries: 3})
		if locked, _ := tr.Fail(addr(1), "", t0); !locked {
			t.Fatal("addr 1 not locked")
		}
		tr.Fail(addr(2), "", t0)
		tr.Check(addr(1), "", t0) // addr 1 knocks again: most recent
		tr.Fail(addr(3), "", t0)
		tr.Fail(addr(4), "", t0) // evicts addr 2
		if locked, _ := tr.Check(addr(1), "", t0.Add(time.Second)); !locked {
			t.Error("addr 1 lost its lockout to eviction")
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for i, want := range map[int]bool{1: true, 2: false, 3: true, 4: true} {
			_, ok := tr.entries[entryKey{kind: kindPrefix, prefix: Prefix(addr(i))}]
			if ok != want {
				t.Errorf("entry for addr %d present = %v, want %v", i, ok, want)
			}
		}
	})

	t.Run("evicted client starts afresh", func(t *testing.T) {
		tr := New(Config{PerIP: 2, MaxEntries: 2})
		tr.Fail(addr(1), "", t0)
		tr.Fail(addr(2), "", t0)
		tr.Fail(addr(3), "", t0) // evicts addr 1
		if locked, _ := tr.Fail(addr(1), "", t0); locked {
			t.Error("addr 1 locked after one counted failure")
		}
	})
}

// TestConcurrent hammers one Tracker from many goroutines (run with -race):
// exactly one of PerIP simultaneous failures starts the lockout.
func TestConcurrent(t *testing.T) {
	const n = 100
	tr := New(Config{PerIP: n, PerKey: n, MaxEntries: 500})
	shared := netip.MustParseAddr("2001:db8::1")
	var started atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			own := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
			key := fmt.Sprintf("key%013d", i)
			for range 20 {
				tr.Check(own, key, t0)
				tr.Fail(own, key, t0)
				tr.Succeed(own, key, t0)
				tr.Len()
			}
			if locked, _ := tr.Fail(shared, "sharedkeyaaaaaaa", t0); locked {
				started.Add(1)
			}
			tr.Check(shared, "sharedkeyaaaaaaa", t0)
		})
	}
	wg.Wait()
	if got := started.Load(); got != 1 {
		t.Errorf("%d failures reported starting the lockout, want 1", got)
	}
	if locked, _ := tr.Check(shared, "", t0); !locked {
		t.Error("shared address not locked")
	}
	if got := tr.Len(); got > 500 {
		t.Errorf("Len = %d, want <= 500", got)
	}
}
