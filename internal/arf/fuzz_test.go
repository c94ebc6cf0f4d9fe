package arf

import (
	"errors"
	"github.com/postern/postern/internal/mimereport"
	"strings"
	"testing"
	"unicode/utf8"
)

// The seed corpus is in testdata/fuzz/FuzzParse/ and runs with every go
// test: the reports of testdata/ (LF and CRLF), the refusals of
// TestParseRefusals' kinds, and reports cut short.

// FuzzParse: whatever comes in, Parse either refuses it with one of the
// package's errors, quoting nothing, or returns a Report that keeps every
// promise of its documentation and limits.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := Parse(msg)
		if err != nil {
			if r != nil {
				t.Fatal("a Report with an error")
			}
			if !errors.Is(err, ErrNotReport) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps none of the package's errors", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error text %q", err)
			}
			return
		}
		if !isToken(string(r.FeedbackType)) || string(r.FeedbackType) != strings.ToLower(string(r.FeedbackType)) {
			t.Fatalf("FeedbackType %q", r.FeedbackType)
		}
		if r.UserAgent == "" || !isVersion(r.Version) {
			t.Fatalf("UserAgent %q, Version %q", r.UserAgent, r.Version)
		}
		for _, s := range []string{r.UserAgent, r.OriginalEnvelopeID, r.OriginalMailFrom, r.ReportingMTA, r.MessageID} {
			checkClean(t, s, MaxFieldLen)
		}
		for _, list := range [][]string{r.OriginalRcptTo, r.AuthenticationResults, r.ReportedDomains, r.ReportedURIs} {
			if len(list) > MaxRepeated {
				t.Fatalf("%d repeated fields", len(list))
			}
			for _, s := range list {
				checkClean(t, s, MaxFieldLen)
			}
		}
		if len(r.OriginalHeader) > MaxOriginalHeader || len(r.ReturnPaths) > MaxReturnPaths {
			t.Fatalf("%d octets of header, %d return paths", len(r.OriginalHeader), len(r.ReturnPaths))
		}
		if r.MessageID != "" && !mimereport.ValidMsgID(r.MessageID) {
			t.Fatalf("MessageID %q", r.MessageID)
		}
		for _, a := range append(append([]string(nil), r.ReturnPaths...), r.OriginalRcptTo...) {
			if a == "" || len(a) > maxAddress || strings.ContainsAny(a, " <>") {
				t.Fatalf("address %q", a)
			}
		}
		for _, a := range r.Senders() {
			if a == "" || len(a) > maxAddress || strings.ContainsAny(a, " <>") {
				t.Fatalf("sender %q", a)
			}
		}
		if r.Incidents < 0 {
			t.Fatalf("Incidents %d", r.Incidents)
		}
	})
}

// checkClean checks the promise of Report's strings.
func checkClean(t *testing.T, s string, limit int) {
	t.Helper()
	if !utf8.ValidString(s) || strings.IndexFunc(s, mimereport.IsControl) >= 0 || s != mimereport.TrimWSP(s) || len(s) > limit {
		t.Fatalf("%q is not clean", s)
	}
}
