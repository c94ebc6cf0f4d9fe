package main

import (
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
