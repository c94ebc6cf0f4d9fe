package bounce_test

import (
	"context"
	"fmt"
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

// TestFinding11ReturnPathEventsBounded: mail to return paths records one
// event per distinct recipient, at most bounce.MaxTargets per received
// message, and no stored text is longer than bounce.MaxText or carries
// control characters, whatever the sender put in it.
func TestFinding11ReturnPathEventsBounded(t *testing.T) {
	ctx := context.Background()
	events := func(t *testing.T, st store.Store, id string) []store.Event {
		t.Helper()
		evs, err := st.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}

	t.Run("50 RCPTs of one return path", func(t *testing.T) {
		f := newFixture(t)
		var targets []bounce.Target
		for i := range 50 {
			addr := f.rp(0)
			if i%2 == 1 {
				addr = strings.ToUpper(addr) // some MTAs change the case
			}
			tg, err := f.svc.Recipient(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			targets = append(targets, tg)
		}
		for _, msg := range [][]byte{
			report(t, dsn.Recipient{Address: "gone@far.test", Action: dsn.Failed, Status: [3]int{5, 1, 1}}),
			[]byte("From: boss@far.test\r\nSubject: Out of office\r\n\r\nI am away.\r\n"),
		} {
			before := len(events(t, f.st, f.msgID))
			outs, err := f.svc.Receive(ctx, targets, "boss@far.test", msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != 1 {
				t.Errorf("%d outcomes for 50 RCPTs of one return path, want 1", len(outs))
			}
			if n := len(events(t, f.st, f.msgID)) - before; n != 1 {
				t.Errorf("%d events for 50 RCPTs of one return path, want 1", n)
			}
		}
	})

	t.Run("1000 distinct return paths", func(t *testing.T) {
		f := newFixture(t)
		const id = "1g2r4t6v8a0c2e4g6i8k0m2o4q"
		rcpts := make([]string, 1000)
		for i := range rcpts {
			rcpts[i] = fmt.Sprintf("r%d@far.test", i)
		}
		if err := f.st.EnqueueBatch(ctx, []store.NewMessage{{ID: id, UserID: f.shop.ID, From: "app@shop.test",
			Recipients: rcpts, Body: []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: f.now}}); err != nil {
			t.Fatal(err)
		}
		// The first and the last through Recipient; the rest as it
		// would make them (it loads the message each time).
		for _, i := range []int{0, len(rcpts) - 1} {
			if tg, err := f.svc.Recipient(ctx, f.rpOf(id, i)); err != nil || tg.Recipient != rcpts[i] {
				t.Fatalf("Recipient %d: %+v, %v", i, tg, err)
			}
		}
		var targets []bounce.Target
		for i := range rcpts {
			targets = append(targets, bounce.Target{Token: returnpathToken(id, i, f.now), UserID: f.shop.ID,
				UserName: f.shop.Name, Recipient: rcpts[i]})
		}
		before := len(events(t, f.st, id))
		outs, err := f.svc.Receive(ctx, targets, "x@far.test", []byte("Subject: hello\r\n\r\nhi\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(events(t, f.st, id)) - before; n > bounce.MaxTargets || len(outs) > bounce.MaxTargets {
			t.Errorf("%d events, %d outcomes for one received message, want at most %d", n, len(outs), bounce.MaxTargets)
		}
		if len(outs) != bounce.MaxTargets || outs[0].Target.Idx != 0 || outs[len(outs)-1].Target.Idx != bounce.MaxTargets-1 {
			t.Errorf("kept %d targets, want the first %d", len(outs), bounce.MaxTargets)
		}
	})

	t.Run("100 KB of diagnostic text", func(t *testing.T) {
		f := newFixture(t)
		tg, err := f.svc.Recipient(ctx, f.rp(0))
		if err != nil {
			t.Fatal(err)
		}
		// Folded lines, a right-to-left override and DEL in the
		// diagnostic; an escape sequence in the Reporting-MTA and in the
		// envelope sender.
		diag := "550 5.1.1 " + strings.Repeat("no such user \u202e\x7f\r\n ", 100<<10/16)
		msg := rawReport("mx.far.test\x1b[31m"+strings.Repeat("m", 2000), "gone@far.test", diag)
		from := "evil\x1b[2J" + strings.Repeat("e", 3000) + "@far.test"
		if _, err := f.svc.Receive(ctx, []bounce.Target{tg}, from, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Receive(ctx, []bounce.Target{tg}, from, []byte("Subject: not a report\r\n\r\nhi\r\n")); err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, e := range events(t, f.st, f.msgID) {
			texts = append(texts, e.Detail)
		}
		rcpts, _ := f.st.Recipients(ctx, f.msgID)
		for _, r := range rcpts {
			texts = append(texts, r.LastResult)
		}
		supp, _ := f.st.Suppressions(ctx, f.shop.ID)
		if len(supp) != 1 {
			t.Fatalf("suppressions %+v", supp)
		}
		texts = append(texts, supp[0].Reason)
		if rcpts[0].State != store.RcptBounced || !strings.Contains(rcpts[0].LastResult, "5.1.1") {
			t.Errorf("the bounce itself was lost: %+v", rcpts[0])
		}
		for _, s := range texts {
			if len(s) > bounce.MaxText {
				t.Errorf("stored text of %d octets, want at most %d: %.80q…", len(s), bounce.MaxText, s)
			}
			if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) {
				t.Errorf("stored text with control characters: %.200q", s)
			}
		}
	})
}

func (f *fixture) rpOf(id string, idx int) string {
	return codec.Address(returnpathToken(id, idx, f.now))
}

// rawReport is a DSN written by hand, so that its fields can hold what
// dsn.Build would not write.
func rawReport(reportingMTA, rcpt, diagnostic string) []byte {
	return []byte("From: MAILER-DAEMON@far.test\r\n" +
		"To: b@pst-bounces.shop.test\r\n" +
		"Subject: Undelivered Mail\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; " + reportingMTA + "\r\n\r\n" +
		"Final-Recipient: rfc822; " + rcpt + "\r\n" +
		"Action: failed\r\n" +
		"Status: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; " + diagnostic + "\r\n" +
		"--B--\r\n")
}

func returnpathToken(id string, idx int, date time.Time) returnpath.Token {
	return returnpath.Token{MessageID: id, Idx: idx, Domain: "shop.test", Date: date}
}
