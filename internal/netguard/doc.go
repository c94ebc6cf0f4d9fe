// Package netguard decides which IP addresses Postern's outbound
// connections made on a tenant's say may reach. Two such connections
// exist: delivery to the MX hosts of a recipient domain (whose DNS the
// tenant may write) and event webhook POSTs (whose URL the tenant
// writes). Left unchecked, either could aim Postern at a service inside
// its own network: loopback, the LAN, a cloud metadata address.
//
// [Private] is the one rule both use: it names the network of an address
// that is not on the public internet, by the IANA special-purpose address
// registries (RFC 6890) and the ranges netip names (loopback, RFC 1918,
// RFC 4193, link-local RFC 3927 and RFC 4291 §2.5.6, multicast,
// unspecified), plus CGNAT (RFC 6598), documentation (RFC 5737,
// RFC 3849), benchmarking (RFC 2544) and IPv6 outside global unicast.
// An IPv4 address carried in IPv6 (IPv4-mapped, NAT64 RFC 6052, 6to4
// RFC 3056) is judged by the IPv4 address it carries.
//
// The package is pure: it resolves and dials nothing. A caller checks
// each resolved address right before it connects and then connects to
// that IP literal, so that no DNS answer can change in between (DNS
// rebinding).
package netguard
