package submit_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/submit"
)

// overLimit refuses every message on the key's per-minute limit.
type overLimit struct{}

func (overLimit) decision() ratelimit.Decision {
	return ratelimit.Decision{BlockingSubject: ratelimit.Key("k"), RetryAfter: time.Minute,
		Blocking: &ratelimit.Limit{Period: ratelimit.Minute, Messages: 1}, Reason: "key k: 1 message per minute"}
}
func (o overLimit) Check(context.Context, account.Principal, time.Time) (ratelimit.Decision, error) {
	return o.decision(), nil
}
func (o overLimit) Reserve(context.Context, account.Principal, int, time.Time) (ratelimit.Decision, ratelimit.Reservation, error) {
	return o.decision(), ratelimit.Reservation{}, nil
}

// TestMetricsAndMailLog: the funnel counts each commit by ingress and
// outcome, each failed authentication by listener, the lockout it
// causes and rate-limit refusals, and logs a queued line per message.
func TestMetricsAndMailLog(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	mail := observe.NewMailLog(observe.NewLogger(&logs, observe.FormatText, slog.LevelInfo))
	fx := newFixture(t, func(c *submit.Config) {
		c.Metrics = observe.NewMetrics(reg)
		c.MailLog = mail
		c.Lockout = lockout.New(lockout.Config{PerIP: 2, PerKey: 2, Window: time.Minute, Backoff: time.Minute, MaxBackoff: time.Hour})
	})
	ctx := context.Background()

	rc, err := fx.send(t, "app@example.test", []string{"a@example.test", "b@example.test"}, plainMsg, submit.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.send(t, "app@example.test", []string{"a@example.test"}, "From: app@example.test\r\n\r\nbare\n", submit.CommitOptions{}); submit.AsRefusal(err) == nil {
		t.Fatalf("bare LF: %v", err)
	}
	if _, err := fx.send(t, "app@example.test", []string{"a@example.test"}, plainMsg, submit.CommitOptions{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	tx, err := fx.f.Begin(ctx, fx.client, "app@example.test", 0, submit.Origin{With: "HTTPS"})
	if err != nil {
		t.Fatal(err)
	}
	tx.AddRecipient(ctx, "a@example.test")
	if _, err := tx.Commit(ctx, []byte(plainMsg), submit.CommitOptions{}); err != nil {
		t.Fatal(err)
	}

	other := netip.MustParseAddr("198.51.100.4")
	for i, listener := range []string{"submission", "", "submission"} {
		_, err := fx.f.Authenticate(ctx, submit.Credentials{Username: account.Username, Password: "pst_nope.wrong",
			ClientIP: other, Listener: listener})
		if submit.AsRefusal(err) == nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}

	want := `
# HELP postern_auth_failures_total Failed authentications (SMTP AUTH and HTTP API keys), by listener.
# TYPE postern_auth_failures_total counter
postern_auth_failures_total{listener="http"} 1
postern_auth_failures_total{listener="submission"} 2
# HELP postern_auth_lockouts_total Clients locked out after too many failed authentications.
# TYPE postern_auth_lockouts_total counter
postern_auth_lockouts_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "postern_auth_failures_total", "postern_auth_lockouts_total"); err != nil {
		t.Error(err)
	}
	for _, c := range []struct {
		ingress, outcome string
		want             float64
	}{{"smtp", "accepted", 1}, {"smtp", "refused", 1}, {"http", "accepted", 1}, {"http", "refused", 0}, {"smtp", "error", 0}} {
		if got := counter(t, reg, "postern_submissions_total", map[string]string{"ingress": c.ingress, "outcome": c.outcome}); got != c.want {
			t.Errorf("submissions{%s,%s} = %v, want %v", c.ingress, c.outcome, got, c.want)
		}
	}

	wantLine := "msg=queued log=mail id=" + rc.ID + " user=acme key_id=" + fx.client.Key().ID +
		" size=" + strconv.Itoa(rc.Size) + " rcpts=2 ingress=smtp client_ip=192.0.2.9"
	if !strings.Contains(logs.String(), wantLine) {
		t.Errorf("mail log lacks\n%s\nin\n%s", wantLine, logs.String())
	}
	if n := strings.Count(logs.String(), "msg=queued"); n != 2 {
		t.Errorf("%d queued lines (the refused and the sandboxed message have none):\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), fx.key) {
		t.Error("the API key is in the mail log")
	}
}

// TestRateLimitRefusalCounted: a refusal by a key's limit, at MAIL and
// at the commit, counts with scope key.
func TestRateLimitRefusalCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	fx := newFixture(t, func(c *submit.Config) { c.Metrics = observe.NewMetrics(reg); c.Quota = overLimit{} })
	_, err := fx.f.Begin(context.Background(), fx.client, "app@example.test", 0, submit.Origin{With: "ESMTPSA"})
	if r := submit.AsRefusal(err); r == nil || r.Reason != submit.ReasonRateLimited {
		t.Fatalf("Begin over the limit: %v", err)
	}
	if got := counter(t, reg, "postern_ratelimit_refusals_total", map[string]string{"scope": "key"}); got != 1 {
		t.Errorf("refusals{scope=key} = %v", got)
	}
}

// counter is the value of the series of name with exactly labels.
func counter(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
