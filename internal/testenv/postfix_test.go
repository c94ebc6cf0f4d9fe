package testenv

import (
	"bytes"
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// TestPostfixAsyncBounce: Postfix accepts both recipients, delivers one and
// bounces the other after the fact, with a DSN to the envelope sender's
// domain, which it relays to a sink.
func TestPostfixAsyncBounce(t *testing.T) {
	sink := StartSink(t, SinkOptions{})
	p := StartPostfixWith(t, PostfixOptions{
		Domains: []string{"rcpt.test"},
		Gone:    []string{"gone@rcpt.test"},
		Relay:   map[string]string{"bounces.sender.test": sink.Addr},
	})
	start := time.Now()
	defer func() {
		if t.Failed() {
			t.Logf("postfix log:\n%s", p.Log())
		}
	}()

	c, err := smtp.Dial(p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("x@bounces.sender.test"); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	// net/smtp's Rcpt fails unless the reply is 25x.
	for _, rcpt := range []string{"gone@rcpt.test", "ok@rcpt.test"} {
		if err := c.Rcpt(rcpt); err != nil {
			t.Fatalf("RCPT %s: %v", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: x@bounces.sender.test\r\nTo: gone@rcpt.test, ok@rcpt.test\r\n" +
		"Subject: async bounce\r\nMessage-ID: <async-bounce@sender.test>\r\n\r\nhello\r\n"
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("end of DATA: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	// Generous deadline, polled: nothing here is timed.
	deadline := time.Now().Add(60 * time.Second)
	var delivered, bounced bool
	var bounce SinkMessage
	for time.Now().Before(deadline) && !(delivered && bounced) {
		if !delivered {
			msgs, err := p.Messages()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if bytes.Contains(m, []byte("Subject: async bounce")) {
					delivered = true
				}
			}
		}
		if !bounced {
			for _, m := range sink.Messages() {
				if m.From == "" {
					bounce, bounced = m, true
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("delivered=%v bounced=%v after %v", delivered, bounced, time.Since(start).Round(time.Millisecond))
	if !delivered {
		t.Error("ok@rcpt.test: nothing in the Maildir")
	}
	if !bounced {
		t.Fatalf("no bounce with MAIL FROM:<> reached the sink; sink got %d messages", len(sink.Messages()))
	}
	if len(bounce.To) != 1 || bounce.To[0] != "x@bounces.sender.test" {
		t.Errorf("bounce sent to %v, want [x@bounces.sender.test]", bounce.To)
	}
	body := string(bounce.Body)
	for _, want := range []string{
		"Content-Type: multipart/report",
		"report-type=delivery-status",
		"Final-Recipient: rfc822; gone@rcpt.test",
		"Action: failed",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("bounce lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Final-Recipient: rfc822; ok@rcpt.test") {
		t.Errorf("bounce reports ok@rcpt.test too:\n%s", body)
	}
}
