package dsn

import (
	"errors"
	"github.com/postern/postern/internal/mimereport"
	"strings"
	"testing"
	"unicode/utf8"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/ and run with every
// go test.

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		p, err := Parse(msg)
		if err != nil {
			if p != nil {
				t.Fatal("a Parsed with an error")
			}
			if !errors.Is(err, ErrNotReport) && !errors.Is(err, ErrNoDeliveryStatus) &&
				!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps none of the package's errors", err)
			}
			return
		}
		if n := len(p.Recipients); n < 1 || n > MaxRecipients {
			t.Fatalf("%d recipients", n)
		}
		if len(p.OriginalHeaders) > MaxPartSize {
			t.Fatalf("%d octets of headers", len(p.OriginalHeaders))
		}
		checkClean(t, "ReportingMTA", p.ReportingMTA)
		checkClean(t, "QueueID", p.QueueID)
		for _, rc := range p.Recipients {
			if !rc.Action.valid() || !validStatus(rc.Status) {
				t.Fatalf("action %q, status %v", rc.Action, rc.Status)
			}
			checkClean(t, "FinalRecipient", rc.FinalRecipient)
			checkClean(t, "OriginalRecipient", rc.OriginalRecipient)
			checkClean(t, "RemoteMTA", rc.RemoteMTA)
			checkClean(t, "Diagnostic", rc.Diagnostic)
		}
	})
}

// checkClean checks the promise of ParsedRecipient's strings.
func checkClean(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.IndexFunc(s, mimereport.IsControl) >= 0 || s != mimereport.TrimWSP(s) {
		t.Fatalf("%s %q is not clean", what, s)
	}
}

// FuzzBuild: whatever addresses, diagnostics, remote names and original
// headers come in, Build either refuses the report for a documented reason
// or returns a well-formed DSN, with no field of its own added, that Parse
// reads back.
func FuzzBuild(f *testing.F) {
	f.Fuzz(func(t *testing.T, sender, addr, orcpt, diag, remote string, action uint8, class, subject, detail uint16, original []byte) {
		actions := []Action{Failed, Delayed, Delivered, Relayed, Expanded, "bogus", ""}
		r := Report{
			ReportingMTA: "mail.example.com",
			QueueID:      "01JNQ7",
			ArrivalDate:  testNow,
			Sender:       sender,
			Recipients: []Recipient{{
				Address:           addr,
				OriginalRecipient: orcpt,
				Action:            actions[int(action)%len(actions)],
				Status:            [3]int{int(class), int(subject), int(detail)},
				RemoteMTA:         remote,
				Diagnostic:        diag,
				LastAttempt:       testNow,
				WillRetryUntil:    testNow,
			}, {
				Address:    "second@example.org",
				Action:     Failed,
				Status:     [3]int{5, 1, 1},
				RemoteMTA:  remote,
				Diagnostic: diag,
			}},
			Original: original,
			Now:      testNow,
			Rand:     zeroRand{}, // the boundary is known: content may hold it
		}
		out, err := Build(r)
		if err != nil {
			if !errors.Is(err, ErrNullSender) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Build: %v", err)
			}
			rc := r.Recipients[0]
			st := rc.Status
			if validMailbox(sender) && checkAddress(addr) == "" &&
				(orcpt == "" || checkAddress(orcpt) == "") && rc.Action.valid() &&
				(st == [3]int{} || validStatus(st)) {
				t.Fatalf("Build refused a valid report: %v", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error text %q", err)
			}
			return
		}
		_, parts := checkWellFormed(t, out)
		if n := len(statusGroups(t, parts[1].body)); n != 3 {
			t.Fatalf("%d delivery-status groups, want 3", n)
		}
		p, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse refused what Build made: %v\n%q", err, out)
		}
		checkRoundTrip(t, r, p)
	})
}
