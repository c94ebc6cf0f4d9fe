package store

import (
	"context"
	"time"
)

// DayCount is how many events of one type the messages of some users had
// on one UTC day.
type DayCount struct {
	Day  time.Time // midnight UTC
	Type EventType
	// Detail is the events' detail for EventBounced (so that the caller
	// can tell blocks from bounces), "" for every other type.
	Detail string
	Count  int64
}

// StatsStore answers statistics questions from the events themselves.
type StatsStore interface {
	// EventCounts counts the events at or after since and before until
	// of the messages of userIDs, per UTC day, type and (bounces only)
	// detail, ordered by day, type and detail. Events of Postern's own
	// mail (the null sender: DSNs) are not counted.
	EventCounts(ctx context.Context, userIDs []int64, since, until time.Time) ([]DayCount, error)
}
