package sendercode

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

// TTL is how long a confirmation code is valid.
const TTL = 24 * time.Hour

// MaxLen is the longest string, after trimming white space, that Confirm
// considers at all. A code is 32 characters.
const MaxLen = 64

// codeBytes is the size of a code's random part: 160 bits.
const codeBytes = 20

// ErrUnknownCode is the one error for a code that does not confirm
// anything: malformed, unknown, expired or already used.
var ErrUnknownCode = errors.New("sendercode: unknown or expired code")

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Confirmer verifies the pending sender whose code hash matches and has
// not expired at now, and returns store.ErrNotFound when there is none.
// store.SenderStore is one.
type Confirmer interface {
	ConfirmSender(ctx context.Context, codeHash []byte, now time.Time) (store.Sender, error)
}

// New returns a fresh code: 160 bits read from rand, base32-encoded.
func New(rand io.Reader) (string, error) {
	var raw [codeBytes]byte
	if _, err := io.ReadFull(rand, raw[:]); err != nil {
		return "", fmt.Errorf("sendercode: new code: %w", err)
	}
	return encoding.EncodeToString(raw[:]), nil
}

// Hash is how a code is stored: SHA-256 of "postern sender code v1\x00"
// and the trimmed, upper-cased code.
func Hash(code string) []byte {
	h := sha256.Sum256([]byte("postern sender code v1\x00" + strings.ToUpper(strings.TrimSpace(code))))
	return h[:]
}

// wellFormed reports whether code, trimmed, can be a code: 1 to MaxLen
// characters of the base32 alphabet, in either case. It looks at bytes,
// so no non-ASCII letter that upper-cases into the alphabet gets through.
func wellFormed(code string) bool {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > MaxLen {
		return false
	}
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '2' <= c && c <= '7':
		default:
			return false
		}
	}
	return true
}

// Confirm redeems code at now and returns the sender it verified. The error
// is ErrUnknownCode when the code confirms nothing; any other error is the
// store's, wrapped, and never contains the code.
func Confirm(ctx context.Context, st Confirmer, code string, now time.Time) (store.Sender, error) {
	if !wellFormed(code) {
		return store.Sender{}, ErrUnknownCode
	}
	s, err := st.ConfirmSender(ctx, Hash(code), now)
	if errors.Is(err, store.ErrNotFound) {
		return store.Sender{}, ErrUnknownCode
	}
	if err != nil {
		return store.Sender{}, fmt.Errorf("sendercode: confirm: %w", err)
	}
	return s, nil
}
