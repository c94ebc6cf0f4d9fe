// Package unsub is Postern's one-click unsubscribe (RFC 8058, over RFC
// 2369's List-Unsubscribe): the signed token a message's unsubscribe URL
// carries, the headers the funnel stamps, and the redemption of a token
// that puts the recipient on the sending user's unsubscribe list.
//
// # The token
//
// A user who turned list_unsubscribe on gets, in every message with
// exactly one recipient,
//
//	List-Unsubscribe: <https://PUBLIC/unsubscribe/TOKEN>
//	List-Unsubscribe-Post: List-Unsubscribe=One-Click
//
// where PUBLIC is http.public_url and TOKEN is base64url, without
// padding, of
//
//	version (1 byte, 1) | user id (8 bytes, big-endian) |
//	len(message id) (1 byte) | message id | len(recipient) (1 byte) |
//	recipient | HMAC-SHA256 (32 bytes)
//
// The MAC covers a context string and every byte before it, and is keyed
// with an installation secret of its own (SecretName), which every node
// of a cluster shares. Decode refuses, before any MAC is computed, a
// token longer than MaxTokenLen, any character outside the base64url
// alphabet (padding included), trailing bits that are not zero, an
// unknown version, lengths that do not add up and fields out of bounds;
// then the MAC, compared in constant time. A token names the message and
// the recipient it was made for and nothing else, so it cannot be
// turned against another address; it does not expire, since a mailbox
// provider may POST it long after delivery (RFC 8058 §3.1 asks for a
// URL that keeps working).
//
// Only single-recipient messages get the headers: Postern queues one
// body per message, and a body with several recipients cannot carry a
// URL that names each of them. The send API already makes one message
// per personalization; a personalization with one "to" is one
// recipient.
//
// # Redemption
//
// Service.Check verifies a token and changes nothing (a GET: scanners
// fetch links in mail). Service.Unsubscribe (the POST) verifies it, and,
// unless the address is on the user's unsubscribe list already, records
// in one store transaction (DeliveryStore.RecordAttempt, the path the
// bounce and feedback-report processing take, which writes the webhook
// outbox in the same transaction) the suppression and an unsubscribe
// event for the message and recipient. A second POST finds the address
// on the list and records nothing: one suppression, one event. Two POSTs
// at the very same moment on two nodes may both record; the suppression
// still is one row (the store ignores a repeat), the event then is
// twice.
package unsub
