package sendapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/submit"
)

// allReasons lists every submit.Reason constant; a reason added to
// internal/submit/refusal.go must be added here and to reasons.
var allReasons = []submit.Reason{
	submit.ReasonBadCredentials, submit.ReasonAuthzid, submit.ReasonNoScope, submit.ReasonLockedOut,
	submit.ReasonRevoked, submit.ReasonSuspended, submit.ReasonIPNotAllowed,
	submit.ReasonNullSender, submit.ReasonSenderSyntax, submit.ReasonRecipientSyntax,
	submit.ReasonTooManyRecipients, submit.ReasonUnverified, submit.ReasonOneFrom,
	submit.ReasonRateLimited, submit.ReasonQuotaExceeded,
	submit.ReasonTooBig, submit.ReasonLineEndings, submit.ReasonLineTooLong, submit.ReasonMalformed,
	submit.ReasonBadSMTPAPI, submit.ReasonSpam, submit.ReasonSpamDeferred, submit.ReasonShuttingDown,
	submit.ReasonSendAt,
}

func TestEveryReasonHasARow(t *testing.T) {
	want := map[submit.Reason]int{
		submit.ReasonBadCredentials: 401, submit.ReasonRevoked: 401, submit.ReasonAuthzid: 401,
		submit.ReasonNoScope: 403, submit.ReasonSuspended: 403, submit.ReasonIPNotAllowed: 403, submit.ReasonUnverified: 403,
		submit.ReasonLockedOut: 429, submit.ReasonRateLimited: 429, submit.ReasonQuotaExceeded: 429,
		submit.ReasonTooBig:     413,
		submit.ReasonNullSender: 400, submit.ReasonSenderSyntax: 400, submit.ReasonRecipientSyntax: 400,
		submit.ReasonTooManyRecipients: 400, submit.ReasonOneFrom: 400, submit.ReasonLineEndings: 400,
		submit.ReasonLineTooLong: 400, submit.ReasonMalformed: 400, submit.ReasonBadSMTPAPI: 400, submit.ReasonSendAt: 400,
		submit.ReasonSpam:         403,
		submit.ReasonSpamDeferred: 503, submit.ReasonShuttingDown: 503,
	}
	for _, r := range allReasons {
		rw, ok := reasons[r]
		if !ok {
			t.Errorf("reason %q has no row", r)
			continue
		}
		if rw.status != want[r] {
			t.Errorf("%q: status %d, want %d", r, rw.status, want[r])
		}
	}
	if len(reasons) != len(allReasons) || len(want) != len(allReasons) {
		t.Errorf("%d rows, %d reasons listed, %d expected statuses", len(reasons), len(allReasons), len(want))
	}
}

func TestRefusalRendering(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	later := now.Add(90*time.Second + time.Millisecond)
	for _, tc := range []struct {
		name    string
		ref     submit.Refusal
		where   at
		status  int
		field   string // "" for null
		headers map[string]string
	}{
		{"lockout: retry, no limit count", submit.Refusal{Reason: submit.ReasonLockedOut, Temporary: true, Text: "t", RetryAt: later},
			at{n: -1}, 429, "", map[string]string{"Retry-After": "91", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1800000091", "X-RateLimit-Limit": ""}},
		{"quota without a known end", submit.Refusal{Reason: submit.ReasonQuotaExceeded, Text: "t", Limit: 5000},
			at{n: 0}, 429, "", map[string]string{"Retry-After": "", "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": ""}},
		{"past retry time is 1 s", submit.Refusal{Reason: submit.ReasonRateLimited, Temporary: true, Text: "t", RetryAt: now.Add(-time.Second)},
			at{n: 0}, 429, "", map[string]string{"Retry-After": "1"}},
		{"sender of the request", submit.Refusal{Reason: submit.ReasonSenderSyntax, Text: "t"},
			at{n: 1, multi: true, fromPath: "from.email"}, 400, "from.email", nil},
		{"sender of a personalization", submit.Refusal{Reason: submit.ReasonNullSender, Text: "t"},
			at{n: 1, multi: true, fromPath: "personalizations.1.from.email"}, 400, "personalizations.1.from.email", nil},
		{"recipient", submit.Refusal{Reason: submit.ReasonRecipientSyntax, Text: "t"},
			at{n: 3, fromPath: "from.email"}, 400, "personalizations.3", nil},
		{"single message: no field", submit.Refusal{Reason: submit.ReasonSpam, Text: "t"},
			at{n: 0, fromPath: "from.email"}, 403, "", nil},
		{"several: the personalization", submit.Refusal{Reason: submit.ReasonUnverified, Text: "t"},
			at{n: 2, multi: true, fromPath: "from.email"}, 403, "personalizations.2", nil},
		{"deferred with a time", submit.Refusal{Reason: submit.ReasonShuttingDown, Temporary: true, Text: "t", RetryAt: now.Add(5 * time.Second)},
			at{n: 0}, 503, "", map[string]string{"Retry-After": "5", "X-RateLimit-Remaining": ""}},
		{"deferred without", submit.Refusal{Reason: submit.ReasonSpamDeferred, Temporary: true, Text: "t"},
			at{n: 0}, 503, "", map[string]string{"Retry-After": ""}},
		{"unknown permanent", submit.Refusal{Reason: "new_thing", Text: "t"}, at{n: 0}, 400, "", nil},
		{"unknown temporary", submit.Refusal{Reason: "new_thing", Temporary: true, Text: "t", RetryAt: now.Add(time.Minute)},
			at{n: 0}, 503, "", map[string]string{"Retry-After": "60"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if got := writeRefusal(rec, &tc.ref, tc.where, now); got != tc.status || rec.Code != tc.status {
				t.Fatalf("status %d/%d, want %d", got, rec.Code, tc.status)
			}
			wantField := `"field":null`
			if tc.field != "" {
				wantField = `"field":"` + tc.field + `"`
			}
			if b := rec.Body.String(); !strings.Contains(b, wantField) || !strings.Contains(b, `"message":"t"`) {
				t.Errorf("body %s, want %s", b, wantField)
			}
			for k, v := range tc.headers {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestNewRequires: the funnel and the client address are required.
func TestNewRequires(t *testing.T) {
	if _, err := New(Config{ClientIP: func(*http.Request) netip.Addr { return netip.Addr{} }}); err == nil {
		t.Error("nil Funnel accepted")
	}
	if _, err := New(Config{Funnel: &submit.Funnel{}}); err == nil {
		t.Error("nil ClientIP accepted")
	}
}
