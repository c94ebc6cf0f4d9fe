package domain

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// KeyKind is the algorithm of a DKIM key, as named by the k= tag.
type KeyKind string

// The key kinds Postern signs with.
const (
	KeyRSA     KeyKind = "rsa"     // RSA-SHA256, RFC 6376
	KeyEd25519 KeyKind = "ed25519" // Ed25519-SHA256, RFC 8463
)

// Bounds on RSA key sizes (RFC 8301 §3.2: verifiers must accept 1024 to
// 4096 bits; signers should use at least 2048).
const (
	rsaGenerateBits = 2048
	rsaMinBits      = 1024
	rsaMaxBits      = 4096
)

// KindOf returns the kind of a public or private key, or an error for a
// key that is neither RSA nor Ed25519.
func KindOf(key any) (KeyKind, error) {
	switch key.(type) {
	case *rsa.PublicKey, *rsa.PrivateKey:
		return KeyRSA, nil
	case ed25519.PublicKey, ed25519.PrivateKey:
		return KeyEd25519, nil
	}
	return "", fmt.Errorf("domain: unsupported key type %T", key)
}

// GenerateKeys makes a new RSA-2048 key and a new Ed25519 key from rand.
func GenerateKeys(rand io.Reader) (rsaKey *rsa.PrivateKey, edKey ed25519.PrivateKey, err error) {
	rsaKey, err = rsa.GenerateKey(rand, rsaGenerateBits)
	if err != nil {
		return nil, nil, fmt.Errorf("domain: generate RSA key: %w", err)
	}
	_, edKey, err = ed25519.GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("domain: generate Ed25519 key: %w", err)
	}
	return rsaKey, edKey, nil
}

// ParsePrivateKey reads a DKIM private key in PEM: PKCS#1 RSA ("RSA PRIVATE
// KEY"), or PKCS#8 RSA or Ed25519 ("PRIVATE KEY"). Other blocks (a
// certificate next to the key) are skipped; exactly one key block must be
// there. Encrypted keys, other algorithms and RSA keys outside 1024..4096
// bits are refused. Its errors never hold key material nor the parser's
// own message about it.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	var key *pem.Block
	rest := pemBytes
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue
		}
		if key != nil {
			return nil, errors.New("domain: private key: more than one key in the PEM data")
		}
		key = b
	}
	if key == nil {
		return nil, errors.New("domain: private key: no PEM private key block found")
	}
	if _, ok := key.Headers["Proc-Type"]; ok {
		return nil, errors.New("domain: private key: encrypted PEM keys are not supported; decrypt it first")
	}
	var (
		parsed any
		err    error
	)
	switch key.Type {
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(key.Bytes)
		if err != nil {
			return nil, errors.New("domain: private key: not a valid PKCS#1 RSA private key")
		}
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(key.Bytes)
		if err != nil {
			return nil, errors.New("domain: private key: not a valid PKCS#8 private key (or not RSA or Ed25519)")
		}
	case "EC PRIVATE KEY":
		return nil, errors.New("domain: private key: EC keys cannot sign DKIM; use RSA or Ed25519")
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("domain: private key: encrypted PKCS#8 keys are not supported; decrypt it first")
	default:
		return nil, fmt.Errorf("domain: private key: unsupported PEM block type %q", truncate(key.Type, 40))
	}
	switch k := parsed.(type) {
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < rsaMinBits || n > rsaMaxBits {
			return nil, fmt.Errorf("domain: private key: RSA key of %d bits; DKIM needs %d to %d (RFC 8301)", n, rsaMinBits, rsaMaxBits)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("domain: private key: %s keys cannot sign DKIM; use RSA or Ed25519", keyTypeName(parsed))
}

func keyTypeName(k any) string {
	s := fmt.Sprintf("%T", k)
	s = strings.TrimPrefix(s, "*")
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	return strings.ToUpper(s)
}

// MarshalPrivateKey writes an RSA or Ed25519 private key as PKCS#8 PEM.
func MarshalPrivateKey(k crypto.Signer) ([]byte, error) {
	switch k.(type) {
	case *rsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("domain: marshal private key: unsupported key type %T", k)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("domain: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// SelectorNames returns the selectors for keys made at now (in UTC), one
// for RSA and one for Ed25519, e.g. "pst202611r" and "pst202611e". They
// change each month, so a rotation gets new names; a second rotation in
// the same month must pick its own.
func SelectorNames(now time.Time) (rsaSel, edSel string) {
	u := now.UTC()
	base := fmt.Sprintf("pst%04d%02d", u.Year(), int(u.Month()))
	return base + "r", base + "e"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
