package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/postern/postern/internal/observe"
)

// TestMetrics: a failed POST counts a failure and its items as failed;
// the accepted retry counts them as delivered; the store's backlog gauge
// follows.
func TestMetrics(t *testing.T) {
	e := newEnv(t, false)
	e.enqueue(e.message("m1", "", "a@example.com", "b@example.com"))
	reg := prometheus.NewRegistry()
	reg.MustRegister(observe.Gauges{Store: e.st})
	d := e.dispatcher(func(c *Config) { c.Metrics = observe.NewMetrics(reg) })

	backlog := func(want string) {
		t.Helper()
		exp := "# HELP postern_webhook_backlog Webhook outbox items waiting to be POSTed.\n" +
			"# TYPE postern_webhook_backlog gauge\npostern_webhook_backlog " + want + "\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(exp), "postern_webhook_backlog"); err != nil {
			t.Error(err)
		}
	}
	backlog("2")
	e.recv.status.Store(503)
	d.round(e.ctx)
	e.recv.status.Store(200)
	e.clock.Add(time.Minute)
	d.round(e.ctx)
	backlog("0")
	want := `
# HELP postern_webhook_deliveries_total Webhook outbox items, by result.
# TYPE postern_webhook_deliveries_total counter
postern_webhook_deliveries_total{result="delivered"} 2
postern_webhook_deliveries_total{result="discarded"} 0
postern_webhook_deliveries_total{result="failed"} 2
# HELP postern_webhook_failures_total Webhook POSTs that the receiver did not accept.
# TYPE postern_webhook_failures_total counter
postern_webhook_failures_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "postern_webhook_deliveries_total", "postern_webhook_failures_total"); err != nil {
		t.Error(err)
	}
}
