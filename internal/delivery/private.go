package delivery

import (
	"fmt"
	"net/netip"
)

// Which addresses delivery connects to.
//
// An MX record is the recipient domain's to write, and so is every
// address its hosts resolve to: a tenant who controls a domain's DNS
// could otherwise aim Postern at port 25 of a service inside Postern's
// own network (loopback, the LAN, a cloud metadata range). Unless
// delivery.allow_private_networks is on, the worker checks each resolved
// address right before it dials it, and dials that literal address (Dial
// resolves no names), so no DNS answer can change in between. A
// destination all of whose addresses are refused fails permanently
// (5.4.4, no usable route).

// namedPrefix is a network delivery does not connect to, with the name
// given in the refusal.
type namedPrefix struct {
	prefix netip.Prefix
	name   string
}

// specialPurpose returns the networks of the IANA special-purpose address
// registries (RFC 6890) that are not reachable on the public internet,
// beyond those netip's predicates name (loopback, RFC 1918, RFC 4193,
// link-local, multicast, unspecified).
func specialPurpose() []namedPrefix {
	p := netip.MustParsePrefix
	return []namedPrefix{
		{p("0.0.0.0/8"), "this network, RFC 791"},
		{p("100.64.0.0/10"), "shared address space (CGNAT), RFC 6598"},
		{p("192.0.0.0/24"), "IETF protocol assignments, RFC 6890"},
		{p("192.0.2.0/24"), "documentation, RFC 5737"},
		{p("198.18.0.0/15"), "benchmarking, RFC 2544"},
		{p("198.51.100.0/24"), "documentation, RFC 5737"},
		{p("203.0.113.0/24"), "documentation, RFC 5737"},
		{p("255.255.255.255/32"), "broadcast"},
		{p("240.0.0.0/4"), "reserved, RFC 1112"},
		{p("::/96"), "IPv4-compatible, deprecated by RFC 4291"},
		{p("64:ff9b:1::/48"), "local-use NAT64, RFC 8215"},
		{p("100::/64"), "discard-only, RFC 6666"},
		{p("2001:db8::/32"), "documentation, RFC 3849"},
		{p("fec0::/10"), "site-local, deprecated by RFC 3879"},
	}
}

// privateRange names the network of a when delivery must not connect
// there without delivery.allow_private_networks: loopback, private
// (RFC 1918, RFC 4193), link-local, unspecified, multicast, CGNAT and the
// other special-purpose ranges, and IPv6 outside global unicast
// (2000::/3). An IPv4 address carried in IPv6 (IPv4-mapped, NAT64
// 64:ff9b::/96, 6to4 2002::/16) is judged by the IPv4 address. It
// returns "" for an address on the public internet.
func privateRange(a netip.Addr) string {
	a = a.WithZone("")
	if a.Is4In6() {
		return embedded(a.Unmap(), "IPv4-mapped")
	}
	switch {
	case !a.IsValid():
		return "not an IP address"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate() && a.Is4():
		return "private, RFC 1918"
	case a.IsPrivate():
		return "unique local, RFC 4193"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast():
		return "multicast"
	}
	for _, s := range specialPurpose() {
		if s.prefix.Contains(a) {
			return s.name
		}
	}
	if a.Is4() {
		return ""
	}
	b := a.As16()
	switch {
	case netip.MustParsePrefix("64:ff9b::/96").Contains(a):
		return embedded(netip.AddrFrom4([4]byte(b[12:16])), "NAT64")
	case netip.MustParsePrefix("2002::/16").Contains(a):
		return embedded(netip.AddrFrom4([4]byte(b[2:6])), "6to4")
	case !netip.MustParsePrefix("2000::/3").Contains(a):
		return "reserved, outside IPv6 global unicast 2000::/3"
	}
	return ""
}

// embedded judges an IPv6 address by the IPv4 address v4 it carries in
// the way named by how.
func embedded(v4 netip.Addr, how string) string {
	if r := privateRange(v4); r != "" {
		return r + ", " + how
	}
	return ""
}

// privateRefusal is the Result for a destination whose every address was
// refused by privateRange: permanent, since the same DNS gives the same
// answer next time, with X.4.4 (unable to route, RFC 3463).
func privateRefusal(refused []target) Result {
	t := refused[0]
	more := ""
	switch n := len(refused) - 1; {
	case n == 1:
		more = ", as does 1 more address of the MX hosts"
	case n > 1:
		more = fmt.Sprintf(", as do %d more addresses of the MX hosts", n)
	}
	return Perm(enhNoRoute, "MX host %s resolves to a private address (%s, %s)%s; refused (delivery.allow_private_networks is off)",
		t.Host, t.Addr, privateRange(t.Addr), more)
}
