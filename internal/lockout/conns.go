package lockout

import (
	"net/netip"
	"sync"
)

// Reasons Conns.Acquire gives for a refusal, fit for the client to read.
const (
	ReasonPerIP  = "too many connections from your address"
	ReasonGlobal = "too many connections"
)

// Conns counts open connections per client prefix (see Prefix) and in
// total. It is safe for concurrent use. The zero value is not usable; call
// NewConns.
type Conns struct {
	perIP, global int

	mu    sync.Mutex
	open  map[netip.Prefix]int // only prefixes with open connections
	total int
}

// NewConns returns a counter that admits at most perIP connections from
// one client prefix and global connections in all. A limit of zero or less
// means no limit.
func NewConns(perIP, global int) *Conns {
	return &Conns{perIP: perIP, global: global, open: make(map[netip.Prefix]int)}
}

// Acquire admits a new connection from ip, or refuses it with a reason
// (ReasonPerIP, checked first, or ReasonGlobal). release gives the slot
// back; it must be called once the connection is closed, and calling it
// again does nothing. On refusal release is a no-op, never nil, so callers
// may defer it either way.
func (c *Conns) Acquire(ip netip.Addr) (release func(), ok bool, reason string) {
	p := Prefix(ip)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perIP > 0 && c.open[p] >= c.perIP {
		return func() {}, false, ReasonPerIP
	}
	if c.global > 0 && c.total >= c.global {
		return func() {}, false, ReasonGlobal
	}
	c.open[p]++
	c.total++
	var once sync.Once
	return func() { once.Do(func() { c.release(p) }) }, true, ""
}

// release gives back one connection of p.
func (c *Conns) release(p netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[p]--; c.open[p] <= 0 {
		delete(c.open, p)
	}
	c.total--
}

// Open returns the number of connections held in all, for a gauge.
func (c *Conns) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
