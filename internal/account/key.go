package account

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"io"
)

// Username is the SMTP AUTH username that announces an API key as password.
const Username = "apikey"

// KeyPrefix starts every Postern API key.
const KeyPrefix = "pst_"

// Sizes of a key's parts: random bytes, and their base32 encoding.
const (
	idBytes     = 10
	secretBytes = 20
	idLen       = 16 // base32 of idBytes
	secretLen   = 32 // base32 of secretBytes
	// keyLen is len("pst_") + id + "_" + secret.
	keyLen = len(KeyPrefix) + idLen + 1 + secretLen
)

// b32 is RFC 4648 base32 with the alphabet in lower case, without padding.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// hashDomain separates API key hashes from every other use of SHA-256.
// Changing it invalidates every stored key.
const hashDomain = "postern api key v1\x00"

// Reasons ParseKey gives. They wrap ErrInvalidKey and, like every error of
// this package, never contain any part of the key.
var (
	errKeyLength    = fmt.Errorf("%w: wrong length", ErrInvalidKey)
	errKeyPrefix    = fmt.Errorf("%w: wrong prefix", ErrInvalidKey)
	errKeySeparator = fmt.Errorf("%w: missing separator", ErrInvalidKey)
	errKeyAlphabet  = fmt.Errorf("%w: character outside the key alphabet", ErrInvalidKey)
)

// GenerateKey makes a new API key from 30 bytes of rand and returns it with
// its public id. rand is crypto/rand.Reader in production.
func GenerateKey(rand io.Reader) (key string, id string, err error) {
	var buf [idBytes + secretBytes]byte
	if _, err := io.ReadFull(rand, buf[:]); err != nil {
		return "", "", fmt.Errorf("account: generate key: read random: %w", err)
	}
	key = formatKey(buf[:idBytes], buf[idBytes:])
	return key, key[len(KeyPrefix) : len(KeyPrefix)+idLen], nil
}

// formatKey encodes an id and a secret as a key.
func formatKey(id, secret []byte) string {
	return KeyPrefix + b32.EncodeToString(id) + "_" + b32.EncodeToString(secret)
}

// ParseKey checks that s has exactly the key format — prefix, lengths,
// alphabet, separators — and returns its id. Errors wrap ErrInvalidKey and
// never contain the key text.
func ParseKey(s string) (id string, err error) {
	if len(s) != keyLen {
		return "", errKeyLength
	}
	if s[:len(KeyPrefix)] != KeyPrefix {
		return "", errKeyPrefix
	}
	sep := len(KeyPrefix) + idLen
	if s[sep] != '_' {
		return "", errKeySeparator
	}
	if !isB32(s[len(KeyPrefix):sep]) || !isB32(s[sep+1:]) {
		return "", errKeyAlphabet
	}
	return s[len(KeyPrefix):sep], nil
}

// validID reports whether id has the form of a key id.
func validID(id string) bool {
	return len(id) == idLen && isB32(id)
}

// isB32 reports whether every byte of s is in the lower-case base32 alphabet.
func isB32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// HashKey returns the hash under which a key is stored: SHA-256 over
// "postern api key v1\x00" + key. A fast hash suits 160-bit random secrets
// (see the package documentation).
func HashKey(key string) []byte {
	h := sha256.New()
	io.WriteString(h, hashDomain)
	io.WriteString(h, key)
	return h.Sum(nil)
}
