package submit_test

import (
	"context"
	"testing"

	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/submit"
)

// Regression tests of issue 12's findings 4 and 7, both fixed by the
// header hygiene rule (Drop, hygiene.go) of commit a7709eb, "One
// submission funnel". Before it, message.Prepare only prepended
// Postern's fields: a client's X-Originating-IP, Authentication-Results
// and X-Spam-* fields went on, beside Postern's or alone.

// committed runs body through the funnel and returns the stored message's
// header.
func (fx *fixture) committed(t *testing.T, body string) message.Header {
	t.Helper()
	rc, err := fx.send(t, "app@example.test", []string{"user@example.test"}, body, submit.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := fx.st.MessageBody(context.Background(), rc.ID)
	if err != nil {
		t.Fatal(err)
	}
	h, err := message.ParseHeader(stored)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestFinding4ForgedOriginatingIPRemoved (issue 12, finding 4): a
// client's X-Originating-IP, in any case and however often, never leaves:
// the message carries exactly one, Postern's, with the client's real
// address; none at all when the user opted out (user set NAME
// --originating-ip off, store.User.HideOriginatingIP).
func TestFinding4ForgedOriginatingIPRemoved(t *testing.T) {
	forged := "X-Originating-IP: [6.6.6.6]\r\n" +
		"x-originating-ip: [6.6.6.7]\r\n" +
		"X-ORIGINATING-IP:\r\n [6.6.6.8]\r\n" +
		"From: app@example.test\r\nTo: user@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"
	for _, optedOut := range []bool{false, true} {
		fx := newFixture(t, nil)
		if optedOut {
			if err := fx.st.SetHideOriginatingIP(context.Background(), "acme", true); err != nil {
				t.Fatal(err)
			}
		}
		h := fx.committed(t, forged)
		got := h.Values("X-Originating-IP")
		want := []string{"[" + clientIP.String() + "]"}
		if optedOut {
			want = nil
		}
		if len(got) != len(want) || len(want) == 1 && got[0] != want[0] {
			t.Errorf("opted out=%v: X-Originating-IP %q, want %q", optedOut, got, want)
		}
	}
}

// addHeaders is a scanner whose verdict is add_header, with Postern's
// X-Spam fields.
type addHeaders struct{}

func (addHeaders) Scan(context.Context, spamscan.Envelope, []byte) (spamscan.Verdict, error) {
	return spamscan.Verdict{Action: spamscan.ActionAddHeader, Score: 3.5, Symbols: []string{"HTML_ONLY"},
		Headers: map[string]string{"X-Spam": "Yes", "X-Spam-Score": "3.50", "X-Spam-Status": "Yes, score=3.50 tests=HTML_ONLY"}}, nil
}

// TestFinding7ForgedAuthResultsAndSpamHeaders (issue 12, finding 7): an
// Authentication-Results field in Postern's name (its hostname as the
// authserv-id, RFC 8601 §5, in any case, after a comment, with a
// version) and the spam scanner's fields are gone after Commit; only the
// scanner's own verdict, when it adds headers, is there. What Drop keeps
// stays, as it should: an Authentication-Results of another authserv-id
// (the client's own receiver's, RFC 8601 §5 asks a receiver to remove
// only those claiming to be its own) and the client's Received trace.
func TestFinding7ForgedAuthResultsAndSpamHeaders(t *testing.T) {
	forged := "Received: from laptop.client.test by relay.client.test; Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
		"Received: from app.client.test by laptop.client.test; Mon, 1 Jan 2024 09:59:59 +0000\r\n" +
		"Authentication-Results: mx.postern.test; dkim=pass header.d=bank.test\r\n" +
		"Authentication-Results: MX.Postern.Test 1; spf=pass smtp.mailfrom=bank.test\r\n" +
		"Authentication-Results: (forged) mx.postern.test;dmarc=pass header.from=bank.test\r\n" +
		"Authentication-Results: relay.client.test; spf=pass smtp.mailfrom=example.test\r\n" +
		"X-Spam-Status: No, score=-100.0\r\nX-Spam-Flag: NO\r\nX-Spam-Score: -100\r\nX-Spam: No\r\n" +
		"From: app@example.test\r\nTo: user@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"
	for _, scanner := range []spamscan.Scanner{nil, addHeaders{}} {
		fx := newFixture(t, func(c *submit.Config) {
			if scanner != nil {
				c.Scanner = scanner
			}
		})
		h := fx.committed(t, forged)
		if ar := h.Values("Authentication-Results"); len(ar) != 1 || ar[0] != "relay.client.test; spf=pass smtp.mailfrom=example.test" {
			t.Errorf("Authentication-Results %q, want only relay.client.test's", ar)
		}
		spam := map[string][]string{}
		for _, name := range []string{"X-Spam-Status", "X-Spam-Flag", "X-Spam-Score", "X-Spam"} {
			if vs := h.Values(name); vs != nil {
				spam[name] = vs
			}
		}
		if scanner == nil && len(spam) != 0 {
			t.Errorf("accepted as it is: scanner fields %q survived", spam)
		}
		if scanner != nil && (len(spam) != 3 || len(spam["X-Spam-Status"]) != 1 || spam["X-Spam-Status"][0] != "Yes, score=3.50 tests=HTML_ONLY" ||
			len(spam["X-Spam-Score"]) != 1 || spam["X-Spam-Score"][0] != "3.50") {
			t.Errorf("add_header: scanner fields %q, want only Postern's verdict", spam)
		}
		received := h.Values("Received")
		if len(received) != 3 || received[1] != "from laptop.client.test by relay.client.test; Mon, 1 Jan 2024 10:00:00 +0000" ||
			received[2] != "from app.client.test by laptop.client.test; Mon, 1 Jan 2024 09:59:59 +0000" {
			t.Errorf("Received %q, want Postern's, then the client's two", received)
		}
	}
}
