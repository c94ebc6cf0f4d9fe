package main

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// TestFinding5SmugglingAgainstBinary: against the built binary, every
// end-of-data variant of the SMTP smuggling family, "\r\n.\rX" and
// "\r\r\n" are refused with 554 over an authenticated session, and
// neither the message nor the transaction smuggled inside it is queued.
func TestFinding5SmugglingAgainstBinary(t *testing.T) {
	in := newInstance(t, 0, "max_errors = 100")
	in.start()
	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))
	cfg := newSMTPSender(t, in).tls

	conn, err := tls.Dial("tcp", in.addr("submissions"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	expect := func(prefix string) string {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		var all strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a reply (want %s): %v, so far %q", prefix, err, all.String())
			}
			all.WriteString(line)
			if len(line) < 4 || line[3] != '-' {
				break
			}
		}
		if !strings.HasPrefix(all.String(), prefix) {
			t.Fatalf("reply %q, want %s", all.String(), prefix)
		}
		return all.String()
	}
	cmd := func(line, want string) {
		t.Helper()
		conn.Write([]byte(line + "\r\n"))
		expect(want)
	}
	expect("220")
	cmd("EHLO client.test", "250")
	cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00apikey\x00"+key)), "235")
	variants := []string{
		"\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n", "\r\r\n", "\r\n\r",
		"\r\n\x00.\r\n", "\r\n.\x00\r\n", "\r\n.\rX", "\r\r\n.\r\r\n",
	}
	for _, v := range variants {
		cmd("MAIL FROM:<app@example.test>", "250")
		cmd("RCPT TO:<a@example.test>", "250")
		cmd("DATA", "354")
		conn.Write([]byte("From: app@example.test\r\nSubject: x\r\n\r\nbefore" + v +
			"MAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n"))
		expect("554 5.6.0")
		cmd("NOOP", "250")
	}
	cmd("QUIT", "221")
	if list := in.mustCLI("queue", "list"); strings.Contains(list, "example.test") {
		t.Fatalf("something was queued:\n%s", list)
	}
}
