// Package smtpd is Postern's SMTP server: go-smtp backends for the
// submission (STARTTLS, RFC 6409), submissions (implicit TLS, RFC 8314) and
// MX listeners.
//
// Rules enforced here, each with its reply:
//   - AUTH (PLAIN, RFC 4616; LOGIN) only after TLS; before TLS "530 5.7.0"
//     (RFC 3207 §4, RFC 4954 §4). Username "apikey", password an API key;
//     anything else "535 5.7.8".
//   - MAIL without AUTH on a submission port: "530 5.7.0 Authentication
//     required" (RFC 4954 §6). The MX port relays nothing without a key.
//   - DATA: SIZE (RFC 1870), CRLF only (bare CR/LF refused: SMTP
//     smuggling), lines of at most 1000 octets (RFC 5321 §4.5.3.1.6),
//     recipient limit, a deadline on every read and write.
//   - Accepted messages get Received (RFC 5321 §4.4, RFC 3848),
//     X-Originating-IP, and Message-ID/Date when missing, and are committed
//     to the queue before "250 2.0.0 Ok: queued as ID".
//
// Replies come only from smtperr values; an error without an SMTP meaning
// becomes "451 4.3.0" naming the session, and its text goes to the log.
package smtpd
