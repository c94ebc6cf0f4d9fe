package store

import "context"

// GaugeStore answers the gauges a metrics scrape reads (internal/observe):
// cheap counts, over the whole store (in cluster mode, the cluster's).
type GaugeStore interface {
	// QueueCounts counts the messages not yet done: "queued" for those
	// never claimed, "deferred" for those attempted at least once (or
	// being attempted now) and due again. A state without messages is
	// absent or 0.
	QueueCounts(ctx context.Context) (map[string]int64, error)
	// OutboxTotal counts the webhook outbox items waiting, of every
	// webhook.
	OutboxTotal(ctx context.Context) (int64, error)
}
