package store

import (
	"context"
	"time"
)

// LimitRow is a rate-limit override for one user or key and one period.
type LimitRow struct {
	Kind       string // "user" or "key"
	Subject    string // the user's name or the key's id
	Period     string // "minute", "hour", "day", "month"
	Messages   int64  // 0: unlimited
	Recipients int64  // 0: unlimited
	Mode       string // "reject" or "hold"
}

// UsageRow is what one key of one user sent since a time.
type UsageRow struct {
	UserName   string
	ParentName string
	KeyID      string
	Messages   int64
	Recipients int64
}

// LimitStore keeps limit overrides and answers usage questions from the
// queue itself (every accepted message is a row).
type LimitStore interface {
	// SetLimit creates or replaces the override for (Kind, Subject, Period).
	SetLimit(ctx context.Context, l LimitRow) error
	// Limits lists overrides; all of them when kind is "".
	Limits(ctx context.Context, kind, subject string) ([]LimitRow, error)
	// UsageSince counts messages and recipients accepted at or after since,
	// per user and key. Messages from the null sender (DSNs) are not
	// counted.
	UsageSince(ctx context.Context, since time.Time) ([]UsageRow, error)
}
