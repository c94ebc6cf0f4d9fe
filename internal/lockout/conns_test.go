package lockout

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

func TestConns(t *testing.T) {
	// call is one Acquire, or with release set, the release of the
	// connection acquired at step release-1.
	type call struct {
		ip      string
		release int
		ok      bool
		reason  string
	}
	acq := func(ip string, ok bool, reason string) call { return call{ip: ip, ok: ok, reason: reason} }
	rel := func(step int) call { return call{release: step + 1} }
	tests := []struct {
		name   string
		limits ConnLimits
		calls  []call
		open   int
	}{
		{
			name: "per-IP limit", limits: ConnLimits{PerIP: 2, Total: 100},
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.1", true, ""),
				acq("192.0.2.1", false, ReasonPerIP),
				acq("::ffff:192.0.2.1", false, ReasonPerIP), // mapped: same client
				acq("192.0.2.2", true, ""),
				rel(0),
				acq("192.0.2.1", true, ""),
				acq("192.0.2.1", false, ReasonPerIP),
			},
			open: 3,
		},
		{
			name:   "per-IP limit counts an IPv6 /64",
			limits: ConnLimits{PerIP: 2, Total: 100},
			calls: []call{
				acq("2001:db8::1", true, ""),
				acq("2001:db8::2", true, ""),
				acq("2001:db8::3", false, ReasonPerIP),
				acq("2001:db8:0:1::1", true, ""),
			},
			open: 3,
		},
		{
			name: "global limit", limits: ConnLimits{PerIP: 2, Total: 3},
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.2", true, ""),
				acq("192.0.2.3", true, ""),
				acq("192.0.2.4", false, ReasonGlobal),
				rel(1),
				acq("192.0.2.4", true, ""),
				acq("192.0.2.5", false, ReasonGlobal),
			},
			open: 3,
		},
		{
			name: "the per-IP reason comes first", limits: ConnLimits{PerIP: 1, Total: 2},
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.2", true, ""),
				acq("192.0.2.1", false, ReasonPerIP),
				acq("192.0.2.3", false, ReasonGlobal),
			},
			open: 2,
		},
		{
			name: "release is idempotent", limits: ConnLimits{PerIP: 1, Total: 2},
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.2", true, ""),
				rel(0),
				rel(0),
				acq("192.0.2.1", true, ""),
				acq("192.0.2.3", false, ReasonGlobal),
				acq("192.0.2.1", false, ReasonPerIP),
			},
			open: 2,
		},
		{
			name: "a refused Acquire's release is a no-op", limits: ConnLimits{PerIP: 1, Total: 100},
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.1", false, ReasonPerIP),
				rel(1),
				acq("192.0.2.1", false, ReasonPerIP),
			},
			open: 1,
		},
		{
			name:   "the /48 limit counts all the /64s of a /48",
			limits: ConnLimits{PerIP: 2, Per48: 3, Total: 100},
			calls: []call{
				acq("2001:db8:1:1::1", true, ""),
				acq("2001:db8:1:2::1", true, ""),
				acq("2001:db8:1:ffff::1", true, ""),
				acq("2001:db8:1:3::1", false, ReasonPer48),
				acq("2001:db8:1:1::2", false, ReasonPer48),
				acq("2001:db8:2::1", true, ""),                  // the next /48
				acq("2001:db8:1:1::1%eth0", false, ReasonPer48), // a zone changes nothing
				rel(1),
				acq("2001:db8:1:3::1", true, ""),
				acq("2001:db8:1:4::1", false, ReasonPer48),
			},
			open: 4,
		},
		{
			name:   "the per-IP reason comes before the /48 one",
			limits: ConnLimits{PerIP: 1, Per48: 2, Total: 100},
			calls: []call{
				acq("2001:db8:1:1::1", true, ""),
				acq("2001:db8:1:1::2", false, ReasonPerIP),
				acq("2001:db8:1:2::1", true, ""),
				acq("2001:db8:1:2::1", false, ReasonPerIP),
				acq("2001:db8:1:3::1", false, ReasonPer48),
			},
			open: 2,
		},
		{
			name:   "the /48 reason comes before the global one",
			limits: ConnLimits{PerIP: 5, Per48: 2, Total: 2},
			calls: []call{
				acq("2001:db8:1:1::1", true, ""),
				acq("2001:db8:1:2::1", true, ""),
				acq("2001:db8:1:3::1", false, ReasonPer48),
				acq("2001:db8:2::1", false, ReasonGlobal),
			},
			open: 2,
		},
		{
			name:   "IPv4 has no /48 rule, mapped or not",
			limits: ConnLimits{PerIP: 2, Per48: 2, Total: 100},
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.2", true, ""),
				acq("192.0.2.3", true, ""),
				acq("::ffff:192.0.2.4", true, ""),
				acq("198.51.100.1", true, ""),
			},
			open: 5,
		},
		{
			name:   "a /48 refusal takes no slot",
			limits: ConnLimits{PerIP: 5, Per48: 1, Total: 2},
			calls: []call{
				acq("2001:db8:1::1", true, ""),
				acq("2001:db8:1:1::1", false, ReasonPer48),
				acq("2001:db8:1:2::1", false, ReasonPer48),
				acq("192.0.2.1", true, ""),
			},
			open: 2,
		},
		{
			name: "zero means no limit", limits: ConnLimits{},
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.1", true, ""),
				acq("192.0.2.1", true, ""),
			},
			open: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConns(tt.limits)
			releases := make([]func(), len(tt.calls))
			for i, cl := range tt.calls {
				if cl.release > 0 {
					releases[cl.release-1]()
					continue
				}
				release, ok, reason := c.Acquire(netip.MustParseAddr(cl.ip))
				if release == nil {
					t.Fatalf("call %d: Acquire(%s) returned a nil release", i, cl.ip)
				}
				releases[i] = release
				if ok != cl.ok || reason != cl.reason {
					t.Errorf("call %d: Acquire(%s) = %v, %q; want %v, %q", i, cl.ip, ok, reason, cl.ok, cl.reason)
				}
			}
			if got := c.Open(); got != tt.open {
				t.Errorf("Open() = %d, want %d", got, tt.open)
			}
			for _, r := range releases {
				if r != nil {
					r()
				}
			}
			if got := c.Open(); got != 0 {
				t.Errorf("after releasing all: Open() = %d, want 0", got)
			}
			if len(c.open) != 0 || len(c.open48) != 0 {
				t.Errorf("after releasing all: %d prefixes and %d /48s still counted", len(c.open), len(c.open48))
			}
		})
	}
}

// TestConnsConcurrent: under a race of many Acquires, exactly the limit is
// admitted (run with -race).
func TestConnsConcurrent(t *testing.T) {
	const n, global, perIP = 200, 50, 5
	c := NewConns(ConnLimits{PerIP: perIP, Per48: 1000, Total: global})
	var admitted, perIPRefused, globalRefused atomic.Int32
	releases := make(chan func(), n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// 20 clients, 10 goroutines each.
			ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i % 20)})
			release, ok, reason := c.Acquire(ip)
			switch {
			case ok:
				admitted.Add(1)
				releases <- release
			case reason == ReasonPerIP:
				perIPRefused.Add(1)
			case reason == ReasonGlobal:
				globalRefused.Add(1)
			}
		})
	}
	wg.Wait()
	close(releases)
	if got := admitted.Load(); got != global {
		t.Errorf("admitted %d, want %d", got, global)
	}
	if got := perIPRefused.Load() + globalRefused.Load(); got != n-global {
		t.Errorf("refused %d, want %d", got, n-global)
	}
	for r := range releases {
		wg.Go(func() { r(); r() })
	}
	wg.Wait()
	if got := c.Open(); got != 0 {
		t.Errorf("Open() = %d after releases, want 0", got)
	}
}

// TestFinding2IPv6Per48: one /48 holds 65 536 /64s; a client walking
// through them is still held to Per48 connections in all, while another
// /48 keeps its own budget and a released slot is usable again.
func TestFinding2IPv6Per48(t *testing.T) {
	const per48 = 100
	c := NewConns(ConnLimits{PerIP: 20, Per48: per48, Total: 1 << 20})
	var releases []func()
	refused := map[string]int{}
	for i := range 1 << 16 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, byte(i >> 8), byte(i), 15: 1})
		release, ok, reason := c.Acquire(ip)
		if ok {
			releases = append(releases, release)
		} else {
			refused[reason]++
		}
	}
	if len(releases) != per48 || refused[ReasonPer48] != 1<<16-per48 {
		t.Fatalf("65 536 /64s of one /48: %d admitted, refused %v; want %d admitted", len(releases), refused, per48)
	}
	if c.Open() != per48 {
		t.Errorf("Open() = %d, want %d", c.Open(), per48)
	}
	if _, ok, reason := c.Acquire(netip.MustParseAddr("2001:db8:2::1")); !ok {
		t.Errorf("another /48 refused: %s", reason)
	}
	releases[0]()
	releases[0]() // a second call gives nothing back twice
	if _, ok, reason := c.Acquire(netip.MustParseAddr("2001:db8:1:abcd::1")); !ok {
		t.Errorf("after one release: refused (%s)", reason)
	}
	if _, ok, _ := c.Acquire(netip.MustParseAddr("2001:db8:1:abce::1")); ok {
		t.Errorf("after one release, two admitted")
	}
}

func TestNet48(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		want string // "" for none
	}{
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"},
		{"2001:db8:1:ffff::1", "2001:db8:1::/48"},
		{"2001:db8:2::", "2001:db8:2::/48"},
		{"fe80::1%eth0", "fe80::/48"},
		{"::1", "::/48"},
		{"192.0.2.1", ""},
		{"::ffff:192.0.2.1", ""},
	} {
		p, ok := net48(netip.MustParseAddr(tc.ip))
		if got := map[bool]string{true: p.String()}[ok]; got != tc.want {
			t.Errorf("net48(%s) = %q, want %q", tc.ip, got, tc.want)
		}
	}
	if _, ok := net48(netip.Addr{}); ok {
		t.Errorf("the zero Addr has a /48")
	}
}

// One Conns per kind of listener: the MX port's strangers cannot take
// the submission port's slots.
func ExampleNewConns() {
	submission := NewConns(ConnLimits{PerIP: 20, Per48: 100, Total: 1000})
	mx := NewConns(ConnLimits{PerIP: 2, Per48: 3, Total: 500})

	for i := range 4 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, byte(i), 15: 1}) // 2001:db8:1:i::1
		release, ok, reason := mx.Acquire(ip)
		defer release()
		if ok {
			fmt.Println("mx", ip, "admitted")
		} else {
			fmt.Println("mx", ip, "refused:", reason)
		}
	}
	release, ok, _ := submission.Acquire(netip.MustParseAddr("2001:db8:1:9::1"))
	defer release()
	fmt.Println("submission", ok)
	// Output:
	// mx 2001:db8:1::1 admitted
	// mx 2001:db8:1:1::1 admitted
	// mx 2001:db8:1:2::1 admitted
	// mx 2001:db8:1:3::1 refused: too many connections from your network
	// submission true
}
