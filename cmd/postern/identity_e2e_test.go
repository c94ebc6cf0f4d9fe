package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testenv"
)

// TestReturnPathBounceFromPostfix: the built binary, a real Postfix as the
// receiver and the in-process DNS server, all on loopback. A message from
// a verified domain (DKIM and return-path records published) goes to two
// recipients; Postfix accepts both, delivers one, then bounces the other
// asynchronously. Its DSN goes to the per-recipient return path, which
// the domain's MX sends back to Postern's MX listener, and the address
// lands on the sender's suppression list. The same instance refuses an
// unverified domain and a sibling's domain with 550 5.7.1, until the
// account shares the domain.
func TestReturnPathBounceFromPostfix(t *testing.T) {
	swaks := needPeer(t, "swaks")
	mxPort := freeLoopbackPort(t)
	pf := testenv.StartPostfixWith(t, testenv.PostfixOptions{
		Domains: []string{"rcpt.test"},
		Gone:    []string{"gone@rcpt.test"},
		// The return-path subdomain's MX is Postern (its published record
		// says mail.postern.test; Postfix is told the loopback port).
		Relay: map[string]string{"pst-bounces.acme.test": net.JoinHostPort("127.0.0.1", strconv.Itoa(mxPort))},
	})
	_, port, _ := net.SplitHostPort(pf.Addr)
	p, _ := strconv.Atoi(port)
	in := newInstance(t, p)
	setMXPort(t, in, mxPort)
	in.dns.Add("rcpt.test. 300 IN MX 10 mx.rcpt.test.", "mx.rcpt.test. 300 IN A 127.0.0.1")
	in.start()

	in.mustCLI("user", "create", "acme")
	in.mustCLI("user", "create", "shop", "--parent", "acme")
	in.mustCLI("user", "create", "news", "--parent", "acme")
	publish := func(domain, user string) {
		zone := in.mustCLI("domain", "add", domain, "--user", user)
		if !strings.Contains(zone, "pst-bounces."+domain+". 3600 IN MX 10 mail.postern.test.") {
			t.Fatalf("%s: no return-path record:\n%s", domain, zone)
		}
		for _, l := range strings.Split(strings.TrimSpace(zone), "\n") {
			in.dns.Add(l)
		}
		_, errOut, err := in.cli("domain", "verify", domain)
		if err != nil || !strings.Contains(errOut, "return path published") {
			t.Fatalf("domain verify %s: %v\n%s", domain, err, errOut)
		}
	}
	publish("acme.test", "acme")
	publish("shop.test", "shop")
	acmeKey := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))
	newsKey := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "news"))
	host, subPort, _ := net.SplitHostPort(in.addr("submission"))
	swaksRun := func(key, from string, extra ...string) (int, string) {
		args := append([]string{"--server", host, "--port", subPort, "--tls", "-a", "PLAIN", "-au", "apikey", "-ap", key,
			"--from", from, "--h-From", from}, extra...)
		out, err := exec.Command(swaks, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}

	code, out := swaksRun(acmeKey, "news@acme.test", "--to", "ok@rcpt.test,gone@rcpt.test", "--h-Subject", "two recipients")
	if code != 0 {
		t.Fatalf("swaks: exit %d\n%s", code, out)
	}
	id := regexp.MustCompile(`queued as (\w+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no queue id in\n%s", out)
	}

	// The bounce comes back and suppresses the address, for acme only.
	deadline := time.Now().Add(90 * time.Second)
	for {
		list := in.mustCLI("suppression", "list", "--user", "acme")
		if strings.Contains(list, "gone@rcpt.test") {
			if !strings.Contains(list, "5.1.1") {
				t.Errorf("suppression reason: %q", list)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gone@rcpt.test not suppressed\npostern:\n%s\npostfix:\n%s", in.log.String(), pf.Log())
		}
		time.Sleep(300 * time.Millisecond)
	}
	show := in.mustCLI("queue", "show", id[1])
	if !regexp.MustCompile(`gone@rcpt\.test\s+bounced`).MatchString(show) || !regexp.MustCompile(`ok@rcpt\.test\s+delivered`).MatchString(show) {
		t.Errorf("queue show:\n%s", show)
	}
	if !strings.Contains(show, "bounced after delivery: 5.1.1") {
		t.Errorf("no bounce event in queue show:\n%s", show)
	}
	if list := in.mustCLI("suppression", "list", "--user", "shop"); strings.Contains(list, "gone@") {
		t.Errorf("the bounce suppressed for another user: %q", list)
	}
	msgs, _ := pf.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the Maildir, want ok@ only", len(msgs))
	}
	rp := regexp.MustCompile(`(?m)^Return-Path: <(b-` + id[1] + `-0-[0-9]+-[a-z2-7]+@pst-bounces\.acme\.test)>`).FindSubmatch(msgs[0])
	if rp == nil {
		t.Fatalf("delivered without the VERP return path:\n%s", msgs[0])
	}
	if !bytes.Contains(msgs[0], []byte("From: news@acme.test")) {
		t.Errorf("the header From changed:\n%s", msgs[0])
	}

	// Identities not proven are refused at MAIL with 550 5.7.1 naming them.
	code, out = swaksRun(acmeKey, "ceo@unverified.test", "--to", "ok@rcpt.test", "--quit-after", "RCPT")
	if code != 23 || !strings.Contains(out, "550 5.7.1") || !strings.Contains(out, "<ceo@unverified.test>") {
		t.Errorf("unverified domain: exit %d\n%s", code, out)
	}
	code, out = swaksRun(newsKey, "sales@shop.test", "--to", "ok@rcpt.test", "--quit-after", "RCPT")
	if code != 23 || !strings.Contains(out, "550 5.7.1") {
		t.Errorf("a sibling's domain: exit %d\n%s", code, out)
	}
	// The header From is held to the same rule as the envelope.
	code, out = swaksRun(newsKey, "news@acme.test", "--to", "ok@rcpt.test", "--h-From", "sales@shop.test")
	if code == 0 || !strings.Contains(out, "550 5.7.1") {
		t.Errorf("a sibling's domain in From: exit %d\n%s", code, out)
	}
	// acme's domain is not shared either, until the operator shares it.
	if code, out = swaksRun(newsKey, "news@acme.test", "--to", "ok@rcpt.test", "--quit-after", "RCPT"); code != 23 {
		t.Errorf("an unshared account domain: exit %d\n%s", code, out)
	}
	in.mustCLI("domain", "share", "acme.test")
	if code, out = swaksRun(newsKey, "news@acme.test", "--to", "ok@rcpt.test", "--quit-after", "RCPT"); code != 0 {
		t.Errorf("a shared account domain: exit %d\n%s", code, out)
	}
	if show := in.mustCLI("domain", "show", "acme.test"); !strings.Contains(show, "shared") || !strings.Contains(show, "verified") {
		t.Errorf("domain show:\n%s", show)
	}
	in.stop()
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// setMXPort puts the instance's MX listener on a known port.
func setMXPort(t *testing.T, in *instance, port int) {
	t.Helper()
	b, err := os.ReadFile(in.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), `mx          = ["127.0.0.1:0"]`, `mx          = ["127.0.0.1:`+strconv.Itoa(port)+`"]`, 1)
	if cfg == string(b) {
		t.Fatal("no mx line in the test config")
	}
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}
