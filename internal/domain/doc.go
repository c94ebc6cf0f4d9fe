// Package domain is the pure part of domain authentication: it makes and
// reads the DKIM keys of a sending domain, builds the DNS records its owner
// must publish, and checks through a dnsres.Resolver whether they are
// published. It stores nothing and prints nothing of its own; the store and
// the CLI wire it in.
//
// What it implements:
//
//   - RFC 1123 §2.1: a sending domain is a host name of at least two
//     labels, IDNA A-labels (RFC 5890) for an internationalized one
//     (CheckName, which domain add uses).
//   - RFC 6376 §3.2: the tag=value list syntax (ParseDKIMRecord), tag names
//     case-sensitive, duplicate tags an error.
//   - RFC 6376 §3.6.1: the DKIM key record "v=DKIM1; k=rsa; p=<base64
//     SubjectPublicKeyInfo>"; §3.6.2.2: a TXT record's strings are joined
//     before it is read, and a long value is published as several strings
//     of at most 255 bytes (ZoneLines). RFC 8301 §3.2: RSA keys of 1024 to
//     4096 bits, 2048 generated.
//   - RFC 8463 §4.2: the Ed25519 key record "k=ed25519; p=<base64 of the
//     raw 32-byte public key>" (not an SPKI).
//   - RFC 7208 §4.5: a domain has at most one "v=spf1" record (two are a
//     permerror); §5: Verify looks for Postern's include/ip4/ip6 mechanism
//     with a pass qualifier before any "all".
//   - RFC 7489 §6.1, §6.3 and §6.6.3: the suggested DMARC record at
//     _dmarc.<domain>; any single valid v=DMARC1 record counts as published.
//
// A domain is verified when every Required record (the DKIM keys) matches;
// the SPF, return-path and DMARC records are advice, checked and reported
// but not required. So is an Optional DKIM key's: the key Postern
// generates beside one its owner brought ("bring your own key means that
// key alone"), which signs only once its record is found.
package domain
