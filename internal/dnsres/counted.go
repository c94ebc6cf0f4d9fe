package dnsres

import (
	"context"
	"net/netip"
)

// Counter is told of every lookup a Counted resolver makes
// (*observe.Metrics is one): its type ("mx", "ip", "txt") and whether it
// failed, that is, got no answer: IsTemporary (timeout, SERVFAIL, a
// network error). NXDOMAIN and NODATA are answers, not failures.
type Counter interface {
	DNSLookup(typ string, failed bool)
}

// Counted is a Resolver that counts the lookups of the one it wraps.
type Counted struct {
	Resolver Resolver
	Counter  Counter
}

var _ Resolver = Counted{}

// LookupMX counts and asks r's MX lookup.
func (c Counted) LookupMX(ctx context.Context, domain string) ([]MX, error) {
	mx, err := c.Resolver.LookupMX(ctx, domain)
	c.Counter.DNSLookup("mx", IsTemporary(err))
	return mx, err
}

// LookupIP counts and asks r's address lookup (A and AAAA, one lookup).
func (c Counted) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	ips, err := c.Resolver.LookupIP(ctx, host)
	c.Counter.DNSLookup("ip", IsTemporary(err))
	return ips, err
}

// LookupTXT counts and asks r's TXT lookup.
func (c Counted) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := c.Resolver.LookupTXT(ctx, name)
	c.Counter.DNSLookup("txt", IsTemporary(err))
	return txt, err
}
