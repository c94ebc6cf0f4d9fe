package store

import (
	"context"
	"time"
)

// DayCount is how many events of one type the messages of one user had
// on one UTC day (of one category, for CategoryEventCounts).
type DayCount struct {
	Day      time.Time // midnight UTC
	UserID   int64
	Category string // CategoryEventCounts only
	Type     EventType
	// Detail is the events' detail for EventBounced (so that the caller
	// can tell blocks from bounces), "" for every other type.
	Detail string
	Count  int64
}

// StatsStore answers statistics questions from the events themselves.
type StatsStore interface {
	// EventCounts counts the events at or after since and before until
	// of the messages of userIDs, per UTC day, user, type and (bounces
	// only) detail, ordered by day, user, type and detail. Events of
	// Postern's own mail (the null sender: DSNs) are not counted.
	EventCounts(ctx context.Context, userIDs []int64, since, until time.Time) ([]DayCount, error)
	// CategoryEventCounts counts as EventCounts does the events of the
	// user's messages that carry one of categories (a message's
	// categories are in its Meta), per UTC day, category, type and
	// detail, ordered so; a message of two of them counts for both.
	CategoryEventCounts(ctx context.Context, userID int64, categories []string, since, until time.Time) ([]DayCount, error)
}
