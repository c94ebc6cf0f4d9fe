package sendercode_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/sendercode"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

// TestHashGolden pins the stored form: codes mailed by earlier versions
// must still match their stored hashes.
func TestHashGolden(t *testing.T) {
	// printf 'postern sender code v1\0ABCDEFGHIJKLMNOPQRSTUVWXYZ234567' | sha256sum
	const want = "da9c575eaadb5a3795071d1322942f7ee3fb5c35f234898523a58335b8cd5b42"
	for _, code := range []string{
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
		"abcdefghijklmnopqrstuvwxyz234567",
		"  AbCdEfGhIjKlMnOpQrStUvWxYz234567\r\n",
	} {
		if got := hex.EncodeToString(sendercode.Hash(code)); got != want {
			t.Errorf("Hash(%q) = %s, want %s", code, got, want)
		}
	}
	if bytes.Equal(sendercode.Hash("A"), sendercode.Hash("B")) {
		t.Error("different codes, same hash")
	}
}

func TestNew(t *testing.T) {
	code, err := sendercode.New(bytes.NewReader(make([]byte, 20)))
	if err != nil || code != strings.Repeat("A", 32) {
		t.Fatalf("New(zeros) = %q, %v", code, err)
	}
	seen := map[string]bool{}
	for range 100 {
		code, err := sendercode.New(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(code) {
			t.Fatalf("code %q is not 32 base32 characters", code)
		}
		seen[code] = true
	}
	if len(seen) != 100 {
		t.Fatalf("%d distinct codes of 100", len(seen))
	}
	if _, err := sendercode.New(bytes.NewReader(make([]byte, 19))); err == nil {
		t.Fatal("New accepted a short read")
	}
}

// fake records what Confirm asks of the store.
type fake struct {
	calls int
	hash  []byte
	now   time.Time
	s     store.Sender
	err   error
}

func (f *fake) ConfirmSender(_ context.Context, h []byte, now time.Time) (store.Sender, error) {
	f.calls++
	f.hash, f.now = h, now
	return f.s, f.err
}

func TestConfirm(t *testing.T) {
	const good = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	sender := store.Sender{Address: "me@example.test", UserName: "acme", Verified: true}
	diskErr := errors.New("sqlite: disk I/O error")
	for _, tc := range []struct {
		name      string
		code      string
		storeErr  error
		wantCalls int
		wantErr   error // nil: success
	}{
		{"ok", good, nil, 1, nil},
		{"lower case and space", " " + strings.ToLower(good) + "\n", nil, 1, nil},
		{"short but well formed", "AAAA", nil, 1, nil},
		{"64 characters", strings.Repeat("A", 64), nil, 1, nil},
		{"not found", good, store.ErrNotFound, 1, sendercode.ErrUnknownCode},
		{"not found wrapped", good, errors.Join(errors.New("sqlite: x"), store.ErrNotFound), 1, sendercode.ErrUnknownCode},
		{"store error", good, diskErr, 1, diskErr},
		{"empty", "", nil, 0, sendercode.ErrUnknownCode},
		{"only space", " \t\r\n", nil, 0, sendercode.ErrUnknownCode},
		{"65 characters", strings.Repeat("A", 65), nil, 0, sendercode.ErrUnknownCode},
		{"digit 1", "ABCDEFGHIJKLMNOPQRSTUVWXYZ234561", nil, 0, sendercode.ErrUnknownCode},
		{"padding", good + "=", nil, 0, sendercode.ErrUnknownCode},
		{"inner space", "ABCD EFGH", nil, 0, sendercode.ErrUnknownCode},
		{"long s upper-cases to S", "\u017f" + good[1:], nil, 0, sendercode.ErrUnknownCode},
		{"NUL", good[:31] + "\x00", nil, 0, sendercode.ErrUnknownCode},
		{"sql", "' OR 1=1 --", nil, 0, sendercode.ErrUnknownCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{s: sender, err: tc.storeErr}
			got, err := sendercode.Confirm(context.Background(), f, tc.code, now)
			if f.calls != tc.wantCalls {
				t.Fatalf("%d store calls, want %d", f.calls, tc.wantCalls)
			}
			if tc.wantErr == nil {
				if err != nil || got.Address != sender.Address || !got.Verified {
					t.Fatalf("Confirm = %+v, %v", got, err)
				}
				if !bytes.Equal(f.hash, sendercode.Hash(tc.code)) || !f.now.Equal(now) {
					t.Fatalf("store asked for %x at %v", f.hash, f.now)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != sendercode.ErrUnknownCode && errors.Is(err, sendercode.ErrUnknownCode) {
				t.Fatalf("store error %v reported as an unknown code", err)
			}
			if got.Address != "" {
				t.Fatalf("sender %+v returned with an error", got)
			}
			if strings.TrimSpace(tc.code) != "" && strings.Contains(err.Error(), strings.TrimSpace(tc.code)) {
				t.Fatalf("error %q contains the code", err)
			}
		})
	}
}

// TestConfirmSQLite redeems a code against the real store: once, in any
// case, and never after it expired.
func TestConfirmSQLite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	add := func(addr string, expires time.Time) string {
		code, err := sendercode.New(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddSender(ctx, store.Sender{Address: addr, UserID: u.ID, CreatedAt: now,
			CodeHash: sendercode.Hash(code), ExpiresAt: expires}); err != nil {
			t.Fatal(err)
		}
		return code
	}
	code := add("me@example.test", now.Add(sendercode.TTL))
	old := add("old@example.test", now.Add(-time.Second))

	s, err := sendercode.Confirm(ctx, st, strings.ToLower(code), now)
	if err != nil || s.Address != "me@example.test" || !s.Verified || s.UserName != "acme" {
		t.Fatalf("Confirm = %+v, %v", s, err)
	}
	if _, err := sendercode.Confirm(ctx, st, code, now); !errors.Is(err, sendercode.ErrUnknownCode) {
		t.Fatalf("second Confirm: %v", err)
	}
	if _, err := sendercode.Confirm(ctx, st, old, now); !errors.Is(err, sendercode.ErrUnknownCode) {
		t.Fatalf("expired Confirm: %v", err)
	}
}
