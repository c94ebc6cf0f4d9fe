package smtpd_test

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/smtpd"
)

const badKey = "pst_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func TestLockoutAfterThresholdAndRelease(t *testing.T) {
	tr := lockout.New(lockout.Config{PerIP: 3, Window: time.Minute, Backoff: 400 * time.Millisecond})
	e := newEnv(t, envOptions{lockout: tr})
	c := e.dial(smtpd.Submissions)
	for i := 0; i < 3; i++ {
		// Each failure on a new connection, as a guesser would.
		c = e.dial(smtpd.Submissions)
		wantCode(t, c.Auth(plain(badKey)), 535, smtp.EnhancedCode{5, 7, 8})
	}
	// Locked out: even the valid key is refused, with a temporary code.
	c = e.dial(smtpd.Submissions)
	se := wantCode(t, c.Auth(plain(e.key)), 454, smtp.EnhancedCode{4, 7, 0})
	if !strings.Contains(se.Message, "Too many failed authentications") {
		t.Errorf("text %q", se.Message)
	}
	// Another client address is not affected.
	other, err := e.dialFrom("127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Auth(plain(e.key)); err != nil {
		t.Fatalf("other address: %v", err)
	}
	// After the backoff the client may try again.
	time.Sleep(500 * time.Millisecond)
	c = e.dial(smtpd.Submissions)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatalf("after the backoff: %v", err)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "msg=\"auth lockout\"") || strings.Count(logs, "msg=\"auth failed\" session=") < 4 {
		t.Errorf("log lacks the lockout or the failure lines:\n%s", logs)
	}
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "auth failed") && !strings.Contains(l, "ip=127.0.0.1") {
			t.Errorf("failure line without the client address: %s", l)
		}
	}
}

// Every failure is answered no sooner than the configured delay, whatever
// the cause (malformed key, unknown id, wrong username, garbage PLAIN).
func TestAuthFailureDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	e := newEnv(t, envOptions{authDelay: delay})
	r := e.dialRaw(smtpd.Submissions)
	r.cmd("EHLO x", "250")
	for _, line := range []string{
		"AUTH PLAIN AGFwaWtleQBub3Qta2V5",                     // \0apikey\0not-key
		"AUTH PLAIN AGFjbWUAcHN0X2FhYWFhYWFhYWFhYWFhYWFfYmJi", // \0acme\0pst_…
		"AUTH PLAIN Z2FyYmFnZQ==",                             // "garbage": malformed
	} {
		start := time.Now()
		r.cmd(line, "535")
		if took := time.Since(start); took < delay {
			t.Errorf("%s answered after %v, before the %v floor", line, took, delay)
		}
	}
}

func TestConnectionLimitsAndFlood(t *testing.T) {
	e := newEnv(t, envOptions{conns: lockout.NewConns(lockout.ConnLimits{PerIP: 3, Per48: 3, Total: 60})})
	// A flood of idle connections from one address reaches its limit...
	var idle []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, tcpAddr(e.addr[smtpd.Submission]))
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		t.Cleanup(func() { c.Close() })
	}
	// ...the next one is told why and closed...
	over, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, tcpAddr(e.addr[smtpd.Submission]))
	if err != nil {
		t.Fatal(err)
	}
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 200)
	n, _ := over.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "421 4.7.0 too many connections from your address") {
		t.Fatalf("over the limit: %q", buf[:n])
	}
	over.Close()
	// ...and many idle connections from other addresses do not stop a
	// real client from sending.
	for i := 0; i < 40; i++ {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i+1))}
		c, err := net.DialTCP("tcp", src, tcpAddr(e.addr[smtpd.Submission]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg); err != nil {
		t.Fatalf("a real client during the flood: %v", err)
	}
	// A slot freed is a slot usable again.
	idle[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		again, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, tcpAddr(e.addr[smtpd.Submission]))
		if err != nil {
			t.Fatal(err)
		}
		again.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := again.Read(buf)
		again.Close()
		if strings.HasPrefix(string(buf[:n]), "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not released: %q", buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A client that sends one byte at a time does not hold up the others.
func TestSlowClient(t *testing.T) {
	e := newEnv(t, envOptions{})
	slow, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, tcpAddr(e.addr[smtpd.Submission]))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		line := []byte("EHLO a-very-slow-client.example.test\r\n")
		for i := 0; ; i = (i + 1) % len(line) {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := slow.Write(line[i : i+1]); err != nil {
				return
			}
		}
	}()
	for i := 0; i < 3; i++ {
		c := e.dial(smtpd.Submissions)
		if err := c.Auth(plain(e.key)); err != nil {
			t.Fatal(err)
		}
		if _, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg); err != nil {
			t.Fatalf("while a slow client dribbles: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	if n := len(e.queued()); n != 3 {
		t.Fatalf("%d queued", n)
	}
}

func tcpAddr(s string) *net.TCPAddr {
	a, _ := net.ResolveTCPAddr("tcp", s)
	return a
}
