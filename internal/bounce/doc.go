// Package bounce closes the loop of the return path. Outbound, it gives
// the delivery worker the VERP envelope sender of each recipient of a
// message from a verified domain whose return-path MX is published
// (internal/returnpath), dated with the delivery attempt. Inbound, the MX
// listener asks it whether an RCPT address is such a return path (MAC
// verified, not expired, message and recipient known), and hands it what
// arrives there: a DSN (RFC 3464, RFC 6533) that reports a failure marks
// the recipient bounced, is recorded as an event, and puts an
// address-level failure (RFC 3463 X.1.x, X.2.1) on the sending user's
// suppression list, all in one transaction. Anything else sent to a
// return path (an auto-reply, a delay or success report) is recorded as
// an event and not kept.
//
// What one received message can make it store is bounded, whoever sent
// it: a recipient named twice counts once, at most MaxTargets recipients
// count, and the text stored from the message is cut to MaxText and rid
// of control characters.
//
// Nothing else is accepted at a return path: the MX listener relays
// nothing.
package bounce
