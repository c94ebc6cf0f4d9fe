// Package dsn builds and parses delivery status notifications: the bounce
// Postern sends to a message's envelope sender when it gives up on (or is
// still retrying) some of its recipients, and the bounces other MTAs send
// back to Postern. It is pure: no I/O; time and randomness come in through
// the Report.
//
// It implements:
//   - RFC 6522: the multipart/report container with
//     report-type=delivery-status, and its three parts: a human-readable
//     text/plain explanation, the machine-readable report, and the returned
//     header section as text/rfc822-headers (§3, §4).
//   - RFC 3464: the message/delivery-status body, per-message fields
//     (Reporting-MTA §2.2.2, Arrival-Date §2.2.5, extension fields §2.4)
//     followed by one group per recipient (Original-Recipient §2.3.1,
//     Final-Recipient §2.3.2, Action §2.3.3, Status §2.3.4, Remote-MTA
//     §2.3.5, Diagnostic-Code §2.3.6, Last-Attempt-Date §2.3.7,
//     Will-Retry-Until §2.3.9), in the order of the §2.1 grammar.
//   - RFC 3463: enhanced status codes class.subject.detail, class 2, 4 or 5,
//     subject and detail of one to three digits (§2).
//   - RFC 3834 §5: every DSN carries "Auto-Submitted: auto-replied", and
//     §3.1.5: In-Reply-To and References name the original message.
//   - RFC 6533 §3: a recipient address that is not printable US-ASCII is
//     written with the "utf-8" address type in its 7-bit utf-8-addr-xtext
//     form (\x{HEX} for each character outside QCHAR), so the report stays
//     7-bit; Parse decodes it.
//   - RFC 2045 §6.8 and RFC 2046 §5.1.1: an original header section that is
//     not safe as 7-bit text is sent base64-encoded, and the MIME boundary
//     is chosen so that no part contains it.
//   - RFC 5322 §2.1.1, §2.2.3, §3.3, §3.6: CRLF only, lines of at most 78
//     characters where they can fold and never over 998, dates in the
//     date-time format.
//
// Build never bounces to the null sender (RFC 5321 §4.5.5, RFC 3464 §2):
// a Report without a Sender is refused. The caller sends the result with
// an empty reverse path (MAIL FROM:<>) to Report.Sender.
//
// Parse is for untrusted input: it is tolerant of folding, letter case and
// LF-only line endings (bounces are often read back from mailbox files),
// caps what it reads (MaxRecipients, MaxPartSize, MaxParts), and its
// errors never quote message bytes.
package dsn
