package observe

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// GaugeStore is what Gauges reads at each scrape (store.GaugeStore).
type GaugeStore interface {
	// QueueCounts counts the messages not yet done, by state.
	QueueCounts(ctx context.Context) (map[string]int64, error)
	// OutboxTotal counts the webhook outbox items waiting, of every
	// webhook.
	OutboxTotal(ctx context.Context) (int64, error)
}

// QueueStates are the states postern_queue_messages always reports,
// 0 when no message is in them.
var QueueStates = []string{"queued", "deferred"}

// gaugeTimeout bounds the store reads of one scrape.
const gaugeTimeout = 5 * time.Second

// Gauges is a prometheus.Collector of the gauges that are the store's to
// know, read when scraped: postern_queue_messages{state} and
// postern_webhook_backlog. In cluster mode they are the cluster's, the
// same on every node. A store error makes the scrape report it (promhttp
// with ContinueOnError keeps the other metrics).
type Gauges struct {
	Store GaugeStore
}

var _ prometheus.Collector = Gauges{}

var (
	queueDesc = prometheus.NewDesc("postern_queue_messages",
		"Messages in the queue, by state: queued (not attempted yet) or deferred (attempted, to be retried).", []string{"state"}, nil)
	backlogDesc = prometheus.NewDesc("postern_webhook_backlog",
		"Webhook outbox items waiting to be POSTed.", nil, nil)
)

// Describe sends the gauges' descriptions.
func (g Gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- backlogDesc
}

// Collect reads the store and sends the gauges.
func (g Gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), gaugeTimeout)
	defer cancel()
	counts, err := g.Store.QueueCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDesc, err)
	} else {
		for _, s := range QueueStates {
			ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(counts[s]), s)
		}
	}
	n, err := g.Store.OutboxTotal(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backlogDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
}
