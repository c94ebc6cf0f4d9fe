package sqlstore

import (
	"context"
	"fmt"

	"github.com/postern/postern/internal/store"
)

// QueueCounts counts the messages not yet done, by whether they were
// claimed before (index messages_due).
func (db *DB) QueueCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT CASE WHEN attempts = 0 THEN 'queued' ELSE 'deferred' END AS s, COUNT(*)
		FROM messages WHERE state = ? GROUP BY s`, string(store.StateQueued))
	if err != nil {
		return nil, fmt.Errorf("store: queue counts: %w", err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("store: queue counts: %w", err)
		}
		counts[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: queue counts: %w", err)
	}
	return counts, nil
}

// OutboxTotal counts every webhook's waiting outbox items.
func (db *DB) OutboxTotal(ctx context.Context) (int64, error) {
	var n int64
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox total: %w", err)
	}
	return n, nil
}
