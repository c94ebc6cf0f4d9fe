package lockout

import (
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
		name          string
		perIP, global int
		calls         []call
		open          int
	}{
		{
			name: "per-IP limit", perIP: 2, global: 100,
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
			name:  "per-IP limit counts an IPv6 /64",
			perIP: 2, global: 100,
			calls: []call{
				acq("2001:db8::1", true, ""),
				acq("2001:db8::2", true, ""),
				acq("2001:db8::3", false, ReasonPerIP),
				acq("2001:db8:0:1::1", true, ""),
			},
			open: 3,
		},
		{
			name: "global limit", perIP: 2, global: 3,
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
			name: "the per-IP reason comes first", perIP: 1, global: 2,
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.2", true, ""),
				acq("192.0.2.1", false, ReasonPerIP),
				acq("192.0.2.3", false, ReasonGlobal),
			},
			open: 2,
		},
		{
			name: "release is idempotent", perIP: 1, global: 2,
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
			name: "a refused Acquire's release is a no-op", perIP: 1, global: 100,
			calls: []call{
				acq("192.0.2.1", true, ""),
				acq("192.0.2.1", false, ReasonPerIP),
				rel(1),
				acq("192.0.2.1", false, ReasonPerIP),
			},
			open: 1,
		},
		{
			name: "zero means no limit", perIP: 0, global: 0,
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
			c := NewConns(tt.perIP, tt.global)
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
			if len(c.open) != 0 {
				t.Errorf("after releasing all: %d prefixes still counted", len(c.open))
			}
		})
	}
}

// TestConnsConcurrent: under a race of many Acquires, exactly the limit is
// admitted (run with -race).
func TestConnsConcurrent(t *testing.T) {
	const n, global, perIP = 200, 50, 5
	c := NewConns(perIP, global)
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
