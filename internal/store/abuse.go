package store

import (
	"context"
	"time"
)

// AbuseStore holds what limits the damage a stolen key or an abusive
// sender can do: suspensions, per-user switches and the account IP
// allow-lists.
type AbuseStore interface {
	// SetSuspended suspends the named user (at non-zero, with a reason) or
	// resumes it (at zero).
	SetSuspended(ctx context.Context, name string, at time.Time, reason string) error
	SetHideOriginatingIP(ctx context.Context, name string, hide bool) error
	// SetSpamThreshold sets the user's spam score limit (0: the default).
	SetSpamThreshold(ctx context.Context, name string, threshold float64) error

	// AddAllowedIP adds a CIDR prefix (canonical form) to an account's
	// list; store.ErrExists if present.
	AddAllowedIP(ctx context.Context, accountID int64, prefix string, at time.Time) error
	RemoveAllowedIP(ctx context.Context, accountID int64, prefix string) error
	AllowedIPs(ctx context.Context, accountID int64) ([]string, error)

	// BounceStats counts the named user's recipients delivered and bounced
	// (their outcome recorded at or after since), DSNs left out.
	BounceStats(ctx context.Context, userName string, since time.Time) (delivered, bounced int, err error)
}
