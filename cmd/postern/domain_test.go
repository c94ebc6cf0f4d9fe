package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

// TestDomainAddVerifySign: `domain add` prints the records; `domain
// verify` fails until they are published in (an in-process) DNS, then
// marks the domain verified; mail from it is then signed with both keys
// and the signatures verify against the published records.
func TestDomainAddVerifySign(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDNS(t)
	cfgPath := filepath.Join(dir, "postern.toml")
	toml := fmt.Sprintf("hostname = \"mail.postern.test\"\ndata_dir = %q\n[dns]\nresolver = %q\n[smtp]\nsubmission = [\"127.0.0.1:0\"]\nsubmissions = [\"127.0.0.1:0\"]\nmx = [\"127.0.0.1:0\"]\n[http]\nlisten = \"127.0.0.1:0\"\n",
		filepath.Join(dir, "data"), d.Addr)
	if err := os.WriteFile(cfgPath, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cliEnv{t: t, config: cfgPath}
	cfg := []string{"--config", cfgPath}
	run := func(args ...string) (int, string, string) { return c.run(nil, append(cfg, args...)...) }

	run("user", "create", "acme")
	run("user", "create", "beta")
	code, zone, errOut := run("domain", "add", "Acme.test", "--user", "acme")
	if code != 0 || !strings.Contains(errOut, "publish these records") {
		t.Fatalf("domain add: %d %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(zone), "\n")
	if len(lines) < 2 || !regexp.MustCompile(`_domainkey\.acme\.test\. \d+ IN TXT "v=DKIM1; k=rsa; p=`).MatchString(zone) ||
		!strings.Contains(zone, "k=ed25519") {
		t.Fatalf("records:\n%s", zone)
	}
	if code, _, _ := run("domain", "add", "acme.test", "--user", "beta"); code != 1 {
		t.Fatal("a domain taken by another user was added again")
	}
	// Not published yet: ✗ and exit 1.
	code, out, _ := run("domain", "verify", "acme.test")
	if code != 1 || !strings.Contains(out, "✗") {
		t.Fatalf("verify before publishing: %d\n%s", code, out)
	}
	for _, l := range lines {
		d.Add(l)
	}
	code, out, errOut = run("domain", "verify", "acme.test")
	if code != 0 || !strings.Contains(errOut, "is verified") || strings.Count(out, "✓") < 2 {
		t.Fatalf("verify after publishing: %d %q\n%s", code, errOut, out)
	}
	if _, out, _ := run("domain", "list"); !strings.Contains(out, "acme.test") || !strings.Contains(out, "verified") {
		t.Fatalf("domain list: %q", out)
	}

	// Mail from the verified domain is signed with both keys.
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
	body := func(from, envFrom string) []byte {
		cl, err := smtp.DialTLS(r.Addrs[smtpd.Submissions][0].String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.Auth(sasl.NewPlainClient("", "apikey", key)); err != nil {
			t.Fatal(err)
		}
		msg := "From: " + from + "\r\nTo: a@example.test\r\nSubject: signed?\r\n\r\nHello.\r\n"
		if err := cl.SendMail(envFrom, []string{"a@example.test"}, strings.NewReader(msg)); err != nil {
			return []byte(err.Error())
		}
		msgs, _ := a.Store.Messages(context.Background())
		b, _ := a.Store.MessageBody(context.Background(), msgs[len(msgs)-1].ID)
		return b
	}
	res, _ := dnsres.New(d.Addr, dnsres.Options{})
	signed := body("News <news@acme.test>", "news@acme.test")
	results, err := mailauth.Verify(context.Background(), signed, res.LookupTXT)
	if err != nil || len(results) != 2 {
		t.Fatalf("verify: %+v %v", results, err)
	}
	for _, v := range results {
		if !v.OK || v.Domain != "acme.test" {
			t.Errorf("signature %+v", v)
		}
	}
	// Rotation: new selectors are printed; signing stays on the old ones
	// until their records verify, then switches.
	code, rot, errOut := run("domain", "rotate-dkim", "acme.test")
	if code != 0 || strings.Count(rot, "_domainkey.acme.test.") != 2 || !strings.Contains(errOut, "signing switches once") {
		t.Fatalf("rotate: %d %q\n%s", code, errOut, rot)
	}
	if code, _, _ := run("domain", "verify", "acme.test"); code != 1 {
		t.Fatal("rotation verified before its records were published")
	}
	selectorOf := func(msg []byte) []string {
		var sels []string
		for _, v := range mustVerify(t, msg, res) {
			sels = append(sels, v.Selector)
		}
		return sels
	}
	old := selectorOf(body("News <news@acme.test>", "news@acme.test"))
	for _, l := range strings.Split(strings.TrimSpace(rot), "\n") {
		d.Add(l)
	}
	code, _, errOut = run("domain", "verify", "acme.test")
	if code != 0 || !strings.Contains(errOut, "signing switched") || !strings.Contains(errOut, "168h") {
		t.Fatalf("verify rotation: %d %q", code, errOut)
	}
	now := selectorOf(body("News <news@acme.test>", "news@acme.test"))
	if len(now) != 2 || now[0] == old[0] || now[1] == old[1] {
		t.Fatalf("selectors before %v after %v", old, now)
	}

	// Mail from a domain that is not the user's is refused, not just unsigned.
	if refused := body("x@other.test", "x@other.test"); !bytes.Contains(refused, []byte("550")) || !bytes.Contains(refused, []byte("x@other.test")) {
		t.Errorf("mail from another domain: %s", refused)
	}
}

func mustVerify(t *testing.T, msg []byte, res *dnsres.Client) []mailauth.Result {
	t.Helper()
	results, err := mailauth.Verify(context.Background(), msg, res.LookupTXT)
	if err != nil || len(results) != 2 {
		t.Fatalf("verify: %+v %v", results, err)
	}
	for _, v := range results {
		if !v.OK {
			t.Fatalf("signature %+v", v)
		}
	}
	return results
}
