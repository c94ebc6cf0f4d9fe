// Package smtpd is Postern's SMTP server: its own protocol engine for the
// submission (STARTTLS, RFC 6409), submissions (implicit TLS, RFC 8314) and
// MX listeners. It owns the protocol, not the decisions: every submission
// goes through the funnel (internal/submit), mail to return paths to
// Bounces (internal/bounce).
//
// It is its own engine, not go-smtp's server, because the hardening it
// needs sits inside the engine: a DATA reader that refuses rather than
// repairs (go-smtp's drops the CR of "\r\n.\rX"), commands that make no
// progress counted (go-smtp answers NOOP itself), a session lifetime, a
// STARTTLS failure that ends the session, and one write per group of
// pipelined replies. go-smtp remains the client in the tests.
//
// Rules enforced here, each with its reply:
//   - Commands (RFC 5321 §4.1): EHLO/HELO, STARTTLS (RFC 3207), AUTH PLAIN
//     (RFC 4616) and LOGIN only after TLS (before TLS "530 5.7.0", RFC 4954
//     §4), MAIL, RCPT, DATA, RSET, NOOP, VRFY (252), HELP, QUIT;
//     PIPELINING (RFC 2920), 8BITMIME (RFC 6152), SIZE (RFC 1870),
//     ENHANCEDSTATUSCODES (RFC 2034). CHUNKING is not offered (BDAT 502).
//   - Username "apikey", password an API key; anything else "535 5.7.8".
//   - MAIL without AUTH on a submission port: "530 5.7.0 Authentication
//     required" (RFC 4954 §6). The MX port relays nothing without a key;
//     mail to return paths is held to a small size of its own (552).
//   - STARTTLS: commands pipelined behind it are refused and the session
//     closed (CVE-2011-0411); a failed handshake closes the connection.
//   - DATA (§4.1.1.4, §4.5.2): ends only at CRLF "." CRLF; a bare CR, bare
//     LF or NUL anywhere refuses the whole message with 554 (SMTP
//     smuggling, CVE-2023-51764); lines of at most 1000 octets
//     (§4.5.3.1.6); the bytes all sessions hold while reading are bounded
//     (452 4.3.1 past the budget).
//   - Limits: line length (500 and close), refused commands (421 after
//     MaxErrors), commands that move no mail (421 after MaxIdleCommands),
//     an unauthenticated session's lifetime (421 4.4.2), a deadline on
//     every read and write, connections per client prefix and per kind of
//     listener (421 4.7.0 at accept).
//   - Accepted messages get Received (RFC 5321 §4.4, RFC 3848),
//     X-Originating-IP, and Message-ID/Date when missing, and are committed
//     to the queue before "250 2.0.0 Ok: queued as ID".
//
// Replies come only from smtperr values and never echo what the client
// sent; an error without an SMTP meaning becomes "451 4.3.0" naming the
// session, and its text goes to the log.
package smtpd
