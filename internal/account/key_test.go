package account

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

const (
	goodID     = "abcdefghijklmnop"
	goodSecret = "qrstuvwxyz234567abcdefghijklmnop"
	goodKey    = KeyPrefix + goodID + "_" + goodSecret
)

func TestParseKey(t *testing.T) {
	replace := func(i int, c string) string { return goodKey[:i] + c + goodKey[i+1:] }
	tests := []struct {
		name string
		in   string
		want error // nil: accepted, returning goodID
	}{
		{"good", goodKey, nil},
		{"all a", KeyPrefix + strings.Repeat("a", 16) + "_" + strings.Repeat("a", 32), nil},
		{"all 7", KeyPrefix + strings.Repeat("7", 16) + "_" + strings.Repeat("7", 32), nil},
		{"empty", "", errKeyLength},
		{"prefix only", KeyPrefix, errKeyLength},
		{"wrong prefix", "pk__" + goodID + "_" + goodSecret, errKeyPrefix},
		{"sendgrid style prefix", "SG." + goodID + "_" + goodSecret + "x", errKeyPrefix},
		{"uppercase prefix", "PST_" + goodID + "_" + goodSecret, errKeyPrefix},
		{"uppercase id", KeyPrefix + strings.ToUpper(goodID) + "_" + goodSecret, errKeyAlphabet},
		{"uppercase secret char", replace(40, "Q"), errKeyAlphabet},
		{"uppercase whole", strings.ToUpper(goodKey), errKeyPrefix},
		{"id one short", KeyPrefix + goodID[1:] + "_" + goodSecret + "a", errKeySeparator},
		{"id one long", KeyPrefix + goodID + "a_" + goodSecret[1:], errKeySeparator},
		{"id short", KeyPrefix + goodID[1:] + "_" + goodSecret, errKeyLength},
		{"secret short", KeyPrefix + goodID + "_" + goodSecret[1:], errKeyLength},
		{"secret long", goodKey + "a", errKeyLength},
		{"extra suffix", goodKey + "_x", errKeyLength},
		{"digit 0 in id", replace(5, "0"), errKeyAlphabet},
		{"digit 1 in id", replace(19, "1"), errKeyAlphabet},
		{"digit 8 in secret", replace(21, "8"), errKeyAlphabet},
		{"digit 9 in secret", replace(52, "9"), errKeyAlphabet},
		{"padding", replace(52, "="), errKeyAlphabet},
		{"hyphen", replace(30, "-"), errKeyAlphabet},
		{"underscore in secret", replace(30, "_"), errKeyAlphabet},
		{"non-ascii", replace(30, "\xc3"), errKeyAlphabet},
		{"nul", replace(30, "\x00"), errKeyAlphabet},
		{"separator is hyphen", replace(20, "-"), errKeySeparator},
		{"separator is letter", replace(20, "a"), errKeySeparator},
		{"no separators", "pst" + goodID + goodSecret + "aa", errKeyPrefix},
		{"missing id separator", KeyPrefix + goodID + goodSecret + "a", errKeySeparator},
		{"leading space", " " + goodKey, errKeyLength},
		{"trailing newline", goodKey + "\n", errKeyLength},
		{"trailing CRLF", goodKey + "\r\n", errKeyLength},
		{"space inside, same length", replace(30, " "), errKeyAlphabet},
		{"surrounding space, same length", " " + goodKey[1:52] + " ", errKeyPrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseKey(tt.in)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("ParseKey: %v", err)
				}
				if want := tt.in[4:20]; id != want {
					t.Errorf("id = %q, want %q", id, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKey accepted %q, id %q", tt.in, id)
			}
			if id != "" {
				t.Errorf("id = %q on error, want empty", id)
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalidKey) {
				t.Errorf("err = %v, want %v (and ErrInvalidKey)", err, tt.want)
			}
			for _, part := range []string{tt.in, goodID, goodSecret} {
				if len(part) > 0 && strings.Contains(err.Error(), part) {
					t.Errorf("error %q contains key text %q", err, part)
				}
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	r := rand.NewChaCha8([32]byte{1})
	seen := map[string]bool{}
	for range 100 {
		key, id, err := GenerateKey(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != 53 || len(id) != 16 {
			t.Fatalf("len(key) = %d, len(id) = %d", len(key), len(id))
		}
		got, err := ParseKey(key)
		if err != nil {
			t.Fatalf("ParseKey(GenerateKey()): %v", err)
		}
		if got != id {
			t.Fatalf("ParseKey id = %q, GenerateKey id = %q", got, id)
		}
		if seen[key] || seen[id] {
			t.Fatalf("repeated key or id %q", id)
		}
		seen[key], seen[id] = true, true
	}
}

func TestGenerateKeyKnown(t *testing.T) {
	tests := []struct {
		rand    []byte
		key, id string
	}{
		{make([]byte, 30), "pst_aaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa"},
		{bytes.Repeat([]byte{0xff}, 30), "pst_7777777777777777_77777777777777777777777777777777", "7777777777777777"},
		// RFC 4648 §10's "foobar" vector, lower-cased: "fooba" is "mzxw6ytb".
		{[]byte("foobafoobafoobafoobafoobafooba"),
			"pst_mzxw6ytbmzxw6ytb_mzxw6ytbmzxw6ytbmzxw6ytbmzxw6ytb", "mzxw6ytbmzxw6ytb"},
	}
	for _, tt := range tests {
		key, id, err := GenerateKey(bytes.NewReader(tt.rand))
		if err != nil {
			t.Fatal(err)
		}
		if key != tt.key || id != tt.id {
			t.Errorf("GenerateKey = %q, %q; want %q, %q", key, id, tt.key, tt.id)
		}
	}
}

func TestGenerateKeyShortRandom(t *testing.T) {
	key, id, err := GenerateKey(bytes.NewReader(make([]byte, 29)))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if key != "" || id != "" {
		t.Errorf("GenerateKey returned %q, %q with an error", key, id)
	}
}

func TestHashKey(t *testing.T) {
	// Golden value: a change here invalidates every stored key.
	const zeroKey = "pst_aaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const want = "ac06f129d73812c7282595886a42449a9b7120b058e51b43813011facc8f0408"
	if got := hex.EncodeToString(HashKey(zeroKey)); got != want {
		t.Errorf("HashKey(%q) = %s, want %s", zeroKey, got, want)
	}
	plain := sha256.Sum256([]byte(zeroKey))
	if bytes.Equal(HashKey(zeroKey), plain[:]) {
		t.Error("HashKey is plain SHA-256, not domain-separated")
	}
	if !bytes.Equal(HashKey(goodKey), HashKey(goodKey)) {
		t.Error("HashKey is not deterministic")
	}

	r := rand.NewChaCha8([32]byte{2})
	seen := map[string]bool{}
	for range 1000 {
		key, _, err := GenerateKey(r)
		if err != nil {
			t.Fatal(err)
		}
		h := HashKey(key)
		if len(h) != sha256.Size {
			t.Fatalf("len(HashKey) = %d", len(h))
		}
		if seen[string(h)] {
			t.Fatalf("two keys share hash %x", h)
		}
		seen[string(h)] = true
	}
	// Keys differing in one character, in the id or in the secret.
	for _, i := range []int{4, 19, 21, 52} {
		other := goodKey[:i] + "z" + goodKey[i+1:]
		if bytes.Equal(HashKey(goodKey), HashKey(other)) {
			t.Errorf("keys differing at %d share a hash", i)
		}
	}
}
