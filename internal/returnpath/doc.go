// Package returnpath makes and reads Postern's per-recipient envelope
// senders (VERP): mail from a verified domain leaves with
//
//	MAIL FROM:<b-MSGID-IDX-HOUR-MAC@LABEL.DOMAIN>
//
// where MSGID is the queue id, IDX the recipient's index in the message,
// HOUR the time of the delivery attempt that sent with the address (hours
// since 1970, UTC), LABEL the return-path subdomain's label
// (domains.return_path_label) and MAC an HMAC-SHA256 over the four and
// the domain, keyed with an installation secret and cut to 80 bits. A
// bounce to that address (RFC 5321 §4.5.5: DSNs go to the reverse path;
// RFC 3464) therefore names the message and the recipient without any
// parsing of its body, and nobody can forge one for a message they did
// not see: an address with a wrong MAC is refused.
//
// # Expiry
//
// A return path is accepted for a lifetime (domains.return_path_lifetime)
// after the attempt that made it, and refused as expired after that: an
// address seen once (in a delivered message's Return-Path, a log, a
// mailing-list archive) cannot be written to forever. Each delivery
// attempt makes fresh addresses, so a message retried over days keeps
// getting bounces for a lifetime after its last attempt. The date is in
// the MAC; one more than a day ahead of the clock is refused as forged.
// The hour, not the day, is carried so that the lifetime holds to the
// hour whatever the time of day of the attempt.
//
// Addresses of the first version (b-MSGID-IDX-MAC, MAC context v1, no
// date) are no longer accepted, since they would never expire: one whose
// MAC verifies is refused as expired. The installation secret is the same
// for both versions.
//
// The local part is lower-case letters, digits and hyphens only, at most
// 59 octets (RFC 5321 §4.5.3.1.1 allows 64), and is read
// case-insensitively, since some MTAs change its case. The package is
// pure: no I/O, and the clock is an argument of Parse.
package returnpath
