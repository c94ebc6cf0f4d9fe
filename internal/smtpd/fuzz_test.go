package smtpd_test

import (
	"bufio"
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/smtpd"
)

var replyLine = regexp.MustCompile(`^[2-5][0-9]{2}[ -]`)

// FuzzSession feeds arbitrary client bytes to a real server on the plain
// submission port. Whatever comes in: every reply is a well-formed reply
// line, the engine never hits its panic handler, and nothing is queued
// (without TLS nothing can authenticate).
func FuzzSession(f *testing.F) {
	seeds := []string{
		"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nAUTH PLAIN AGFwaWtleQBwc3Q=\r\nAUTH LOGIN\r\n*\r\nQUIT\r\n",
		"HELO x\r\nSTARTTLS\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.test> SIZE=99999999999\r\nRSET\r\nNOOP\r\n",
		"EHLO x\r\nBDAT 5 LAST\r\nhello",
		"\x00\xff\r\n\n\r.\r\n",
		"EHLO " + strings.Repeat("a", 3000) + "\r\n",
		"MAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nVRFY x\r\nEXPN y\r\nHELP\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	e := newEnv(f, envOptions{maxErrors: 1000})
	addr := e.addr[smtpd.Submission]
	f.Fuzz(func(t *testing.T, in []byte) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			conn.Write(in)
			conn.(*net.TCPConn).CloseWrite()
		}()
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 64*1024), 64*1024)
		for sc.Scan() {
			line := sc.Text()
			if !replyLine.MatchString(line) {
				t.Fatalf("malformed reply line %q", line)
			}
			if strings.Contains(line, "Internal server error") {
				t.Fatalf("server panicked: %q", line)
			}
		}
		if msgs, err := e.store.Messages(context.Background()); err != nil || len(msgs) != 0 {
			t.Fatalf("%d messages queued without TLS or AUTH (err %v)", len(msgs), err)
		}
	})
}
