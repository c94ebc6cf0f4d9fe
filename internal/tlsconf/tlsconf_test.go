package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadGeneratesOnceThenReuses(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	cert, path, generated, err := Load("", "", dir, "mail.example.test", now)
	if err != nil {
		t.Fatal(err)
	}
	if !generated || path != filepath.Join(dir, SelfSignedCert) {
		t.Fatalf("generated=%v path=%q", generated, path)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("mail.example.test"); err != nil {
		t.Errorf("hostname: %v", err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("loopback: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, SelfSignedKey))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	again, _, generated, err := Load("", "", dir, "mail.example.test", now)
	if err != nil || generated {
		t.Fatalf("second load: generated=%v err=%v", generated, err)
	}
	if string(again.Certificate[0]) != string(cert.Certificate[0]) {
		t.Error("second load made a new certificate")
	}
}

func TestLoadConfiguredFiles(t *testing.T) {
	dir := t.TempDir()
	c, k := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := WriteSelfSigned(c, k, "x.test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, path, generated, err := Load(c, k, t.TempDir(), "x.test", time.Now()); err != nil || generated || path != c {
		t.Fatalf("path=%q generated=%v err=%v", path, generated, err)
	}
	if _, _, _, err := Load(filepath.Join(dir, "missing.pem"), k, dir, "x.test", time.Now()); err == nil {
		t.Fatal("missing cert file accepted")
	}
}

// TestProtocolFloor checks with a real handshake that TLS 1.1 and a CBC
// suite are refused and TLS 1.2 with ECDHE-GCM works.
func TestProtocolFloor(t *testing.T) {
	dir := t.TempDir()
	cert, _, _, err := Load("", "", dir, "localhost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", Server(cert))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	cases := []struct {
		name string
		cfg  *tls.Config
		ok   bool
	}{
		{"tls13", &tls.Config{MinVersion: tls.VersionTLS13}, true},
		{"tls12-gcm", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"tls12-cbc", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, false},
		{"tls11", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.InsecureSkipVerify = true
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			err = tls.Client(raw, tc.cfg).Handshake()
			if (err == nil) != tc.ok {
				t.Fatalf("handshake err=%v, want ok=%v", err, tc.ok)
			}
		})
	}
}
