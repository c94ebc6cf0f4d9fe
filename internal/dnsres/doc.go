// Package dnsres is the DNS resolver every Postern package asks: delivery
// for MX and address records, and the mail authentication checks (SPF,
// DKIM, DMARC, MTA-STS, DANE) for TXT and other records.
//
// Resolver is the small interface the rest of Postern depends on, so that
// tests can answer from a table or from testenv.StartDNS; Client implements
// it by querying a recursive resolver (the configured one, or those in
// /etc/resolv.conf). Client does no caching and no DNSSEC validation of its
// own: it trusts the resolver it is pointed at.
//
// What it implements:
//
//   - RFC 1035 §4: queries with recursion desired, names sent fully
//     qualified; the answer's ID, QR bit, opcode and question must match
//     the query. Names are ASCII only (IDNs are out of scope): anything else
//     is ErrBadName.
//   - RFC 6891: EDNS0 with a 1232-byte UDP buffer (the DNS Flag Day 2020
//     value, small enough not to fragment).
//   - RFC 7766 §5 and RFC 1035 §4.2.1: a truncated UDP answer is asked
//     again over TCP.
//   - RFC 1034 §3.6.2 and RFC 2181 §10.1: CNAME chains are followed inside
//     an answer and, when an answer stops at a CNAME without the target's
//     records (nor the SOA that marks NODATA for the target, RFC 2308
//     §2.2), by asking for the target; at most 8 hops in all, a loop or a
//     longer chain is a temporary failure. Only records owned by the end
//     of the chain are used: others in the answer section are ignored.
//     RFC 6604: the response code speaks of the end of the chain.
//   - RFC 2308: NXDOMAIN is ErrNXDomain (permanent); NOERROR without records
//     (NODATA) is an empty result without error. SERVFAIL, REFUSED, other
//     codes, timeouts, network errors and malformed answers are temporary
//     (IsTemporary): the caller should try again later, never bounce.
//   - RFC 7505: a null MX is returned as it is, for the caller to decide.
//   - RFC 7208 §3.3 and RFC 6376 §3.6.2.2: a TXT record's strings are
//     joined without separator.
//
// At most 100 records of one answer are used, so a huge answer costs
// little and cannot flood the caller.
package dnsres
