package smtpd_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
)

// TestMXAcceptsBouncesOnly: the MX port takes a DSN for a return path
// (plaintext, as MTAs often send them, or after STARTTLS) and puts the
// failed recipient on the sender's suppression list; every other
// recipient is relaying (denied), a forged token is an unknown mailbox,
// and the submission port still wants AUTH.
func TestMXAcceptsBouncesOnly(t *testing.T) {
	e := newEnv(t, envOptions{bounces: true})
	ctx := context.Background()
	acme, _ := e.store.UserByName(ctx, "acme")
	const id = "0g2r4t6v8a0c2e4g6i8k0m2o4q"
	if err := e.store.EnqueueBatch(ctx, []store.NewMessage{{ID: id, UserID: acme.ID, From: "app@acme.test",
		Recipients: []string{"kept@far.test", "gone@far.test"}, Body: []byte(testMsg), CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	rp := func(idx int) string {
		return testCodec.Address(returnpath.Token{MessageID: id, Idx: idx, Domain: "acme.test", Date: time.Now()})
	}
	report, err := dsn.Build(dsn.Report{ReportingMTA: "mx.far.test", Sender: rp(1), Now: time.Now(),
		Recipients: []dsn.Recipient{{Address: "gone@far.test", Action: dsn.Failed, Status: [3]int{5, 1, 1}, Diagnostic: "550 5.1.1 unknown user"}}})
	if err != nil {
		t.Fatal(err)
	}

	c, err := smtp.Dial(e.addr[smtpd.MX])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.far.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("", nil); err != nil {
		t.Fatalf("MAIL FROM:<> on the MX port: %v", err)
	}
	wantCode(t, c.Rcpt("victim@elsewhere.test", nil), 550, smtp.EnhancedCode{5, 7, 1})
	wantCode(t, c.Rcpt("postmaster@pst-bounces.acme.test", nil), 550, smtp.EnhancedCode{5, 7, 1})
	forged := strings.Replace(rp(1), "-1-", "-0-", 1)
	se := wantCode(t, c.Rcpt(forged, nil), 550, smtp.EnhancedCode{5, 1, 1})
	if !strings.Contains(se.Message, "return path") {
		t.Errorf("forged token: %q", se.Message)
	}
	if err := c.Rcpt(strings.ToUpper(rp(1)), nil); err != nil {
		t.Fatalf("RCPT to the return path: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(report)
	resp, err := w.CloseWithResponse()
	if err != nil || !strings.Contains(resp.StatusText, "1 bounced") {
		t.Fatalf("DATA: %+v %v", resp, err)
	}
	supp, _ := e.store.Suppressions(ctx, acme.ID)
	if len(supp) != 1 || supp[0].Address != "gone@far.test" {
		t.Fatalf("suppressions %+v", supp)
	}
	rcpts, _ := e.store.Recipients(ctx, id)
	if rcpts[0].State != store.RcptPending || rcpts[1].State != store.RcptBounced {
		t.Fatalf("recipients %+v", rcpts)
	}
	if n := len(e.queued()); n != 1 {
		t.Fatalf("%d messages queued: a bounce must not be relayed or stored as mail", n)
	}

	// Bare LF is refused on this port too (SMTP smuggling).
	r := e.dialRaw(smtpd.MX)
	r.cmd("EHLO mx.far.test", "250")
	r.cmd("MAIL FROM:<>", "250")
	r.cmd("RCPT TO:<"+rp(0)+">", "250")
	r.cmd("DATA", "354")
	r.send("Subject: x\r\n\r\nline\n.\nMAIL FROM:<x@y>\r\n.\r\n")
	r.expect("554 5.6.0")
	if rcpts, _ := e.store.Recipients(ctx, id); rcpts[0].State != store.RcptPending {
		t.Fatalf("a refused message changed a recipient: %+v", rcpts[0])
	}

	// After STARTTLS as well; and never on the submission port.
	tc := e.dial(smtpd.MX)
	if err := tc.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	if err := tc.Rcpt(rp(0), nil); err != nil {
		t.Fatalf("RCPT after STARTTLS: %v", err)
	}
	delayed, _ := dsn.Build(dsn.Report{ReportingMTA: "mx.far.test", Sender: rp(0), Now: time.Now(),
		Recipients: []dsn.Recipient{{Address: "kept@far.test", Action: dsn.Delayed, Status: [3]int{4, 4, 1}}}})
	w, err = tc.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write(delayed)
	if resp, err := w.CloseWithResponse(); err != nil || !strings.Contains(resp.StatusText, "0 bounced") {
		t.Fatalf("DATA after STARTTLS: %+v %v", resp, err)
	}
	if rcpts, _ := e.store.Recipients(ctx, id); rcpts[0].State != store.RcptPending {
		t.Fatalf("a delay report changed the recipient: %+v", rcpts[0])
	}
	evs, _ := e.store.Events(ctx, id)
	if last := evs[len(evs)-1]; last.Type != store.EventDeferred || last.Recipient != "kept@far.test" {
		t.Fatalf("last event %+v", last)
	}
	sc := e.dial(smtpd.Submission)
	wantCode(t, sc.Mail("", nil), 530, smtp.EnhancedCode{5, 7, 0})
}

// Without a bounce service the MX port relays and accepts nothing.
func TestMXWithoutBounces(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(smtpd.MX)
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	addr := testCodec.Address(returnpath.Token{MessageID: "0g2r4t6v8a0c2e4g6i8k0m2o4q", Idx: 0, Domain: "acme.test"})
	wantCode(t, c.Rcpt(addr, nil), 550, smtp.EnhancedCode{5, 7, 1})
}

// AUTH is refused inside a transaction (RFC 4954 §4): on the MX port a
// MAIL needs no key, and an AUTH after it would skip the sender checks.
func TestNoAuthInsideTransaction(t *testing.T) {
	e := newEnv(t, envOptions{bounces: true, identity: true})
	r := e.dialRaw(smtpd.MX)
	r.starttls(e.client)
	r.cmd("EHLO client.test", "250")
	r.cmd("MAIL FROM:<ceo@victim.test>", "250")
	r.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00apikey\x00"+e.key)), "503 5.5.1")
	r.cmd("RCPT TO:<someone@elsewhere.test>", "550 5.7.1")
	r.cmd("RSET", "250")
	r.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00apikey\x00"+e.key)), "235")
	r.cmd("MAIL FROM:<ceo@victim.test>", "550 5.7.1")
	e.wantQueueEmpty()
}
