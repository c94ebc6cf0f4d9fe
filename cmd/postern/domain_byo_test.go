package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/mailauth"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/testenv"
)

// TestDomainBroughtKeyAlone (issue 11, "bring-your-own DKIM key means
// that key alone"): `domain add --dkim-key FILE --selector S` with an RSA
// key; only that key's record is published, and `domain verify` passes,
// saying the Ed25519 record is not published; mail is signed once, by
// the brought key, and the signature verifies. Once the Ed25519 record is
// published and the domain verified again, mail carries both signatures.
func TestDomainBroughtKeyAlone(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDNS(t)
	cfgPath := filepath.Join(dir, "postern.toml")
	toml := fmt.Sprintf("hostname = \"mail.postern.test\"\ndata_dir = %q\n[dns]\nresolver = %q\n[smtp]\nsubmission = [\"127.0.0.1:0\"]\nsubmissions = [\"127.0.0.1:0\"]\nmx = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n",
		filepath.Join(dir, "data"), d.Addr)
	if err := os.WriteFile(cfgPath, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "dkim.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cliEnv{t: t, config: cfgPath}
	run := func(args ...string) (int, string, string) {
		return c.run(nil, append([]string{"--config", cfgPath}, args...)...)
	}

	run("user", "create", "acme")
	code, zone, errOut := run("domain", "add", "byo.test", "--user", "acme", "--dkim-key", keyFile, "--selector", "moved")
	if code != 0 || !strings.Contains(errOut, "the brought key's record alone verifies the domain") {
		t.Fatalf("domain add: %d %q", code, errOut)
	}
	var brought, companion string
	for _, l := range strings.Split(strings.TrimSpace(zone), "\n") {
		switch {
		case strings.HasPrefix(l, "moved._domainkey.byo.test. ") && strings.Contains(l, "k=rsa"):
			brought = l
		case strings.Contains(l, "._domainkey.byo.test. ") && strings.Contains(l, "k=ed25519"):
			companion = l
		}
	}
	if brought == "" || companion == "" {
		t.Fatalf("records:\n%s", zone)
	}
	if code, _, _ := run("domain", "verify", "byo.test"); code != 1 {
		t.Fatal("verified before the brought key's record was published")
	}
	d.Add(brought)
	code, out, errOut := run("domain", "verify", "byo.test")
	if code != 0 || !strings.Contains(errOut, "is verified") || !strings.Contains(errOut, "signed with the brought key alone") ||
		!strings.Contains(out, "✓ moved._domainkey.byo.test TXT") {
		t.Fatalf("verify with the brought record alone: %d %q\n%s", code, errOut, out)
	}
	if _, show, _ := run("domain", "show", "byo.test"); !strings.Contains(show, "brought:   the rsa key") || !strings.Contains(show, "signs: not yet") {
		t.Fatalf("domain show:\n%s", show)
	}

	a := openApp(t, cfgPath)
	key, _, err := a.Accounts.CreateKey(context.Background(), "acme", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(ctx)
	}()
	res, _ := dnsres.New(d.Addr, dnsres.Options{})
	// signatures sends a message from the domain and returns the
	// selectors of its signatures, each verified.
	signatures := func() string {
		t.Helper()
		cl, err := smtp.DialTLS(r.Addrs[smtpd.Submissions][0].String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.Auth(sasl.NewPlainClient("", "apikey", key)); err != nil {
			t.Fatal(err)
		}
		msg := "From: News <news@byo.test>\r\nTo: a@example.test\r\nSubject: signed?\r\n\r\nHello.\r\n"
		if err := cl.SendMail("news@byo.test", []string{"a@example.test"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		msgs, _ := a.Store.Messages(context.Background())
		body, _ := a.Store.MessageBody(context.Background(), msgs[len(msgs)-1].ID)
		results, err := mailauth.Verify(context.Background(), body, res.LookupTXT)
		if err != nil {
			t.Fatal(err)
		}
		var sels []string
		for _, v := range results {
			if !v.OK || v.Domain != "byo.test" {
				t.Errorf("signature %+v", v)
			}
			sels = append(sels, v.Selector)
		}
		slices.Sort(sels)
		return strings.Join(sels, " ")
	}
	if got := signatures(); got != "moved" {
		t.Fatalf("signed by %q, want the brought key's one signature", got)
	}
	d.Add(companion)
	code, _, errOut = run("domain", "verify", "byo.test")
	if code != 0 || !strings.Contains(errOut, "the Ed25519 record of selector") || !strings.Contains(errOut, "is published") {
		t.Fatalf("verify with the companion: %d %q", code, errOut)
	}
	if got := signatures(); !strings.HasPrefix(got, "moved pst") || strings.Count(got, " ") != 1 {
		t.Fatalf("signed by %q, want the brought key and the Ed25519 one", got)
	}
}
