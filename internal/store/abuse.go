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

	// AddIPRules adds CIDR prefixes (canonical form, no repeats) to an
	// account's list in one transaction and returns the new rules in the
	// order given; store.ErrExists, and nothing added, when one is listed
	// already.
	AddIPRules(ctx context.Context, accountID int64, prefixes []string, at time.Time) ([]IPRule, error)
	// IPRules lists an account's rules in the order they were added.
	IPRules(ctx context.Context, accountID int64) ([]IPRule, error)
	// DeleteIPRules removes an account's rules by id in one transaction;
	// store.ErrNotFound, and nothing removed, when an id is not one of
	// the account's.
	DeleteIPRules(ctx context.Context, accountID int64, ids []int64) error

	// BounceStats counts the named user's recipients delivered and bounced
	// (their outcome recorded at or after since), DSNs left out.
	BounceStats(ctx context.Context, userName string, since time.Time) (delivered, bounced int, err error)
}

// IPRule is one entry of an account's IP allow-list (SendGrid's IP access
// rule), with the id the management API knows it by. Ids are never
// reused.
type IPRule struct {
	ID        int64
	AccountID int64
	Prefix    string // CIDR prefix, canonical form
	CreatedAt time.Time
	UpdatedAt time.Time
}
