// Package mailaddr is the pure (no I/O) parser and printer of the
// addresses in SMTP paths: what goes between the angle brackets of
// MAIL FROM and RCPT TO, and what Postern keeps in its queue.
//
// It implements:
//   - RFC 5321 §4.1.2: Mailbox = Local-part "@" ( Domain / address-literal ),
//     Local-part = Dot-string / Quoted-string. A Dot-string is atoms of
//     atext joined by single dots (no leading, trailing or double dot); a
//     Quoted-string is DQUOTE *( qtextSMTP / quoted-pairSMTP ) DQUOTE, where
//     qtextSMTP is printable US-ASCII other than `"` and `\`, and
//     quoted-pairSMTP is `\` followed by printable US-ASCII (32–126). The
//     domain is a host name of LDH labels (letters, digits, hyphens; no
//     label empty or starting or ending with a hyphen).
//   - RFC 5321 §4.1.3: address literals, [IPv4] and [IPv6:...] (the tag
//     matched case-insensitively, as ABNF literals are), each checked with
//     net/netip: dotted-quad IPv4 only, IPv6 without a zone. General
//     address literals (other tags) are refused.
//   - RFC 5321 §4.5.3.1: at most 64 octets of local part (§4.5.3.1.1), 255
//     of domain (§4.5.3.1.2) and 254 of mailbox, which is the 256-octet
//     path of §4.5.3.1.3 without its angle brackets. The lengths are those
//     of the form String writes, which is what leaves Postern.
//   - RFC 6531 §3.3 (SMTPUTF8): UTF-8 in atext and qtextSMTP, and U-labels
//     in the domain, when the UTF-8 is valid. A U-label's characters must
//     be letters, marks or digits (as IDNA2008 would have them, roughly;
//     Postern does not convert to A-labels, so the 63-octet label limit is
//     checked on ASCII labels only).
//
// Stricter than the RFCs, because these strings reach logs, terminals and
// DSNs: no control character anywhere (C0, DEL and the C1 range
// U+0080–U+009F), not even in a quoted-pair, and no invalid UTF-8. The
// empty local part (`""@example.com`, which §4.1.2 allows) is refused too.
//
// Address.Local is the local part's value, unquoted: `"ceo@b.test"@sub.test`
// has the Local `ceo@b.test`. Address.String quotes it again, as a
// Dot-string when it is one and as a Quoted-string otherwise, so an address
// that Parse accepted always reads back as itself. A domain never contains
// "@", so in an accepted address the last "@" is always the separator.
//
// Errors wrap one of ErrControl, ErrUTF8, ErrLocalPart, ErrDomain and
// ErrTooLong; their text never quotes the address, but it is meant for
// logs, not for clients.
package mailaddr
