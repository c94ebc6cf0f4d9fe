package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/postern/postern/internal/domain"
)

// The cache never holds more than its bound; a key evicted, or replaced
// by new bytes, is parsed again, and a key whose bytes are cached is not.
func TestKeyCacheBounded(t *testing.T) {
	pems := make([][]byte, 10)
	for i := range pems {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		p, err := domain.MarshalPrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		pems[i] = p
	}
	var c keyCache
	const max = 4
	for i, p := range pems {
		s, err := c.signer(keyID{domain: fmt.Sprintf("d%d.test", i), ed: true}, p, max)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.(ed25519.PrivateKey); !bytes.Equal(mustParse(t, p).(ed25519.PrivateKey), got) {
			t.Fatalf("d%d: wrong key", i)
		}
		if n := c.len(); n > max {
			t.Fatalf("after %d domains: %d keys cached, bound %d", i+1, n, max)
		}
	}
	if n := c.len(); n != max {
		t.Fatalf("%d keys cached, want %d", n, max)
	}

	// The same bytes: the very same parsed key. New bytes for the name:
	// the new key, in the old one's place.
	id := keyID{domain: "same.test", ed: true}
	a, _ := c.signer(id, pems[0], max)
	b, _ := c.signer(id, bytes.Clone(pems[0]), max)
	if &a.(ed25519.PrivateKey)[0] != &b.(ed25519.PrivateKey)[0] {
		t.Error("a key with cached bytes was parsed again")
	}
	n := c.len()
	k, _ := c.signer(id, pems[1], max)
	if !bytes.Equal(k.(ed25519.PrivateKey), mustParse(t, pems[1]).(ed25519.PrivateKey)) {
		t.Error("changed bytes: the old key was used")
	}
	if c.len() != n {
		t.Errorf("a replaced key changed the count: %d, then %d", n, c.len())
	}

	// A key that does not parse is refused, and not cached.
	if _, err := c.signer(keyID{domain: "bad.test"}, []byte("not a key"), max); err == nil {
		t.Error("bad PEM accepted")
	}
}

func mustParse(t *testing.T, pem []byte) any {
	t.Helper()
	k, err := domain.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
