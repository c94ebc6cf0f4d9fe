package netguard

import "net/netip"

// namedPrefix is a network that is not the public internet, with the
// name a refusal gives it.
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

// Private names the network of a when it is not an address on the public
// internet: loopback, private (RFC 1918, RFC 4193), link-local,
// unspecified, multicast, CGNAT and the other special-purpose ranges, and
// IPv6 outside global unicast (2000::/3). An IPv4 address carried in IPv6
// (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16) is judged by the IPv4
// address. The zero Addr is "not an IP address". Private returns "" for
// an address on the public internet.
func Private(a netip.Addr) string {
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
	if r := Private(v4); r != "" {
		return r + ", " + how
	}
	return ""
}
