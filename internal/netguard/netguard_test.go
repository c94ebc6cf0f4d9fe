package netguard

import (
	"net/netip"
	"testing"
)

// The addresses below are data for the classifier: nothing is dialed.
func TestPrivate(t *testing.T) {
	cases := []struct {
		addr string
		want string // "" for public
	}{
		// Public.
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},  // just below CGNAT
		{"100.128.0.0", ""},     // just above
		{"172.15.255.255", ""},  // just below 172.16/12
		{"172.32.0.0", ""},      // just above
		{"169.253.255.255", ""}, // just below link-local
		{"223.255.255.255", ""}, // the last unicast below multicast
		{"2a00:1450:4001:80b::201a", ""},
		{"2001:4860:4860::8888", ""},
		{"::ffff:8.8.8.8", ""},   // IPv4-mapped public
		{"64:ff9b::808:808", ""}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},  // 6to4 of 8.8.8.8

		// Loopback and unspecified (Linux connects to 0.0.0.0 as to loopback).
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "this network, RFC 791"},

		// RFC 1918, RFC 4193, link-local, CGNAT.
		{"10.0.0.1", "private, RFC 1918"},
		{"10.255.255.255", "private, RFC 1918"},
		{"172.16.0.1", "private, RFC 1918"},
		{"172.31.255.255", "private, RFC 1918"},
		{"192.168.1.25", "private, RFC 1918"},
		{"fc00::1", "unique local, RFC 4193"},
		{"fd12:3456:789a::25", "unique local, RFC 4193"},
		{"169.254.169.254", "link-local"}, // cloud metadata
		{"fe80::1", "link-local"},
		{"febf:ffff::1", "link-local"},
		{"fe80::1%eth0", "link-local"}, // a zone does not hide it
		{"100.64.0.1", "shared address space (CGNAT), RFC 6598"},
		{"100.127.255.255", "shared address space (CGNAT), RFC 6598"},

		// IPv4 in IPv6.
		{"::ffff:127.0.0.1", "loopback, IPv4-mapped"},
		{"::ffff:10.1.2.3", "private, RFC 1918, IPv4-mapped"},
		{"::ffff:169.254.169.254", "link-local, IPv4-mapped"},
		{"::ffff:0.0.0.0", "unspecified, IPv4-mapped"},
		{"64:ff9b::7f00:1", "loopback, NAT64"},
		{"64:ff9b::a00:1", "private, RFC 1918, NAT64"},
		{"2002:c0a8:101::1", "private, RFC 1918, 6to4"},
		{"::127.0.0.1", "IPv4-compatible, deprecated by RFC 4291"},

		// Multicast, broadcast, reserved, and the other special purposes.
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff05::2", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved, RFC 1112"},
		{"192.0.0.8", "IETF protocol assignments, RFC 6890"},
		{"192.0.2.1", "documentation, RFC 5737"},
		{"198.51.100.7", "documentation, RFC 5737"},
		{"203.0.113.9", "documentation, RFC 5737"},
		{"198.18.0.1", "benchmarking, RFC 2544"},
		{"198.19.255.255", "benchmarking, RFC 2544"},
		{"2001:db8::25", "documentation, RFC 3849"},
		{"64:ff9b:1::1", "local-use NAT64, RFC 8215"},
		{"100::1", "discard-only, RFC 6666"},
		{"fec0::1", "site-local, deprecated by RFC 3879"},
		{"4000::1", "reserved, outside IPv6 global unicast 2000::/3"},
	}
	for _, tc := range cases {
		if got := Private(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Private(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	if got := Private(netip.Addr{}); got == "" {
		t.Error("the zero Addr is public")
	}
}
