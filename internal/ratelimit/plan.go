package ratelimit

import (
	"fmt"
	"time"
)

// maxHoldSteps bounds how many windows ahead Plan looks for room for a
// held message. Past it the backlog is too deep and the message is refused
// for now. A step costs a few lookups per limit.
const maxHoldSteps = 5000

// Plan is the decision [Limiter.Reserve] makes, over counters kept
// anywhere: lookup returns a subject's counts in the window of period p
// that contains at (zero where nothing was counted). It decides on req at
// now and returns the time whose windows the message is to be counted in:
// now when it is allowed outright or refused, its release time when held.
//
// A held message is counted where it is released: when the windows of
// its release time are already full of held mail, Plan moves the release
// on to the next window with room, and every limit, reject-mode ones
// included, applies to the windows the message is finally counted in.
// Past maxHoldSteps windows of backlog it refuses for now.
//
// Plan counts nothing. The caller makes lookup and the counting that
// follows one atomic step: the Limiter under its mutex, a store-backed
// counter inside one transaction.
func Plan(req Request, now time.Time, lookup func(s Subject, p Period, at time.Time) Counts) (Decision, time.Time) {
	now = now.UTC()
	at := now
	var first, last *hit
	for step := 0; ; step++ {
		v := evaluate(req, at, lookup)
		if v.oversize != nil || (step == 0 && v.reject != nil) {
			return v.decision(now), now
		}
		if v.hold == nil {
			if v.reject != nil {
				// Over a reject limit in the windows the held message
				// would be released into: refused until that one ends.
				return v.decision(now), now
			}
			break
		}
		// Held past at: reject limits on windows that end before the
		// release are no concern; those that do not are checked there.
		if first == nil {
			first = v.hold
		}
		if step == maxHoldSteps {
			lim := first.limit
			d := Decision{
				RetryAfter:      first.end.Sub(now),
				Blocking:        &lim,
				BlockingSubject: first.subject,
			}
			d.Reason = fmt.Sprintf("%s: %s per %s reached and too much mail is already held; try again in %s",
				first.subject, first.what(), lim.Period, humanDuration(d.RetryAfter))
			return d, now
		}
		last = v.hold
		at = v.hold.end // strictly later: a window ends after any instant in it
	}
	if last == nil {
		return Decision{Allow: true}, now
	}
	return holdDecision(last), at
}
