package events

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strconv"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

func newSigner(t *testing.T) Signer {
	t.Helper()
	k, err := NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var sampleBody = []byte(`[{"email":"rcpt@example.org","timestamp":1764763200,"event":"delivered","sg_event_id":"x","sg_message_id":"m1"}]`)

// TestSignVerifiesWithSendGridGo checks Postern's signatures with
// SendGrid's own Go verifier, unmodified, and that a changed body,
// timestamp or key fails it.
func TestSignVerifiesWithSendGridGo(t *testing.T) {
	s := newSigner(t)
	at := time.Unix(1764763200, 0)
	sig, ts, err := s.Sign(sampleBody, at, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if ts != "1764763200" {
		t.Fatalf("timestamp header %q, want 1764763200", ts)
	}
	pk, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(s.PublicKeyBase64())
	if err != nil {
		t.Fatalf("sendgrid-go cannot read the public key: %v", err)
	}
	if ok, err := eventwebhook.VerifySignature(pk, sampleBody, sig, ts); err != nil || !ok {
		t.Fatalf("sendgrid-go: verify = %v, %v; want true", ok, err)
	}
	if eventwebhook.VerificationHTTPHeader != SignatureHeader || eventwebhook.TimestampHTTPHeader != TimestampHeader {
		t.Errorf("header names %q, %q differ from sendgrid-go's", SignatureHeader, TimestampHeader)
	}

	tampered := bytes.Replace(sampleBody, []byte("delivered"), []byte("delivereD"), 1)
	other := newSigner(t)
	otherPK, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(other.PublicKeyBase64())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		pk   *ecdsa.PublicKey
		body []byte
		ts   string
	}{
		{"tampered body", pk, tampered, ts},
		{"body with a trailing newline", pk, append(append([]byte{}, sampleBody...), '\n'), ts},
		{"other timestamp", pk, sampleBody, strconv.FormatInt(at.Unix()+1, 10)},
		{"other key", otherPK, sampleBody, ts},
	} {
		if ok, err := eventwebhook.VerifySignature(c.pk, c.body, sig, c.ts); err != nil || ok {
			t.Errorf("%s: sendgrid-go verify = %v, %v; want false, nil", c.name, ok, err)
		}
	}
}

func TestSignerKeyRoundTrip(t *testing.T) {
	k, err := NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := MarshalKey(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(k) {
		t.Fatal("ParseKey(MarshalKey(k)) differs from k")
	}
	s1, _ := NewSigner(k)
	s2, _ := NewSigner(back)
	if s1.PublicKeyBase64() != s2.PublicKeyBase64() || s1.PublicKeyBase64() == "" {
		t.Fatal("public keys differ after a round trip")
	}
	// A signature made with the parsed key verifies with the original's
	// public key.
	sig, ts, err := s2.Sign(sampleBody, time.Unix(1, 0), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := eventwebhook.ConvertPublicKeyBase64ToECDSA(s1.PublicKeyBase64())
	if ok, err := eventwebhook.VerifySignature(pk, sampleBody, sig, ts); !ok || err != nil {
		t.Fatalf("verify = %v, %v", ok, err)
	}
}

func TestSignerRefusesBadKeys(t *testing.T) {
	if _, _, err := (Signer{}).Sign(sampleBody, time.Unix(1, 0), rand.Reader); err == nil {
		t.Error("the zero Signer signed")
	}
	if (Signer{}).PublicKeyBase64() != "" {
		t.Error("the zero Signer has a public key")
	}
	if _, err := NewSigner(nil); err == nil {
		t.Error("NewSigner(nil) succeeded")
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(p384); err == nil {
		t.Error("NewSigner took a P-384 key")
	}
	if _, err := MarshalKey(p384); err == nil {
		t.Error("MarshalKey took a P-384 key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKey(der); err == nil {
		t.Error("ParseKey took a P-384 key")
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if der, err = x509.MarshalPKCS8PrivateKey(edKey); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKey(der); err == nil {
		t.Error("ParseKey took an Ed25519 key")
	}
	for _, bad := range [][]byte{nil, {}, []byte("-----BEGIN PRIVATE KEY-----"), {0x30, 0x00}} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded", bad)
		}
	}
}
