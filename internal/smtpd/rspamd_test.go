package smtpd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/testenv"
)

// TestRspamdEndToEnd: Postern with a real rspamd (started on loopback)
// as its only scanner: rspamd rejects GTUBE through Postern's SMTP reply,
// and a normal message passes into the queue.
func TestRspamdEndToEnd(t *testing.T) {
	url := testenv.StartRspamd(t)
	e := newEnv(t, envOptions{scanner: &spamscan.Rspamd{URL: url, Timeout: 20 * time.Second}})
	c := e.dial(smtpd.Submissions)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	_, err := send(c, "app@example.test", []string{"a@example.test"}, "From: app@example.test\r\nSubject: test\r\n\r\n"+gtube+"\r\n")
	se := wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	if strings.Contains(se.Message, "127.0.0.1") {
		t.Errorf("reply leaks scanner detail: %q", se.Message)
	}
	e.wantQueueEmpty()
	normal := "From: app@example.test\r\nTo: a@example.test\r\nSubject: Your order 1234 has shipped\r\n" +
		"Message-ID: <order-1234@example.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n" +
		"Hello,\r\n\r\nyour order 1234 left our warehouse today and should arrive on Thursday.\r\n\r\nThe shop\r\n"
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, normal); err != nil {
		t.Fatalf("a normal message through rspamd: %v", err)
	}
	if n := len(e.queued()); n != 1 {
		t.Fatalf("%d queued", n)
	}
	if !strings.Contains(e.logs.String(), "reason=spam") {
		t.Error("the GTUBE refusal is not logged")
	}
}
