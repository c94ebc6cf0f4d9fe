package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testenv"
)

// TestDeliveryToPostfix: a message submitted with swaks to the built
// binary arrives intact, over STARTTLS, in a real Postfix's mailbox.
func TestDeliveryToPostfix(t *testing.T) {
	swaks := needPeer(t, "swaks")
	pf := testenv.StartPostfix(t, "example.test")
	_, port, _ := net.SplitHostPort(pf.Addr)
	p, _ := strconv.Atoi(port)
	in := newInstance(t, p)
	in.start()
	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))
	host, subPort, _ := net.SplitHostPort(in.addr("submission"))

	body := "First line.\nA line with a leading dot follows:\n.hidden? no\nÜnïcödé 8-bit line.\nLast line."
	out, err := exec.Command(swaks, "--server", host, "--port", subPort, "--tls", "-a", "PLAIN", "-au", "apikey", "-ap", key,
		"--from", "app@example.test", "--to", "rcpt@example.test", "--h-Subject", "to postfix", "--body", body).CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`queued as ([0-9a-v]{26})`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no queue id in:\n%s", out)
	}
	id := m[1]

	var got []byte
	deadline := time.Now().Add(60 * time.Second)
	for len(got) == 0 {
		msgs, err := pf.Messages()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 {
			got = msgs[0]
			break
		}
		if time.Now().After(deadline) {
			show, _, _ := in.cli("queue", "show", id)
			t.Fatalf("nothing arrived in Postfix\nqueue show:\n%s\npostfix log:\n%s\npostern log:\n%s", show, pf.Log(), in.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	s := string(got)
	for _, want := range []string{
		"Subject: to postfix",
		"using TLSv1.3", // Postfix's Received: Postern used STARTTLS
		"by mail.postern.test (Postern) with ESMTPSA", // Postern's own Received
		"X-Originating-IP: [127.0.0.1]",
		body, // swaks sends CRLF, Postfix's Maildir stores LF: the text is intact
	} {
		if !strings.Contains(s, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(strings.ToLower(s), "\nmessage-id: <") {
		t.Errorf("delivered message has no Message-ID")
	}
	// The queue records the delivery and how it went.
	deadline = time.Now().Add(30 * time.Second)
	for {
		show := in.mustCLI("queue", "show", id)
		if strings.Contains(show, "delivered") {
			if !strings.Contains(show, "TLS1.3") || !strings.Contains(show, "state:    done") {
				t.Errorf("queue show:\n%s", show)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue show never says delivered:\n%s", show)
		}
		time.Sleep(200 * time.Millisecond)
	}
	in.stop()
}

// TestSignedDeliveryToPostfix: a message from a verified domain, delivered
// by the built binary to a real Postfix, carries two DKIM signatures that
// dkimpy (independent of Postern) verifies in the delivered copy.
func TestSignedDeliveryToPostfix(t *testing.T) {
	swaks := needPeer(t, "swaks")
	in := startPublished(t)
	pf, txt, key := in.pf, in.txt, in.key
	host, subPort, _ := net.SplitHostPort(in.addr("submission"))
	out, err := exec.Command(swaks, "--server", host, "--port", subPort, "--tls", "-a", "PLAIN", "-au", "apikey", "-ap", key,
		"--from", "news@acme.test", "--to", "rcpt@example.test", "--h-From", "News <news@acme.test>",
		"--h-Subject", "signed", "--body", "Signed by Postern.\n\nSecond paragraph.").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	var got []byte
	deadline := time.Now().Add(60 * time.Second)
	for {
		msgs, _ := pf.Messages()
		if len(msgs) > 0 {
			got = msgs[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing arrived\n%s", pf.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := strings.Count(string(got), "DKIM-Signature:"); n != 2 {
		t.Fatalf("%d signatures in the delivered message:\n%s", n, got)
	}
	// dkimpy verifies each signature against the published records.
	verifyDKIM(t, got, txt, 2)
	in.stop()
}

// verifyDKIM has dkimpy verify each of the want signatures of msg against
// txt, the DKIM TXT records as zone lines printed by domain add.
func verifyDKIM(t *testing.T, msg []byte, txt []string, want int) {
	t.Helper()
	python := "/usr/bin/python3"
	if _, err := exec.LookPath(python); err != nil || exec.Command(python, "-c", "import dkim").Run() != nil {
		testenv.NeedPeer(t, "dkimpy (python3-dkim for /usr/bin/python3)")
	}
	records := map[string]string{}
	for _, l := range txt {
		f := strings.Fields(l)
		value := strings.Join(regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`).FindAllString(l, -1), "")
		records[f[0]] = strings.ReplaceAll(value, `"`, "")
	}
	script := `
import dkim, json, sys
recs = json.loads(sys.argv[1])
msg = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
def dns(name, timeout=5):
    return recs.get(name.decode()).encode()
d = dkim.DKIM(msg)
n = msg.count(b"\r\nDKIM-Signature:") + msg.startswith(b"DKIM-Signature:")
for i in range(n):
    print("sig", i, d.verify(idx=i, dnsfunc=dns))
`
	js, _ := json.Marshal(records)
	cmd := exec.Command(python, "-c", script, string(js))
	cmd.Stdin = bytes.NewReader(msg)
	res, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, res)
	}
	if strings.Count(string(res), "True") != want || strings.Contains(string(res), "False") {
		t.Fatalf("dkimpy verdicts:\n%s\nmessage:\n%s", res, msg)
	}
}

// publishDomain adds domain for user, publishes every record domain add
// prints on the test's DNS server, verifies it, and returns the DKIM
// records.
func (in *instance) publishDomain(user, domain string) []string {
	in.t.Helper()
	zone := in.mustCLI("domain", "add", domain, "--user", user)
	var txt []string
	for _, l := range strings.Split(strings.TrimSpace(zone), "\n") {
		in.dns.Add(l)
		if strings.Contains(l, "_domainkey") {
			txt = append(txt, l)
		}
	}
	in.mustCLI("domain", "verify", domain)
	return txt
}
