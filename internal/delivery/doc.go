// Package delivery hands queued messages to the mail exchangers of their
// recipients' domains: it finds where mail goes, speaks SMTP to the MX,
// and turns every outcome into a typed Result (permanent or temporary,
// reply code, enhanced code, the remote line) for the queue to act on:
// done, retry later, or bounce.
//
// The SMTP client (Dial, Conn.Send, Conn.Close) is written on its own
// line-level primitives rather than a general SMTP library, so that every
// octet sent is Postern's choice, replies come back per recipient, and
// pipelining is under control. It implements:
//
//   - RFC 5321 §3 (the SMTP procedures): the greeting, where a 554 is
//     permanent for the destination and a 4xx temporary (§3.1); EHLO,
//     with HELO when EHLO is answered 500 or 502 (§3.2); the mail
//     transaction MAIL, RCPT, DATA, with DATA only when a recipient was
//     accepted (§3.3); RSET after a failed transaction so the connection
//     can carry the next one; QUIT on Close (§3.8), where a reply that
//     never comes cannot hang the caller; 421 from the server at any
//     point ends the connection (§3.8). Replies are parsed by §4.2:
//     multi-line replies, one code on every line. Bodies are dot-stuffed
//     (§4.5.2).
//   - RFC 5321 §4.5.3.2: every read and write has a deadline, by default
//     the section's values (connect 30s, greeting 5m, MAIL 5m, RCPT 5m,
//     DATA initiation 2m, each data block 3m, the final dot 10m); the
//     caller's context cancels too.
//   - RFC 2920 (PIPELINING): MAIL and all RCPTs go in one write, their
//     replies are read in order; DATA is not pipelined.
//   - RFC 3207 (STARTTLS): used whenever offered, then EHLO again.
//     Certificates are verified by hand after the handshake, so that an
//     unverifiable certificate still gives encryption (opportunistic TLS)
//     and the failure is recorded in TLSInfo. Data the server sends after
//     its 220 and before TLS is refused (response injection).
//   - RFC 6152 (8BITMIME): BODY=8BITMIME when the body has 8-bit octets
//     and the server offers it.
//   - RFC 1870 (SIZE): SIZE=n given when offered; a message over the
//     server's stated limit is refused permanently (5.3.4) without being
//     sent.
//   - RFC 6531 (SMTPUTF8): given when an address is not ASCII; to a server
//     that lacks it, the message is refused permanently (5.6.7) without
//     being sent.
//   - RFC 3463: enhanced status codes read from replies, and chosen for
//     local conditions (4.4.1 no answer, 4.4.2 bad connection, 4.5.0
//     protocol error, 4.7.0 TLS failure, 5.6.0 media error).
//
// Postern never lets a bare CR or LF out (the SMTP smuggling family,
// CVE-2023-51764): such a body is refused before any command is sent.
//
// Routing follows RFC 5321 §5.1 (MX by preference, equal preferences
// shuffled, implicit MX) and RFC 7505 (null MX).
package delivery
