package unsub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// SecretName is the installation secret that keys unsubscribe tokens
// (store.DomainStore.Secret); a secret of its own, not the return path's.
const SecretName = "list-unsubscribe-v1"

// Version is the first byte of every token this package makes.
const Version byte = 1

// Bounds of a token's fields.
const (
	MaxMessageID = 64  // a queue id is 26 characters
	MaxRecipient = 254 // RFC 5321's path limit, less the angle brackets
	// MinKeyLen is the shortest key a Codec takes.
	MinKeyLen = 16

	macLen   = sha256.Size
	fixedLen = 1 + 8 + 1 + 1 + macLen
	maxRaw   = fixedLen + MaxMessageID + MaxRecipient
	// MaxTokenLen is the longest token Decode reads, in characters.
	MaxTokenLen = (maxRaw*8 + 5) / 6
)

// macContext separates this MAC from any other the installation makes.
const macContext = "postern list-unsubscribe\x00"

// ErrInvalid is every refusal of Decode: altered, truncated, padded, too
// long, or not made with this key. It says no more, on purpose.
var ErrInvalid = errors.New("unsub: invalid token")

// Token is what an unsubscribe URL names: who sent (the user's id), to
// whom, and which message (the queue id).
type Token struct {
	UserID    int64
	MessageID string
	Recipient string
}

// Codec makes and reads tokens with Key, the installation secret.
type Codec struct {
	Key []byte
}

// Encode returns t as a token. A field out of bounds (empty, too long,
// a control character, a user id below 1) is an error.
func (c Codec) Encode(t Token) (string, error) {
	if len(c.Key) < MinKeyLen {
		return "", errors.New("unsub: key too short")
	}
	if err := t.check(); err != nil {
		return "", err
	}
	raw := make([]byte, 0, fixedLen+len(t.MessageID)+len(t.Recipient))
	raw = append(raw, Version)
	raw = binary.BigEndian.AppendUint64(raw, uint64(t.UserID))
	raw = append(raw, byte(len(t.MessageID)))
	raw = append(raw, t.MessageID...)
	raw = append(raw, byte(len(t.Recipient)))
	raw = append(raw, t.Recipient...)
	raw = append(raw, c.mac(raw)...)
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// Decode verifies s and returns its token, or ErrInvalid.
func (c Codec) Decode(s string) (Token, error) {
	if len(c.Key) < MinKeyLen || len(s) > MaxTokenLen || len(s) < (fixedLen*8+5)/6 {
		return Token{}, ErrInvalid
	}
	for i := 0; i < len(s); i++ {
		if !urlSafe(s[i]) {
			return Token{}, ErrInvalid // padding, line breaks, '+' and '/' included
		}
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) < fixedLen || raw[0] != Version {
		return Token{}, ErrInvalid
	}
	body, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	// The MAC first, in constant time: nothing of an unverified token is
	// read beyond its length.
	if !hmac.Equal(sum, c.mac(body)) {
		return Token{}, ErrInvalid
	}
	t := Token{UserID: int64(binary.BigEndian.Uint64(body[1:9]))}
	rest := body[9:]
	n := int(rest[0])
	if len(rest) < 1+n+1 {
		return Token{}, ErrInvalid
	}
	t.MessageID, rest = string(rest[1:1+n]), rest[1+n:]
	n = int(rest[0])
	if len(rest) != 1+n {
		return Token{}, ErrInvalid
	}
	t.Recipient = string(rest[1:])
	if t.check() != nil {
		return Token{}, ErrInvalid
	}
	return t, nil
}

func (c Codec) mac(body []byte) []byte {
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte(macContext))
	m.Write(body)
	return m.Sum(nil)
}

func (t Token) check() error {
	switch {
	case t.UserID < 1:
		return fmt.Errorf("unsub: user id %d", t.UserID)
	case t.MessageID == "" || len(t.MessageID) > MaxMessageID || !printable(t.MessageID):
		return fmt.Errorf("unsub: message id of %d bytes, or with a control character", len(t.MessageID))
	case t.Recipient == "" || len(t.Recipient) > MaxRecipient || !printable(t.Recipient):
		return fmt.Errorf("unsub: recipient of %d bytes, or with a control character", len(t.Recipient))
	}
	return nil
}

// printable reports whether s has no ASCII control character, space
// included (an address in a token is a bare addr-spec).
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func urlSafe(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}
