package submit_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/testenv"
)

// A revoked key's AUTH failure is told apart in the log (issue 11), while
// the client gets the same refusal as for a wrong key.
func TestRevokedKeyLoggedApart(t *testing.T) {
	logs := &testenv.LogBuffer{}
	fx := newFixture(t, func(c *submit.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ctx := context.Background()
	id, err := account.ParseKey(fx.key)
	if err != nil {
		t.Fatal(err)
	}
	wrong := fx.key[:len(fx.key)-4] + "aaaa"
	if wrong == fx.key {
		wrong = fx.key[:len(fx.key)-4] + "bbbb"
	}
	// The wrong secret first, while the key is live; then the right one,
	// revoked.
	refusal := func(session, key string) *submit.Refusal {
		t.Helper()
		_, err := fx.f.Authenticate(ctx, submit.Credentials{Username: account.Username, Password: key, ClientIP: clientIP, Session: session})
		r := submit.AsRefusal(err)
		if r == nil {
			t.Fatalf("%s: Authenticate = %v, want a refusal", session, err)
		}
		return r
	}
	wrongRef := refusal("s-wrong", wrong)
	if err := fx.st.RevokeAPIKey(ctx, id, time.Now()); err != nil {
		t.Fatal(err)
	}
	revokedRef := refusal("s-revoked", fx.key)
	if *revokedRef != *wrongRef || revokedRef.Reason != submit.ReasonBadCredentials {
		t.Errorf("the client tells a revoked key (%+v) from a wrong one (%+v)", *revokedRef, *wrongRef)
	}

	lines := map[string]string{}
	for _, l := range strings.Split(logs.String(), "\n") {
		for _, s := range []string{"s-wrong", "s-revoked"} {
			if strings.Contains(l, "session="+s+" ") && strings.Contains(l, `msg="auth failed"`) {
				lines[s] = l
			}
		}
	}
	for _, tc := range []struct {
		session    string
		wantDetail bool
	}{
		{"s-wrong", false},
		{"s-revoked", true},
	} {
		l, ok := lines[tc.session]
		if !ok {
			t.Fatalf("no auth failed line for %s in\n%s", tc.session, logs)
		}
		if !strings.Contains(l, "reason=bad_credentials") || !strings.Contains(l, "key_id="+id) {
			t.Errorf("%s: %s", tc.session, l)
		}
		if got := strings.Contains(l, "detail=revoked"); got != tc.wantDetail {
			t.Errorf("%s: detail=revoked logged %v, want %v: %s", tc.session, got, tc.wantDetail, l)
		}
	}
	if strings.Contains(logs.String(), fx.key) || strings.Contains(logs.String(), wrong) {
		t.Error("a key reached the log")
	}
}
