// Package sendercode makes, hashes and redeems the one-time codes that
// prove a single sender address: "postern sender add" mails a code to the
// address, and whoever reads that mailbox redeems it, on the HTTP
// confirmation page or with "postern sender confirm".
//
// # Code format
//
// A code is 20 random bytes (160 bits) in RFC 4648 §6 base32, upper case,
// without padding: 32 characters of A–Z and 2–7. 20 bytes encode to whole
// base32 groups, so there is no padding to lose when the code is copied
// out of a mail or a URL, and the alphabet needs no escaping in either.
// A code is accepted in either case and with surrounding white space.
//
// # Hashing
//
// The store keeps only Hash(code): SHA-256 over the domain-separated
// string "postern sender code v1\x00" + the upper-cased, trimmed code. The
// code is 160 random bits, so a fast hash suffices (see package account for
// the same argument about API keys), and the database never holds a usable
// code. The hash is part of the stored data: changing it would orphan every
// pending code.
//
// # Redeeming
//
// Confirm hands the hash to the store, which verifies the pending sender
// whose code matches and has not expired. A string that cannot be a code
// (empty, longer than 64 characters, or with a character outside the
// base32 alphabet) is refused with ErrUnknownCode without a store lookup,
// as are unknown, expired and already used codes: the caller cannot tell
// these apart, and no error text carries the code.
package sendercode
