package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/postern/postern/internal/ratelimit"
)

// Plan decides over counters kept anywhere, here a map standing for a
// store's rows: the hour already holds 2 of its 2 messages, so the next
// one is held until 16:00 and counted in the windows that contain 16:00.
func ExamplePlan() {
	now := time.Date(2026, 3, 14, 15, 48, 0, 0, time.UTC)
	acme := ratelimit.User("acme")
	counted := map[time.Time]ratelimit.Counts{
		time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC): {Messages: 2, Recipients: 2},
	}
	lookup := func(s ratelimit.Subject, p ratelimit.Period, at time.Time) ratelimit.Counts {
		start, _ := ratelimit.Window(p, at)
		if s != acme || p != ratelimit.Hour {
			return ratelimit.Counts{}
		}
		return counted[start]
	}
	req := ratelimit.Request{
		Subjects:   []ratelimit.SubjectLimits{{Subject: acme, Limits: []ratelimit.Limit{{Period: ratelimit.Hour, Messages: 2, Mode: ratelimit.ModeHold}}}},
		Recipients: 1,
		Now:        now,
	}
	d, at := ratelimit.Plan(req, now, lookup)
	fmt.Println(d.Hold, d.HoldUntil.Format(time.TimeOnly), at.Format(time.TimeOnly))
	// Output: true 16:00:00 16:00:00
}
