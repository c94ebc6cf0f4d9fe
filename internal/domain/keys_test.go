package domain

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKeys generates the keys once for the package's tests.
var testKeys = sync.OnceValues(func() (*rsa.PrivateKey, ed25519.PrivateKey) {
	r, e, err := GenerateKeys(rand.Reader)
	if err != nil {
		panic(err)
	}
	return r, e
})

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestGenerateKeys(t *testing.T) {
	r, e := testKeys()
	if n := r.N.BitLen(); n != 2048 {
		t.Errorf("RSA key has %d bits, want 2048", n)
	}
	if len(e) != ed25519.PrivateKeySize {
		t.Errorf("Ed25519 key has %d bytes", len(e))
	}
}

func TestParsePrivateKey(t *testing.T) {
	rsaKey, edKey := testKeys()
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	small, err := os.ReadFile("testdata/rsa512.pem")
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS1 := pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	cert := pemOf("CERTIFICATE", []byte("not really"))
	corrupt := x509.MarshalPKCS1PrivateKey(rsaKey)[:300]

	tests := []struct {
		name    string
		pem     []byte
		kind    KeyKind
		wantErr string
	}{
		{"PKCS#1 RSA", rsaPKCS1, KeyRSA, ""},
		{"PKCS#8 RSA", pemOf("PRIVATE KEY", pkcs8(rsaKey)), KeyRSA, ""},
		{"PKCS#8 Ed25519", pemOf("PRIVATE KEY", pkcs8(edKey)), KeyEd25519, ""},
		{"certificate before key", append(append([]byte{}, cert...), rsaPKCS1...), KeyRSA, ""},
		{"text around key", []byte("my key:\n" + string(rsaPKCS1) + "end\n"), KeyRSA, ""},
		{"small RSA refused", small, "", "512 bits"},
		{"garbage", []byte("hello, this is not a key"), "", "no PEM private key"},
		{"empty", nil, "", "no PEM private key"},
		{"corrupt PKCS#1", pemOf("RSA PRIVATE KEY", corrupt), "", "not a valid PKCS#1"},
		{"corrupt PKCS#8", pemOf("PRIVATE KEY", corrupt), "", "not a valid PKCS#8"},
		{"EC key (SEC 1) refused", pemOf("EC PRIVATE KEY", ecDER), "", "EC keys cannot sign"},
		{"EC key (PKCS#8) refused", pemOf("PRIVATE KEY", pkcs8(ecKey)), "", "ECDSA keys cannot sign"},
		{"two keys", append(append([]byte{}, rsaPKCS1...), rsaPKCS1...), "", "more than one key"},
		{"encrypted PKCS#8", pemOf("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), "", "encrypted"},
		{"other block type", pemOf("OPENSSH PRIVATE KEY", []byte{1, 2, 3}), "", "unsupported PEM block type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tt.pem)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want one saying %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not say %q", err, tt.wantErr)
				}
				if b, _ := pem.Decode(tt.pem); b != nil && len(b.Bytes) > 8 {
					body := strings.Fields(string(tt.pem))
					for _, line := range body {
						if len(line) >= 16 && strings.Contains(err.Error(), line[:16]) {
							t.Errorf("error %q echoes key material", err)
						}
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			kind, err := KindOf(k)
			if err != nil || kind != tt.kind {
				t.Errorf("kind %q, %v; want %q", kind, err, tt.kind)
			}
		})
	}
}

func TestMarshalPrivateKeyRoundTrip(t *testing.T) {
	rsaKey, edKey := testKeys()
	for _, k := range []crypto.Signer{rsaKey, edKey} {
		out, err := MarshalPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(out), "-----BEGIN PRIVATE KEY-----\n") {
			t.Errorf("not PKCS#8 PEM: %.40q", out)
		}
		back, err := ParsePrivateKey(out)
		if err != nil {
			t.Fatal(err)
		}
		if !k.(interface{ Equal(crypto.PrivateKey) bool }).Equal(back) {
			t.Errorf("%T: round trip changed the key", k)
		}
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := MarshalPrivateKey(ecKey); err == nil {
		t.Error("MarshalPrivateKey(ECDSA): no error")
	}
}

func TestSelectorNames(t *testing.T) {
	r, e := SelectorNames(time.Date(2026, 11, 30, 23, 30, 0, 0, time.FixedZone("x", -3600)))
	if r != "pst202612r" || e != "pst202612e" { // 2026-12-01 00:30 UTC
		t.Errorf("SelectorNames = %q, %q", r, e)
	}
	r, e = SelectorNames(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC))
	if r != "pst202603r" || e != "pst202603e" {
		t.Errorf("SelectorNames = %q, %q", r, e)
	}
}
