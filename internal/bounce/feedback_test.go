package bounce_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/store"
)

// arfReport is a feedback report (RFC 5965) of type typ from
// mail.isp.test, about a message whose header section is returnPath's
// Return-Path (none when "") and a Subject; mailFrom, when set, is its
// Original-Mail-From, rcptTo its Original-Rcpt-To.
func arfReport(typ, mailFrom, rcptTo, returnPath string) []byte {
	var fields, hdr strings.Builder
	fields.WriteString("Feedback-Type: " + typ + "\r\nUser-Agent: ISP-FBL/1.0\r\nVersion: 1\r\nReporting-MTA: dns; mail.isp.test\r\n")
	if mailFrom != "" {
		fields.WriteString("Original-Mail-From: <" + mailFrom + ">\r\n")
	}
	if rcptTo != "" {
		fields.WriteString("Original-Rcpt-To: <" + rcptTo + ">\r\n")
	}
	if returnPath != "" {
		hdr.WriteString("Return-Path: <" + returnPath + ">\r\n")
	}
	hdr.WriteString("From: app@shop.test\r\nSubject: Weekly deals\r\nMessage-ID: <deals@shop.test>\r\n")
	return []byte("From: fbl@isp.test\r\nTo: x@y.test\r\nSubject: FW: Weekly deals\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=\"fb\"\r\n\r\n" +
		"--fb\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n" +
		"--fb\r\nContent-Type: message/feedback-report\r\n\r\n" + fields.String() + "\r\n" +
		"--fb\r\nContent-Type: message/rfc822\r\n\r\n" + hdr.String() + "\r\nBuy now!\r\n" +
		"--fb--\r\n")
}

// deliver marks every recipient of the fixture's message delivered, as
// the delivery worker would.
func (f *fixture) deliver(t *testing.T) {
	t.Helper()
	a := store.Attempt{MessageID: f.msgID, At: f.now}
	for i := range 3 {
		a.Updates = append(a.Updates, store.RecipientUpdate{Idx: i, State: store.RcptDelivered, Result: "250 ok"})
	}
	if err := f.st.RecordAttempt(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) target(t *testing.T, addr string) bounce.Target {
	t.Helper()
	tg, err := f.svc.Recipient(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func (f *fixture) events(t *testing.T) []store.Event {
	t.Helper()
	evs, err := f.st.Events(context.Background(), f.msgID)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestReceiveSpamReport: a complaint to a return path records a
// spamreport event and puts the recipient on the sending user's
// spam-report list, and only there; the recipient stays delivered; the
// suppression keeps later mail from the user from going to the address.
func TestReceiveSpamReport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.deliver(t)
	outs, err := f.svc.Receive(ctx, []bounce.Target{f.target(t, f.rp(1))}, "",
		arfReport("abuse", f.rp(1), "full@far.test", f.rp(1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || !outs[0].SpamReport || outs[0].Bounced || outs[0].Suppressed || outs[0].Target.Recipient != "full@far.test" {
		t.Fatalf("outcomes %+v", outs)
	}
	const detail = "spam report (feedback-type abuse) from mail.isp.test (ISP-FBL/1.0)"
	evs := f.events(t)
	last := evs[len(evs)-1]
	if last.Type != store.EventSpamReport || last.Recipient != "full@far.test" || last.Detail != detail {
		t.Fatalf("last event %+v", last)
	}
	supp, _ := f.st.Suppressions(ctx, f.shop.ID)
	if len(supp) != 1 || supp[0].Address != "full@far.test" || supp[0].Kind != store.SuppressSpamReport || supp[0].Reason != detail {
		t.Fatalf("suppressions %+v", supp)
	}
	for _, u := range []store.User{f.acme, f.news} {
		if s, _ := f.st.Suppressions(ctx, u.ID); len(s) != 0 {
			t.Errorf("%s's suppressions %+v", u.Name, s)
		}
	}
	rcpts, _ := f.st.Recipients(ctx, f.msgID)
	for _, r := range rcpts {
		if r.State != store.RcptDelivered {
			t.Errorf("recipient %s is %s after a spam report, want delivered", r.Address, r.State)
		}
	}
	// The delivery worker drops whatever its Suppressed lookup returns:
	// the spam-report entry is returned for the user, not for another.
	if s, err := f.st.Suppressed(ctx, f.shop.ID, []string{"Full@far.test", "ok@far.test"}); err != nil ||
		s["Full@far.test"].Kind != store.SuppressSpamReport || len(s) != 1 {
		t.Fatalf("Suppressed = %+v, %v", s, err)
	}
	if s, _ := f.st.Suppressed(ctx, f.news.ID, []string{"full@far.test"}); len(s) != 0 {
		t.Fatalf("suppressed for another user: %+v", s)
	}

	// Sent again (the client retried): one more event, the same single
	// suppression.
	if _, err := f.svc.Receive(ctx, []bounce.Target{f.target(t, f.rp(1))}, "", arfReport("abuse", "", "", "")); err != nil {
		t.Fatal(err)
	}
	if supp, _ := f.st.Suppressions(ctx, f.shop.ID); len(supp) != 1 {
		t.Fatalf("suppressions after a repeat %+v", supp)
	}
	if n := len(f.events(t)); n != len(evs)+1 {
		t.Fatalf("%d events after a repeat, want %d", n, len(evs)+1)
	}
}

// The return path names the recipient: a report that names another
// address, or none (RFC 6590 redaction), still counts for it. A bounce
// to the same address later is a second entry, of kind bounce.
func TestReceiveSpamReportNamesAnother(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	outs, err := f.svc.Receive(ctx, []bounce.Target{f.target(t, f.rp(0))}, "fbl@isp.test",
		arfReport("fraud", "someone@else.test", "redacted@isp.test", "bounce@else.test"))
	if err != nil || len(outs) != 1 || !outs[0].SpamReport || outs[0].Target.Recipient != "gone@far.test" {
		t.Fatalf("Receive = %+v, %v", outs, err)
	}
	if _, err := f.svc.Receive(ctx, []bounce.Target{f.target(t, f.rp(0))}, "", report(t,
		dsn.Recipient{Address: "gone@far.test", Action: dsn.Failed, Status: [3]int{5, 1, 1}})); err != nil {
		t.Fatal(err)
	}
	supp, _ := f.st.Suppressions(ctx, f.shop.ID)
	kinds := map[store.SuppressionKind]bool{}
	for _, s := range supp {
		if s.Address != "gone@far.test" {
			t.Errorf("suppressed %s", s.Address)
		}
		kinds[s.Kind] = true
	}
	if len(supp) != 2 || !kinds[store.SuppressSpamReport] || !kinds[store.SuppressBounce] {
		t.Fatalf("suppressions %+v", supp)
	}
}

// not-spam (RFC 6430) and auth-failure (RFC 6591) are no complaints: an
// inbound event, no suppression.
func TestReceiveFeedbackNotComplaint(t *testing.T) {
	for _, typ := range []string{"not-spam", "auth-failure"} {
		t.Run(typ, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			outs, err := f.svc.Receive(ctx, []bounce.Target{f.target(t, f.rp(2))}, "", arfReport(typ, "", "", f.rp(2)))
			if err != nil || len(outs) != 1 || outs[0].SpamReport || outs[0].Bounced {
				t.Fatalf("Receive = %+v, %v", outs, err)
			}
			evs := f.events(t)
			last := evs[len(evs)-1]
			if last.Type != store.EventInbound || last.Recipient != "ok@far.test" || !strings.Contains(last.Detail, "feedback-type "+typ) ||
				!strings.Contains(last.Detail, "not a complaint") {
				t.Fatalf("last event %+v", last)
			}
			if s, _ := f.st.Suppressions(ctx, f.shop.ID); len(s) != 0 {
				t.Fatalf("suppressions %+v", s)
			}
		})
	}
}

// TestFeedbackAddress: a feedback loop's report to the configured
// address counts for the recipient its enclosed message's return path
// names; anything else there is discarded with a log line and records
// nothing.
func TestFeedbackAddress(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var logs bytes.Buffer
	f.svc.FeedbackAddress = "fbl@mail.example.com"
	f.svc.Log = slog.New(slog.NewTextHandler(&logs, nil))
	fbt, err := f.svc.Recipient(ctx, "FBL@Mail.Example.COM")
	if err != nil || !fbt.Feedback || fbt.MessageID != "" || fbt.Recipient != "" {
		t.Fatalf("Recipient(feedback address) = %+v, %v", fbt, err)
	}
	if _, err := f.svc.Recipient(ctx, "fbl2@mail.example.com"); err == nil {
		t.Fatal("another address at the feedback address's domain was accepted")
	}
	f.deliver(t)
	before := len(f.events(t))
	expired := codec.Address(returnpath.Token{MessageID: f.msgID, Idx: 0, Domain: "shop.test", Date: f.now.Add(-31 * 24 * time.Hour)})
	forged := strings.Replace(f.rp(0), "-0-", "-1-", 1)
	unknown := codec.Address(returnpath.Token{MessageID: "1g2r4t6v8a0c2e4g6i8k0m2o4q", Idx: 0, Domain: "shop.test", Date: f.now})
	for _, tc := range []struct {
		name string
		msg  []byte
	}{
		{"names no return path", arfReport("abuse", "app@shop.test", "gone@far.test", "app@shop.test")},
		{"an expired return path", arfReport("abuse", "", "", expired)},
		{"a forged return path", arfReport("abuse", forged, "", forged)},
		{"a message not known", arfReport("abuse", "", "", unknown)},
		{"the feedback address itself", arfReport("abuse", "fbl@mail.example.com", "", "FBL@mail.example.com")},
		{"a bounce", report(t, dsn.Recipient{Address: "gone@far.test", Action: dsn.Failed, Status: [3]int{5, 1, 1}})},
		{"a plain message", []byte("From: someone@far.test\r\nSubject: " + f.rp(0) + "\r\n\r\nReturn-Path: <" + f.rp(0) + ">\r\n")},
	} {
		outs, err := f.svc.Receive(ctx, []bounce.Target{fbt}, "fbl@isp.test", tc.msg)
		if err != nil || len(outs) != 0 {
			t.Errorf("%s: Receive = %+v, %v", tc.name, outs, err)
		}
	}
	if n := len(f.events(t)); n != before {
		t.Fatalf("%d events recorded for what was discarded", n-before)
	}
	if s, _ := f.st.Suppressions(ctx, f.shop.ID); len(s) != 0 {
		t.Fatalf("suppressions %+v", s)
	}
	if got := logs.String(); strings.Count(got, "for no message of this server, discarded") != 5 ||
		strings.Count(got, "not a feedback report, discarded") != 2 {
		t.Errorf("log:\n%s", got)
	}

	// Found by the Return-Path field, by Original-Mail-From when there
	// is none, and the first candidate that is a return path wins.
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"Return-Path", arfReport("abuse", "", "", f.rp(2)), "ok@far.test"},
		{"Original-Mail-From", arfReport("abuse", f.rp(1), "", ""), "full@far.test"},
		{"the Return-Path first", arfReport("abuse", f.rp(1), "", f.rp(0)), "gone@far.test"},
		{"past a forged one", arfReport("abuse", f.rp(1), "", forged), "full@far.test"},
	} {
		outs, err := f.svc.Receive(ctx, []bounce.Target{fbt, fbt}, "fbl@isp.test", tc.msg)
		if err != nil || len(outs) != 1 || !outs[0].SpamReport || outs[0].Target.Recipient != tc.want || outs[0].Target.UserID != f.shop.ID {
			t.Errorf("%s: Receive = %+v, %v", tc.name, outs, err)
		}
	}
	supp, _ := f.st.Suppressions(ctx, f.shop.ID)
	if len(supp) != 3 {
		t.Fatalf("suppressions %+v", supp)
	}
	for _, s := range supp {
		if s.Kind != store.SuppressSpamReport {
			t.Errorf("suppression %+v", s)
		}
	}
	rcpts, _ := f.st.Recipients(ctx, f.msgID)
	for _, r := range rcpts {
		if r.State != store.RcptDelivered {
			t.Errorf("recipient %s is %s", r.Address, r.State)
		}
	}

	// Sent to the feedback address and to the return path it names at
	// once: one outcome.
	outs, err := f.svc.Receive(ctx, []bounce.Target{f.target(t, f.rp(2)), fbt}, "", arfReport("abuse", "", "", f.rp(2)))
	if err != nil || len(outs) != 1 {
		t.Fatalf("both: %+v, %v", outs, err)
	}
}

// Without a feedback address configured, the address is relaying.
func TestNoFeedbackAddress(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.Recipient(context.Background(), "fbl@mail.example.com"); err != bounce.ErrNotReturnPath {
		t.Fatalf("Recipient = %v", err)
	}
	if _, err := f.svc.Recipient(context.Background(), ""); err != bounce.ErrNotReturnPath {
		t.Fatalf("Recipient(\"\") = %v", err)
	}
}

// What a feedback report makes Receive store is bounded and clean like
// the rest: a User-Agent of 4 KB with a right-to-left override and an
// escape sequence, a Reporting-MTA that is as long as it may be.
func TestFeedbackTextBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	msg := arfReport("abuse", "", "", f.rp(0))
	msg = bytes.Replace(msg, []byte("User-Agent: ISP-FBL/1.0"),
		[]byte("User-Agent: evil\u202e\x1b[2J"+strings.Repeat("u", 4000)), 1)
	msg = bytes.Replace(msg, []byte("Reporting-MTA: dns; mail.isp.test"), []byte("Reporting-MTA: dns; "+strings.Repeat("m", 255)), 1)
	outs, err := f.svc.Receive(ctx, []bounce.Target{f.target(t, f.rp(0))}, "", msg)
	if err != nil || len(outs) != 1 || !outs[0].SpamReport {
		t.Fatalf("Receive = %+v, %v", outs, err)
	}
	evs := f.events(t)
	supp, _ := f.st.Suppressions(ctx, f.shop.ID)
	if len(supp) != 1 {
		t.Fatalf("suppressions %+v", supp)
	}
	for _, s := range []string{evs[len(evs)-1].Detail, supp[0].Reason, outs[0].Detail} {
		if len(s) > bounce.MaxText || !strings.HasPrefix(s, "spam report (feedback-type abuse) from mmm") {
			t.Errorf("stored text of %d octets: %.80q…", len(s), s)
		}
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) {
			t.Errorf("stored text with control characters: %.300q", s)
		}
	}
}
