package smtpd_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/spamscan"
)

const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

const exeMsg = "From: app@example.test\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
	"--b1\r\nContent-Type: application/octet-stream; name=\"invoice.exe\"\r\n" +
	"Content-Disposition: attachment; filename=\"invoice.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b1--\r\n"

// The built-in scanner runs on every message: GTUBE and executables are
// refused with 550 5.7.1, nothing is stored; repeated spam suspends the
// user automatically.
func TestSpamScanning(t *testing.T) {
	e := newEnv(t, envOptions{
		scanner: spamscan.Chain{Builtin: spamscan.Builtin{Threshold: 5}},
		abuse:   &abuse.Thresholds{SpamRejections: 2, SpamWindow: time.Hour},
	})
	c := e.dial(smtpd.Submissions)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg); err != nil {
		t.Fatalf("a normal message: %v", err)
	}
	_, err := send(c, "app@example.test", []string{"a@example.test"}, "Subject: test\r\n\r\n"+gtube+"\r\n")
	se := wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(strings.ToLower(se.Message), "gtube") && !strings.Contains(se.Message, "spam") {
		t.Errorf("GTUBE text %q", se.Message)
	}
	_, err = send(c, "app@example.test", []string{"a@example.test"}, exeMsg)
	se = wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(se.Message, ".exe") {
		t.Errorf("executable text %q", se.Message)
	}
	if n := len(e.queued()); n != 1 {
		t.Fatalf("%d queued, want only the normal message", n)
	}
	// Two spam rejections within the hour: the user is suspended.
	u, _ := e.store.UserByName(context.Background(), "acme")
	if !u.Suspended() || !strings.Contains(u.SuspendReason, "refused as spam") {
		t.Fatalf("not suspended after 2 spam rejections: %+v", u)
	}
	c2 := e.dial(smtpd.Submissions)
	wantCode(t, c2.Auth(plain(e.key)), 535, smtp.EnhancedCode{5, 7, 1})
}

// rspamd down (nothing listens on its port) and the policy fails closed:
// a temporary refusal, nothing lost; failing open accepts on the built-in
// verdict.
func TestScannerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	for _, failOpen := range []bool{false, true} {
		e := newEnv(t, envOptions{scanner: spamscan.Chain{Builtin: spamscan.Builtin{Threshold: 5},
			Rspamd: &spamscan.Rspamd{URL: down, Timeout: 2 * time.Second}, FailOpen: failOpen}})
		c := e.dial(smtpd.Submissions)
		if err := c.Auth(plain(e.key)); err != nil {
			t.Fatal(err)
		}
		_, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg)
		if failOpen {
			if err != nil {
				t.Fatalf("fail open: %v", err)
			}
			continue
		}
		wantCode(t, err, 451, smtp.EnhancedCode{4, 7, 1})
		e.wantQueueEmpty()
	}
}

// A user's own spam threshold makes the scanner stricter for that user.
func TestPerUserSpamThreshold(t *testing.T) {
	e := newEnv(t, envOptions{scanner: spamscan.Chain{Builtin: spamscan.Builtin{Threshold: 5}}})
	noSubject := "From: app@example.test\r\nTo: a@example.test\r\n\r\nhello\r\n" // MISSING_SUBJECT scores 2
	c := e.dial(smtpd.Submissions)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, noSubject); err != nil {
		t.Fatalf("under the default threshold: %v", err)
	}
	if err := e.store.SetSpamThreshold(context.Background(), "acme", 1.5); err != nil {
		t.Fatal(err)
	}
	c2 := e.dial(smtpd.Submissions)
	if err := c2.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	_, err := send(c2, "app@example.test", []string{"a@example.test"}, noSubject)
	se := wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(se.Message, "threshold 1.5") {
		t.Errorf("text %q", se.Message)
	}
}
