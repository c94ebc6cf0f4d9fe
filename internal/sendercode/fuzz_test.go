package sendercode_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/sendercode"
	"github.com/postern/postern/internal/store"
)

// FuzzConfirm checks the code validation in front of the store: Confirm
// never panics; it asks the store exactly when the trimmed input is 1 to 64
// base32 characters, and then with Hash of the input; what it refuses is
// ErrUnknownCode, whose text carries nothing of the input.
func FuzzConfirm(f *testing.F) {
	f.Add("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
	f.Add("abcdefghijklmnopqrstuvwxyz234567\r\n")
	f.Add("")
	f.Add(strings.Repeat("A", 65))
	f.Add("\u017fAAA")

	f.Fuzz(func(t *testing.T, code string) {
		fk := &fake{err: store.ErrNotFound}
		_, err := sendercode.Confirm(context.Background(), fk, code, time.Unix(0, 0))
		if !errors.Is(err, sendercode.ErrUnknownCode) || err.Error() != sendercode.ErrUnknownCode.Error() {
			t.Fatalf("err = %v, want exactly ErrUnknownCode", err)
		}
		trimmed := strings.TrimSpace(code)
		valid := trimmed != "" && len(trimmed) <= sendercode.MaxLen
		for _, c := range []byte(trimmed) {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz234567", rune(c)) {
				valid = false
			}
		}
		if want := map[bool]int{true: 1, false: 0}[valid]; fk.calls != want {
			t.Fatalf("%q: %d store calls, want %d", code, fk.calls, want)
		}
		if valid {
			if !bytes.Equal(fk.hash, sendercode.Hash(code)) {
				t.Fatalf("%q: store asked for the wrong hash", code)
			}
			if !bytes.Equal(sendercode.Hash(code), sendercode.Hash(strings.ToLower(trimmed))) {
				t.Fatalf("%q: hash depends on case or space", code)
			}
		}
	})
}
