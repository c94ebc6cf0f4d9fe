// Package returnpath makes and reads Postern's per-recipient envelope
// senders (VERP): mail from a verified domain leaves with
//
//	MAIL FROM:<b-MSGID-IDX-MAC@LABEL.DOMAIN>
//
// where MSGID is the queue id, IDX the recipient's index in the message,
// LABEL the return-path subdomain's label (domains.return_path_label) and
// MAC an HMAC-SHA256 over the three, keyed with an installation secret and
// cut to 80 bits. A bounce to that address (RFC 5321 §4.5.5: DSNs go to
// the reverse path; RFC 3464) therefore names the message and the
// recipient without any parsing of its body, and nobody can forge one for
// a message they did not see: an address with a wrong MAC is refused.
//
// The local part is lower-case letters, digits and hyphens only, at most
// 64 octets (RFC 5321 §4.5.3.1.1), and is read case-insensitively, since
// some MTAs change its case. The package is pure: no I/O.
package returnpath
