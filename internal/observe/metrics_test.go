package observe_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/postern/postern/internal/observe"
)

// TestMetricsCount drives every method and reads the series back from the
// registry in the text format.
func TestMetricsCount(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	m.SMTPSession("submissions")
	m.SMTPReply("submissions", 250)
	m.SMTPReply("submissions", 250)
	m.SMTPReply("mx", 550)
	m.AuthFailure(observe.ListenerHTTP)
	m.AuthLockout()
	m.Submission(observe.IngressSMTP, observe.OutcomeAccepted)
	m.Submission(observe.IngressHTTP, observe.OutcomeRefused)
	m.RateLimitRefusal("key")
	m.RateLimitRefusal("")
	m.DeliveryAttempt(observe.DeliveryDelivered)
	m.DeliveryDuration(300 * time.Millisecond)
	m.DNSLookup("mx", false)
	m.DNSLookup("mx", true)
	m.WebhookItems(observe.WebhookDelivered, 3)
	m.WebhookItems(observe.WebhookFailed, 0)
	m.WebhookFailure()

	want := `
# HELP postern_smtp_replies_total SMTP replies written, by listener and reply code.
# TYPE postern_smtp_replies_total counter
postern_smtp_replies_total{code="250",listener="submissions"} 2
postern_smtp_replies_total{code="550",listener="mx"} 1
# HELP postern_dns_failures_total DNS lookups that got no answer (timeout, SERVFAIL, network), by type.
# TYPE postern_dns_failures_total counter
postern_dns_failures_total{type="mx"} 1
# HELP postern_dns_lookups_total DNS lookups, by type.
# TYPE postern_dns_lookups_total counter
postern_dns_lookups_total{type="mx"} 2
# HELP postern_ratelimit_refusals_total Messages refused by a rate limit or quota, by the scope of the limit.
# TYPE postern_ratelimit_refusals_total counter
postern_ratelimit_refusals_total{scope="key"} 1
postern_ratelimit_refusals_total{scope="unknown"} 1
# HELP postern_webhook_deliveries_total Webhook outbox items, by result.
# TYPE postern_webhook_deliveries_total counter
postern_webhook_deliveries_total{result="delivered"} 3
postern_webhook_deliveries_total{result="discarded"} 0
postern_webhook_deliveries_total{result="failed"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "postern_smtp_replies_total",
		"postern_dns_lookups_total", "postern_dns_failures_total", "postern_ratelimit_refusals_total",
		"postern_webhook_deliveries_total"); err != nil {
		t.Error(err)
	}
	for name, want := range map[string]int{
		// Submissions and delivery attempts have every series from the start.
		"postern_submissions_total":         9,
		"postern_delivery_attempts_total":   4,
		"postern_smtp_sessions_total":       1,
		"postern_auth_lockouts_total":       1,
		"postern_delivery_duration_seconds": 1,
	} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != want {
			t.Errorf("%s: %d series, %v; want %d", name, n, err, want)
		}
	}
}

// TestMetricsNames holds the names to Prometheus's conventions (units,
// _total for counters), with the linter client_golang ships.
func TestMetricsNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := observe.NewMetrics(reg)
	m.SMTPSession("mx")
	m.SMTPReply("mx", 220)
	m.AuthFailure("mx")
	m.RateLimitRefusal("user")
	m.DNSLookup("ip", true)
	reg.MustRegister(observe.Gauges{Store: fakeGauges{counts: map[string]int64{}}})
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestNilMetrics: a nil *Metrics counts nothing and does not panic.
func TestNilMetrics(t *testing.T) {
	var m *observe.Metrics
	m.SMTPSession("mx")
	m.SMTPReply("mx", 250)
	m.AuthFailure("mx")
	m.AuthLockout()
	m.Submission(observe.IngressSMTP, observe.OutcomeError)
	m.RateLimitRefusal("key")
	m.DeliveryAttempt(observe.DeliveryBounced)
	m.DeliveryDuration(time.Second)
	m.DNSLookup("txt", true)
	m.WebhookItems(observe.WebhookDiscarded, 1)
	m.WebhookFailure()
}

// TestNoGlobalRegistration: two Metrics on two registries coexist, and
// the default registry gets nothing.
func TestNoGlobalRegistration(t *testing.T) {
	observe.Discard()
	observe.Discard()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "postern_") {
			t.Errorf("%s registered on the default registry", mf.GetName())
		}
	}
}

type fakeGauges struct {
	counts map[string]int64
	outbox int64
	err    error
}

func (f fakeGauges) QueueCounts(context.Context) (map[string]int64, error) { return f.counts, f.err }
func (f fakeGauges) OutboxTotal(context.Context) (int64, error)            { return f.outbox, f.err }

func TestGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(observe.Gauges{Store: fakeGauges{counts: map[string]int64{"deferred": 4}, outbox: 7}})
	want := `
# HELP postern_queue_messages Messages in the queue, by state: queued (not attempted yet) or deferred (attempted, to be retried).
# TYPE postern_queue_messages gauge
postern_queue_messages{state="deferred"} 4
postern_queue_messages{state="queued"} 0
# HELP postern_webhook_backlog Webhook outbox items waiting to be POSTed.
# TYPE postern_webhook_backlog gauge
postern_webhook_backlog 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	// A store that fails makes the gather report it (promhttp's
	// ContinueOnError then serves the rest).
	bad := prometheus.NewRegistry()
	bad.MustRegister(observe.Gauges{Store: fakeGauges{err: errors.New("database is locked")}})
	if _, err := bad.Gather(); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("Gather with a failing store: %v", err)
	}
}
