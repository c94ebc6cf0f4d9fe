package store

import (
	"context"
	"time"
)

// LeaseStore hands out named leases, so that a job every node runs on a
// timer (domain re-checks, retention) runs on one node at a time.
type LeaseStore interface {
	// TakeLease gives the lease called name to holder until now+ttl when
	// it is free (never taken, or expired at now), and reports whether it
	// did. A lease is not renewed early, not even by its holder: a job
	// holds it for one period and runs once in it.
	TakeLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
}

// RetentionStore removes what finished messages no longer need.
type RetentionStore interface {
	// PurgeFinished empties the bodies and removes the per-recipient rows
	// of at most limit finished messages (every recipient delivered,
	// bounced or dropped) created before before, oldest first, and reports
	// how many. The message rows stay, with their size, recipient count
	// and events: usage, quotas and history still count them.
	PurgeFinished(ctx context.Context, before time.Time, limit int) (int, error)
}
