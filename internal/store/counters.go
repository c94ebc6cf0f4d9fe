package store

import (
	"context"
	"time"
)

// Counter is what one subject (a key, a user) has sent in one window of
// one rate-limit period.
type Counter struct {
	Subject    string // ratelimit.Subject's text: "key ID", "user NAME"
	Period     string // "minute", "hour", "day", "month"
	Start, End time.Time
	Messages   int64
	Recipients int64
}

// CounterStore keeps the rate-limit counters in the store, where every node
// of a cluster sees the same numbers (DESIGN.md, "Storage": N nodes admit
// the limit once, not N times).
type CounterStore interface {
	// UpdateCounters runs fn in one transaction during which no other
	// UpdateCounters naming any of subjects runs, on this node or another.
	// fn gets the subjects' counters of the windows that end after now and
	// returns changes to add to them (negative to give counts back; a
	// count never goes below zero), or an error, which rolls everything
	// back. The changes are committed before UpdateCounters returns.
	UpdateCounters(ctx context.Context, subjects []string, now time.Time, fn func(current []Counter) ([]Counter, error)) error
	// Counters reads the subjects' counters of the windows that end after
	// now, without waiting for or holding any lock: a snapshot, for
	// questions that decide nothing (quota's Check at MAIL).
	Counters(ctx context.Context, subjects []string, now time.Time) ([]Counter, error)
	// DeleteCounters removes the counters of windows that ended at or
	// before now, and reports how many.
	DeleteCounters(ctx context.Context, now time.Time) (int64, error)
}
