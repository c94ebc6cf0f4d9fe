package lockout

import (
	"net/netip"
	"sync"
)

// Reasons Conns.Acquire gives for a refusal, fit for the client to read.
const (
	ReasonPerIP  = "too many connections from your address"
	ReasonPer48  = "too many connections from your network"
	ReasonGlobal = "too many connections"
)

// ConnLimits are the budgets of a Conns. A limit of zero or less is no
// limit; app sets all three from the validated config, which requires
// them to be at least 1 (smtp.max_connections_per_ip,
// smtp.max_connections_per_48, smtp.max_connections or
// smtp.mx_max_connections).
type ConnLimits struct {
	// PerIP bounds the connections of one client prefix (Prefix): an IPv4
	// address, or an IPv6 /64.
	PerIP int
	// Per48 bounds the connections of one IPv6 /48, all its /64s
	// together: a site is commonly given a /48, so a client that walks
	// through its 65 536 /64s is still one client. IPv4 has no such rule:
	// an address costs its holder, and unrelated senders (a provider's
	// outbound pool, a carrier-grade NAT) share a /24.
	Per48 int
	// Total bounds the connections in all.
	Total int
}

// Conns counts open connections per client prefix (see Prefix), per IPv6
// /48 and in total. It is safe for concurrent use. The zero value is not
// usable; call NewConns. Each kind of listener that needs a budget of its
// own (submission, MX) gets its own Conns, so that strangers on the
// public port cannot take the slots of authenticated clients.
type Conns struct {
	limits ConnLimits

	mu     sync.Mutex
	open   map[netip.Prefix]int // per client prefix; only those with open connections
	open48 map[netip.Prefix]int // per IPv6 /48; likewise
	total  int
}

// NewConns returns a counter that admits connections within limits.
func NewConns(limits ConnLimits) *Conns {
	return &Conns{limits: limits, open: make(map[netip.Prefix]int), open48: make(map[netip.Prefix]int)}
}

// Acquire admits a new connection from ip, or refuses it with a reason
// (ReasonPerIP, checked first, then ReasonPer48, then ReasonGlobal). A
// refused connection takes no slot. release gives the slot back; it must
// be called once the connection is closed, and calling it again does
// nothing. On refusal release is a no-op, never nil, so callers may defer
// it either way.
func (c *Conns) Acquire(ip netip.Addr) (release func(), ok bool, reason string) {
	p := Prefix(ip)
	p48, has48 := net48(ip)
	l := c.limits
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case l.PerIP > 0 && c.open[p] >= l.PerIP:
		return func() {}, false, ReasonPerIP
	case has48 && l.Per48 > 0 && c.open48[p48] >= l.Per48:
		return func() {}, false, ReasonPer48
	case l.Total > 0 && c.total >= l.Total:
		return func() {}, false, ReasonGlobal
	}
	c.open[p]++
	if has48 {
		c.open48[p48]++
	}
	c.total++
	var once sync.Once
	return func() { once.Do(func() { c.release(p, p48, has48) }) }, true, ""
}

// release gives back one connection of p and, for IPv6, of its /48 p48.
func (c *Conns) release(p, p48 netip.Prefix, has48 bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[p]--; c.open[p] <= 0 {
		delete(c.open, p)
	}
	if has48 {
		if c.open48[p48]--; c.open48[p48] <= 0 {
			delete(c.open48, p48)
		}
	}
	c.total--
}

// net48 returns the /48 of an IPv6 address, and false for an IPv4 (or
// IPv4-mapped) address and the zero Addr. A zone is ignored.
func net48(ip netip.Addr) (netip.Prefix, bool) {
	ip = ip.Unmap().WithZone("")
	if !ip.Is6() {
		return netip.Prefix{}, false
	}
	p, _ := ip.Prefix(48) // cannot fail: 48 bits of a zone-less IPv6 address
	return p, true
}

// Open returns the number of connections held in all, for a gauge.
func (c *Conns) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}
