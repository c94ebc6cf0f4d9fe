// Package mimereport reads the container that delivery status
// notifications and feedback reports share: the multipart/report media
// type of RFC 6522 (§3: a top-level multipart/report whose report-type
// parameter names the kind of report, and whose parts are a
// human-readable explanation, a machine-readable report, and the
// original message or its header section). Package dsn reads the
// delivery-status kind (RFC 3464) from it, package arf the
// feedback-report kind (RFC 5965).
//
// It implements only the container: the top-level header section and
// media type (RFC 2045 §5, RFC 2046 §5.1.1 boundaries), a part's media
// type (text/plain when it has none, RFC 2045 §5.2), a part's body
// decoded from base64 or quoted-printable (RFC 2045 §6.7, §6.8) and
// bounded by a limit the caller gives, and the header section of a
// returned message (RFC 5322 §2.1: the lines before the first empty
// one). Line endings may be CRLF or LF alone: reports are often read back
// from mailbox files.
//
// It is pure (no I/O beyond reading the bytes it is given), and its
// errors never quote message bytes.
package mimereport
