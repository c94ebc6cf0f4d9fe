// Package account holds Postern's users, subusers and API keys: creating
// them, and checking the credentials an SMTP client presents.
//
// # Authentication
//
// Postern follows SendGrid's convention: the SMTP AUTH username is the
// literal "apikey" (Username) and the password is an API key. There are no
// user passwords. Authenticate checks a presented key; Recheck reloads it at
// every MAIL FROM, so a key revoked in the middle of a session cannot start
// another transaction.
//
// # Key format
//
//	pst_<id>_<secret>        53 characters in all
//
//	pst_    a fixed prefix, so secret scanners and people recognise a key
//	id      16 characters: 10 random bytes (80 bits)
//	secret  32 characters: 20 random bytes (160 bits)
//
// Both parts are RFC 4648 §6 base32 in lower case, without padding (the
// alphabet a–z and 2–7). 10 and 20 bytes encode to whole base32 groups, so
// every well-formed string is the canonical encoding of exactly one pair of
// byte strings. The alphabet has no 0, 1, 8 or 9 to misread, no characters
// that need quoting in a shell, URL or config file, and with the
// underscores the whole key is one "word" for a double-click. ParseKey
// accepts exactly this form and nothing else (no upper case, no
// surrounding space).
//
// The id is public: it is stored in clear, shown by "postern apikey list",
// written in logs and used to find the key's record with one indexed
// lookup. The secret is shown once, at creation, and never stored.
//
// # Hashing
//
// The store keeps only HashKey(key): SHA-256 over the domain-separated
// string "postern api key v1\x00" + key. The prefix ties the hash to this
// purpose and version; hashing the whole key binds the secret to its id.
//
// A fast hash is the right choice here, as for GitHub's and Stripe's
// tokens. Slow password hashes (bcrypt, scrypt, Argon2) exist to make
// guessing a low-entropy human password from a stolen hash expensive. A key
// secret is 160 random bits: an attacker holding the database who computes
// 10^12 SHA-256 per second still needs about 2^120 seconds to expect a hit,
// so stretching adds nothing. It would only make every SMTP AUTH cost
// milliseconds of CPU, a gift to anyone flooding the submission port.
//
// Authenticate returns the same ErrInvalidKey for a malformed key, an
// unknown id and a wrong secret, compares hashes in constant time
// (crypto/subtle), and does the same work when the id is unknown by
// comparing against a fixed dummy hash. Errors never contain key text.
package account
