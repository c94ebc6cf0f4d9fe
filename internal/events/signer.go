package events

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// The headers of a signed webhook POST, as SendGrid names them.
const (
	// SignatureHeader carries the base64 of the ASN.1 DER ECDSA signature.
	SignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	// TimestampHeader carries the signing time, Unix seconds in decimal.
	TimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// Signer signs webhook bodies as SendGrid's Signed Event Webhook does.
// The zero Signer has no key and refuses to sign.
type Signer struct{ key *ecdsa.PrivateKey }

// NewSigner returns a Signer for key, which must be a P-256 key.
func NewSigner(key *ecdsa.PrivateKey) (Signer, error) {
	if err := checkKey(key); err != nil {
		return Signer{}, err
	}
	return Signer{key: key}, nil
}

// NewKey generates a P-256 signing key. rand is passed to crypto/ecdsa,
// which since Go 1.26 ignores it and always uses a secure source (tests
// that need determinism use testing/cryptotest.SetGlobalRandom); it stays
// in the signature so that the source is named where the key is made.
func NewKey(rand io.Reader) (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, fmt.Errorf("events: generate key: %w", err)
	}
	return k, nil
}

// MarshalKey encodes a P-256 private key as PKCS#8 DER, for the store.
func MarshalKey(key *ecdsa.PrivateKey) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("events: marshal key: %w", err)
	}
	return der, nil
}

// ParseKey decodes what MarshalKey encoded: PKCS#8 DER holding an ECDSA
// P-256 private key, and nothing else (no PEM, no other key type or
// curve).
func ParseKey(der []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("events: parse key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("events: parse key: %T is not an ECDSA key", k)
	}
	if err := checkKey(ek); err != nil {
		return nil, err
	}
	return ek, nil
}

func checkKey(key *ecdsa.PrivateKey) error {
	if key == nil {
		return errors.New("events: no signing key")
	}
	if key.Curve != elliptic.P256() {
		return fmt.Errorf("events: signing key on %s, want P-256", key.Curve.Params().Name)
	}
	return nil
}

// PublicKeyBase64 is the verification key a receiver configures: the
// base64 of the public key's PKIX (SubjectPublicKeyInfo) DER encoding,
// what SendGrid returns as public_key. "" for the zero Signer.
func (s Signer) PublicKeyBase64() string {
	if s.key == nil {
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		// A P-256 key, checked by NewSigner, always marshals.
		return ""
	}
	return base64.StdEncoding.EncodeToString(der)
}

// Sign signs body as sent at ts: ECDSA P-256 over SHA-256 of the
// timestamp header's value followed by body. It returns the values of
// SignatureHeader and TimestampHeader. body must be sent byte for byte
// as signed. rand is handed to crypto/ecdsa, which, as for NewKey,
// uses its own secure source since Go 1.26.
func (s Signer) Sign(body []byte, ts time.Time, rand io.Reader) (sigHeader, tsHeader string, err error) {
	if s.key == nil {
		return "", "", errors.New("events: sign: no signing key")
	}
	tsHeader = strconv.FormatInt(ts.Unix(), 10)
	h := sha256.New()
	h.Write([]byte(tsHeader))
	h.Write(body)
	sig, err := ecdsa.SignASN1(rand, s.key, h.Sum(nil))
	if err != nil {
		return "", "", fmt.Errorf("events: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), tsHeader, nil
}
