package smtpd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
)

// feedbackReport is an ARF report (RFC 5965) about a message whose
// Return-Path was returnPath.
func feedbackReport(typ, returnPath string) string {
	return "From: staff@fbl.isp.test\r\nTo: fbl@postern.test\r\nSubject: complaint\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=\"arf\"\r\n\r\n" +
		"--arf\r\nContent-Type: text/plain\r\n\r\nA user marked this message as spam.\r\n" +
		"--arf\r\nContent-Type: message/feedback-report\r\n\r\n" +
		"Feedback-Type: " + typ + "\r\nUser-Agent: ISP-FBL/2.0\r\nVersion: 1\r\nReporting-MTA: dns; fbl.isp.test\r\n\r\n" +
		"--arf\r\nContent-Type: message/rfc822\r\n\r\n" +
		"Return-Path: <" + returnPath + ">\r\nFrom: app@acme.test\r\nSubject: Deals\r\n\r\nBuy now.\r\n" +
		"--arf--\r\n"
}

// mxSend sends msg on the MX port with MAIL FROM:<> to rcpts, each of
// which must be accepted, and returns the final reply.
func mxSend(t *testing.T, e *env, rcpts []string, msg string) string {
	t.Helper()
	c, err := smtp.Dial(e.addr[smtpd.MX])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("fbl.isp.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg))
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatalf("DATA: %v", err)
	}
	return resp.StatusText
}

// TestMXFeedbackReports: a spam complaint (ARF) to a return path, or to
// the configured feedback address naming the return path in the message
// it encloses, puts the recipient on the sender's spam-report list and
// leaves it delivered; other addresses near the feedback address are
// relaying, and what the feedback address gets that names nothing of
// ours is accepted and recorded nowhere.
func TestMXFeedbackReports(t *testing.T) {
	e := newEnv(t, envOptions{bounces: true, feedback: "fbl@postern.test"})
	ctx := context.Background()
	acme, _ := e.store.UserByName(ctx, "acme")
	const id = "0g2r4t6v8a0c2e4g6i8k0m2o4q"
	if err := e.store.EnqueueBatch(ctx, []store.NewMessage{{ID: id, UserID: acme.ID, From: "app@acme.test",
		Recipients: []string{"alice@far.test", "bob@far.test"}, Body: []byte(testMsg), CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordAttempt(ctx, store.Attempt{MessageID: id, At: time.Now(), Updates: []store.RecipientUpdate{
		{Idx: 0, State: store.RcptDelivered}, {Idx: 1, State: store.RcptDelivered}}}); err != nil {
		t.Fatal(err)
	}
	rp := func(idx int) string {
		return testCodec.Address(returnpath.Token{MessageID: id, Idx: idx, Domain: "acme.test", Date: time.Now()})
	}
	events := func() []store.Event {
		evs, err := e.store.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}

	if got := mxSend(t, e, []string{rp(1)}, feedbackReport("abuse", "")); !strings.Contains(got, "1 recipient(s), 0 bounced, 1 spam report(s)") {
		t.Fatalf("to the return path: %q", got)
	}
	if got := mxSend(t, e, []string{"FBL@Postern.Test"}, feedbackReport("abuse", rp(0))); !strings.Contains(got, "1 recipient(s), 0 bounced, 1 spam report(s)") {
		t.Fatalf("to the feedback address: %q", got)
	}
	supp, _ := e.store.Suppressions(ctx, acme.ID)
	if len(supp) != 2 {
		t.Fatalf("suppressions %+v", supp)
	}
	for _, s := range supp {
		if s.Kind != store.SuppressSpamReport || !strings.Contains(s.Reason, "feedback-type abuse") {
			t.Errorf("suppression %+v", s)
		}
	}
	rcpts, _ := e.store.Recipients(ctx, id)
	if rcpts[0].State != store.RcptDelivered || rcpts[1].State != store.RcptDelivered {
		t.Fatalf("recipients %+v", rcpts)
	}
	evs := events()
	spam := map[string]bool{}
	for _, ev := range evs {
		if ev.Type == store.EventSpamReport {
			spam[ev.Recipient] = true
		}
	}
	if !spam["alice@far.test"] || !spam["bob@far.test"] {
		t.Fatalf("events %+v", evs)
	}

	// Accepted and discarded at the feedback address: a report about a
	// message that is not ours, and something that is not a report.
	for _, msg := range []string{feedbackReport("abuse", "bounce@elsewhere.test"), "Subject: hello\r\n\r\nhi\r\n"} {
		if got := mxSend(t, e, []string{"fbl@postern.test"}, msg); !strings.Contains(got, "0 recipient(s)") {
			t.Errorf("discarded: %q", got)
		}
	}
	if n := len(events()); n != len(evs) {
		t.Errorf("%d events recorded for discarded mail", n-len(evs))
	}

	// Only that address: the MX port relays nothing else.
	c := e.dial(smtpd.MX)
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"fbl2@postern.test", "fbl@postern.test.evil.test", "fbl@elsewhere.test", "postmaster@postern.test"} {
		wantCode(t, c.Rcpt(addr, nil), 550, smtp.EnhancedCode{5, 7, 1})
	}
	if n := len(e.queued()); n != 1 {
		t.Fatalf("%d messages queued: a report must not be relayed or stored as mail", n)
	}
}

// Without smtp.feedback_address no address takes feedback reports.
func TestMXNoFeedbackAddress(t *testing.T) {
	e := newEnv(t, envOptions{bounces: true})
	c := e.dial(smtpd.MX)
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("fbl@postern.test", nil), 550, smtp.EnhancedCode{5, 7, 1})
}
