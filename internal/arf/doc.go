// Package arf parses email feedback reports in the Abuse Reporting Format:
// the reports a mailbox provider's feedback loop sends back when one of
// its users marks a message as spam. It is pure: Parse reads bytes and
// returns what they say; finding the message a report is about, and
// what to do about it, is internal/bounce's job.
//
// It implements:
//   - RFC 5965 §2: the report is a multipart/report (RFC 6522, read by
//     internal/mimereport) with report-type=feedback-report, whose second
//     part is a message/feedback-report and whose third is the reported
//     message (message/rfc822) or its header section
//     (text/rfc822-headers). Parse requires that order; the first part,
//     the human-readable explanation, may be of any type, and parts after
//     the third are not read.
//   - RFC 5965 §3.1: the required fields Feedback-Type, User-Agent and
//     Version, each exactly once; §3.2: the optional fields that appear at
//     most once (Original-Envelope-Id, Original-Mail-From, Arrival-Date,
//     Reporting-MTA, Source-IP, Incidents), and the historic
//     Received-Date read as Arrival-Date; §3.3: the optional fields that
//     may repeat (Authentication-Results, Original-Rcpt-To,
//     Reported-Domain, Reported-URI). Other fields (extensions, such as
//     RFC 6591's) are skipped.
//   - The feedback types registered by RFC 5965 (abuse, fraud, other,
//     virus), RFC 6430 (not-spam) and RFC 6591 (auth-failure). Any other
//     token is kept as written, in lower case.
//
// RFC 6650, the applicability statement for ARF in feedback loops, has
// generators send a report to the reported message's envelope sender (its
// return path) or to an address registered with the loop, use abuse for
// a user's complaint, and include the reported message or its header
// section, possibly redacted (RFC 6590): the recipient's address is often
// not in the report, which is why Report keeps the envelope sender
// candidates (the original's Return-Path fields and Original-Mail-From)
// from which a sender finds the message and recipient it concerns.
//
// Parse is for untrusted input. It is strict about structure (the parts,
// their order, the required fields, the syntax of the fields it reads)
// and tolerant of letter case, folding and LF-only line endings. What it
// reads is bounded (MaxReportSize, MaxFields, MaxFieldLen, MaxRepeated,
// MaxOriginalHeader, MaxReturnPaths), every string it returns is valid
// UTF-8 without control characters, and its errors never quote message
// bytes, so they are safe to show a client.
package arf
