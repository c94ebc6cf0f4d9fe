package dnsres

import (
	"context"
	"errors"
	"net/netip"
)

// MX is one mail exchanger of a domain.
type MX struct {
	Host string // lowercased, without the trailing dot; "." for a null MX
	Pref uint16
}

// Resolver answers the questions Postern asks of the DNS.
type Resolver interface {
	// LookupMX returns the domain's MX records sorted by preference
	// (records of equal preference in the order of the answer). NODATA
	// is (nil, nil): the caller falls back to the implicit MX. A null MX
	// (RFC 7505) comes back as []MX{{Host: ".", Pref: 0}}: the caller
	// decides what it means (delivery bounces).
	LookupMX(ctx context.Context, domain string) ([]MX, error)
	// LookupIP returns the host's IPv4 (A) then IPv6 (AAAA) addresses,
	// both asked in parallel. NODATA for both is (nil, nil).
	LookupIP(ctx context.Context, host string) ([]netip.Addr, error)
	// LookupTXT returns the name's TXT records, each record's strings
	// joined. NODATA is (nil, nil).
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// ErrNXDomain is wrapped by the error of a lookup whose name does not
// exist: a permanent answer.
var ErrNXDomain = errors.New("dnsres: domain does not exist")

// ErrBadName is wrapped by the error of a lookup for a name that cannot be
// asked: empty, not ASCII (IDNs are not supported), with spaces, control
// characters or backslashes, or with an empty or too long label. It is
// permanent.
var ErrBadName = errors.New("dnsres: bad domain name")

// Error is the error of a failed lookup. Its text names the query and says
// what went wrong, e.g. "dnsres: MX example.test: server failure
// (SERVFAIL)".
type Error struct {
	Type      string // the query type: "MX", "A", "AAAA", "TXT"…
	Name      string // the name asked, as the caller gave it (quoted if it is a bad name)
	Reason    string // what went wrong, for people
	Temporary bool   // asking again later may succeed
	Err       error  // the cause: ErrNXDomain, ErrBadName, a network or context error, or nil
}

func (e *Error) Error() string {
	return "dnsres: " + e.Type + " " + e.Name + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err is a lookup failure that may go away
// (SERVFAIL, REFUSED, timeout, malformed answer, CNAME loop, network
// error…), as opposed to an answer (ErrNXDomain) or a bad question
// (ErrBadName). It is false for nil and for errors not from this package.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}
