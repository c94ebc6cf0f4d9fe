// Package bounce closes the loop of the return path. Outbound, it gives
// the delivery worker the VERP envelope sender of each recipient of a
// message from a verified domain whose return-path MX is published
// (internal/returnpath), dated with the delivery attempt. Inbound, the MX
// listener asks it whether an RCPT address is such a return path (MAC
// verified, not expired, message and recipient known), and hands it what
// arrives there: a DSN (RFC 3464, RFC 6533) that reports a failure marks
// the recipient bounced, is recorded as an event, and puts an
// address-level failure (RFC 3463 X.1.x, X.2.1) on the sending user's
// suppression list, all in one transaction. A feedback report (ARF, RFC
// 5965, read by internal/arf) that complains about the message — a
// recipient pressed "this is spam" — is recorded as a spamreport event
// and puts the recipient on the sending user's spam-report list, in the
// same way; the recipient's state is left as it was (delivered). Anything
// else sent to a return path (an auto-reply, a delay or success report, a
// not-spam report) is recorded as an event and not kept.
//
// Feedback loops that send to a fixed address rather than to the return
// path (Microsoft JMRP, Yahoo CFL) are given the configured feedback
// address (smtp.feedback_address). A report there names its message by
// what it encloses: the first return path among the reported message's
// Return-Path fields and the report's Original-Mail-From that verifies
// and names a known recipient. A report that names none, and anything
// that is not a feedback report, is discarded with a log line: the
// feedback address records nothing else.
//
// What one received message can make it store is bounded, whoever sent
// it: a recipient named twice counts once, at most MaxTargets recipients
// count, and the text stored from the message is cut to MaxText and rid
// of control characters.
//
// Nothing else is accepted at a return path or the feedback address:
// the MX listener relays nothing.
package bounce
