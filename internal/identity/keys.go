package identity

import (
	"bytes"
	"crypto"
	"sync"

	"github.com/postern/postern/internal/domain"
)

// DefaultMaxCachedKeys bounds a Signer's parsed keys when MaxCachedKeys is
// zero: two per domain, so the signing state of 512 domains.
const DefaultMaxCachedKeys = 1024

// keyCache holds parsed DKIM private keys, so that a message does not pay
// for parsing its domain's PEM keys again (an RSA key's parse and checks
// cost about as much as a tenth of its signature). An entry is found by
// the domain's name and the kind of key, and used only when its PEM bytes
// equal those the store returned for this message: the store is still
// asked for the domain every time, so a rotation, a brought key, a domain
// deleted or no longer verified — on this node or on another sharing the
// store — counts from the next message on, and nothing else needs to
// invalidate the cache. Its size is bounded: when full, an entry (Go's map
// order: an arbitrary one) makes room for the new one. The zero value is
// ready to use; it is safe for concurrent use.
type keyCache struct {
	mu      sync.Mutex
	entries map[keyID]keyEntry
}

type keyID struct {
	domain string
	ed     bool // the Ed25519 key; else the RSA key
}

type keyEntry struct {
	pem    []byte // a copy of the key's PEM as stored
	signer crypto.Signer
}

// signer returns the parsed key for pem, the current key of kind id,
// parsing it when the cache has no entry with these bytes; max bounds the
// entries kept.
func (c *keyCache) signer(id keyID, pem []byte, max int) (crypto.Signer, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && bytes.Equal(e.pem, pem) {
		return e.signer, nil
	}
	// Parsed outside the lock: two messages of a domain whose key just
	// changed may both parse it, and the second stores the same key.
	s, err := domain.ParsePrivateKey(pem)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[keyID]keyEntry)
	}
	if _, ok := c.entries[id]; !ok {
		for k := range c.entries {
			if len(c.entries) < max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[id] = keyEntry{pem: bytes.Clone(pem), signer: s}
	return s, nil
}

// len returns how many keys are cached.
func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
