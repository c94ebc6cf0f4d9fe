package account

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParseKey checks that ParseKey never panics, that what it accepts is
// the canonical encoding of an id and a secret with the id it returns, and
// that what it rejects is refused with a fixed message that cannot carry
// any of the input.
func FuzzParseKey(f *testing.F) {
	f.Add(goodKey)
	f.Add("")
	f.Add(KeyPrefix)
	f.Add(strings.ToUpper(goodKey))
	f.Add(goodKey + "\r\n")
	fixed := []string{errKeyLength.Error(), errKeyPrefix.Error(), errKeySeparator.Error(), errKeyAlphabet.Error()}

	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseKey(s)
		if err != nil {
			if id != "" {
				t.Fatalf("id %q returned with error", id)
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			msg := err.Error()
			if !slices.Contains(fixed, msg) {
				t.Fatalf("error %q is not one of the fixed messages", msg)
			}
			if s != "" && strings.Contains(msg, s) && !strings.Contains(strings.Join(fixed, "\n"), s) {
				t.Fatalf("error %q contains the input", msg)
			}
			return
		}

		if len(s) != 53 || !strings.HasPrefix(s, KeyPrefix) {
			t.Fatalf("accepted %q: wrong length or prefix", s)
		}
		if id != s[4:20] {
			t.Fatalf("id = %q, want the key's id part %q", id, s[4:20])
		}
		if s[20] != '_' {
			t.Fatalf("accepted %q without separator", s)
		}
		idb, err := b32.DecodeString(id)
		if err != nil {
			t.Fatalf("accepted id %q does not decode: %v", id, err)
		}
		secret, err := b32.DecodeString(s[21:])
		if err != nil {
			t.Fatalf("accepted secret does not decode: %v", err)
		}
		if len(idb) != idBytes || len(secret) != secretBytes {
			t.Fatalf("decoded lengths %d, %d", len(idb), len(secret))
		}
		if re := formatKey(idb, secret); re != s {
			t.Fatalf("re-formatted key %q differs from %q", re, s)
		}
		if !validID(id) {
			t.Fatalf("validID(%q) = false for an accepted key", id)
		}
	})
}
