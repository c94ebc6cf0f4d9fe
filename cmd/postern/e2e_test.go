package main

import (
	"errors"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

var keyRE = regexp.MustCompile(`^pst_[a-z2-7]{16}_[a-z2-7]{32}\n$`)

// TestEndToEnd drives the built binary with real clients: swaks over
// STARTTLS and over implicit TLS, Python's smtplib both ways; then the
// CLI's queue list shows every message.
func TestEndToEnd(t *testing.T) {
	swaks := needPeer(t, "swaks")
	python := needPeer(t, "python3")
	in := newInstance(t, 0)
	in.start()

	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	in.mustCLI("user", "create", "shop", "--parent", "acme")
	key := in.mustCLI("apikey", "create", "--user", "shop", "--name", "e2e")
	if !keyRE.MatchString(key) {
		t.Fatalf("apikey create stdout %q is not the key alone", key)
	}
	key = strings.TrimSpace(key)
	keyID := strings.Split(key, "_")[1]

	submission, submissions := in.addr("submission"), in.addr("submissions")
	host, subPort, _ := net.SplitHostPort(submission)
	_, subsPort, _ := net.SplitHostPort(submissions)

	runSwaks := func(args ...string) (string, int) {
		cmd := exec.Command(swaks, append([]string{"--server", host, "--from", "app@example.test",
			"--h-Subject", "e2e", "--body", "Hello from swaks.", "-a", "PLAIN", "-au", "apikey"}, args...)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}

	out, code := runSwaks("--port", subPort, "--tls", "-ap", key, "--to", "starttls@example.test")
	if code != 0 || !strings.Contains(out, "250 2.0.0 Ok: queued as") {
		t.Fatalf("swaks STARTTLS: exit %d\n%s", code, out)
	}
	out, code = runSwaks("--port", subsPort, "--tls-on-connect", "-ap", key, "--to", "implicit@example.test", "-a", "LOGIN")
	if code != 0 || !strings.Contains(out, "250 2.0.0 Ok: queued as") {
		t.Fatalf("swaks implicit TLS: exit %d\n%s", code, out)
	}
	// A wrong key: swaks exits 28 (AUTH) and the server said 535 5.7.8.
	out, code = runSwaks("--port", subPort, "--tls", "-ap", "pst_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "--to", "x@example.test")
	if code != 28 || !strings.Contains(out, "535 5.7.8") {
		t.Fatalf("swaks wrong key: exit %d\n%s", code, out)
	}
	// No TLS: AUTH is not offered (swaks 28), MAIL needs AUTH.
	out, code = runSwaks("--port", subPort, "-ap", key, "--to", "x@example.test")
	if code != 28 {
		t.Fatalf("swaks without TLS: exit %d\n%s", code, out)
	}

	py := exec.Command(python, "-c", pythonClient, host, subPort, subsPort, in.certPEM)
	py.Env = append(cleanEnv(), "POSTERN_TEST_KEY="+key)
	pyOut, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("python smtplib: %v\n%s", err, pyOut)
	}
	if n := strings.Count(string(pyOut), "queued as"); n != 2 {
		t.Fatalf("python smtplib: %d acknowledgements\n%s", n, pyOut)
	}

	list := in.mustCLI("queue", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 {
		t.Fatalf("queue list has %d lines, want 4:\n%s", len(lines), list)
	}
	for _, rcpt := range []string{"starttls@example.test", "implicit@example.test", "smtplib-starttls@example.test", "smtplib-tls@example.test"} {
		if !strings.Contains(list, rcpt) {
			t.Errorf("queue list lacks %s:\n%s", rcpt, list)
		}
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 8 || f[1] != "shop" || f[2] != keyID || f[3] != "app@example.test" || (f[6] != "queued" && f[6] != "done") {
			t.Errorf("queue list line %q", l)
		}
	}

	// apikey list: one line per key, beginning with its id, never the secret.
	keys := in.mustCLI("apikey", "list", "--user", "shop")
	if !strings.HasPrefix(keys, keyID+" ") || strings.Contains(keys, key) {
		t.Fatalf("apikey list:\n%s", keys)
	}
	in.mustCLI("apikey", "revoke", keyID)
	out, code = runSwaks("--port", subPort, "--tls", "-ap", key, "--to", "after-revoke@example.test")
	if code != 28 || !strings.Contains(out, "535 5.7.8") {
		t.Fatalf("swaks with revoked key: exit %d\n%s", code, out)
	}

	in.stop()
	logs := in.log.String()
	if strings.Contains(logs, key) || strings.Contains(logs, strings.Split(key, "_")[2]) {
		t.Error("server log contains the API key")
	}
	for _, want := range []string{"generated a self-signed TLS certificate", "msg=queued", "msg=\"auth failed\"", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("server log lacks %q", want)
		}
	}
}

// pythonClient sends one message over STARTTLS and one over implicit TLS,
// verifying Postern's certificate against the generated PEM.
const pythonClient = `
import os, smtplib, ssl, sys
host, sub, subs, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
key = os.environ["POSTERN_TEST_KEY"]
ctx = ssl.create_default_context(cafile=ca)
msg = "From: app@example.test\r\nSubject: smtplib\r\n\r\nHello from Python.\r\n"

def send(s, rcpt):
    s.login("apikey", key)
    s.mail("app@example.test")
    code, text = s.rcpt(rcpt)
    assert code == 250, (code, text)
    code, text = s.data(msg)
    assert code == 250, (code, text)
    print(text.decode())

with smtplib.SMTP(host, sub) as s:
    s.starttls(context=ctx)
    send(s, "smtplib-starttls@example.test")

with smtplib.SMTP_SSL(host, subs, context=ctx) as s:
    send(s, "smtplib-tls@example.test")
`
