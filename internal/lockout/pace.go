package lockout

import "time"

// Pace returns how long to sleep so that an AUTH failure reply is sent d
// after the AUTH began at start, whatever made it fail: zero when d has
// already passed. The caller sleeps; Pace only computes. start should come
// from time.Now, so that its monotonic reading is used.
func Pace(start time.Time, d time.Duration) time.Duration {
	return paceAt(start, time.Now(), d)
}

// paceAt is Pace with the current time passed in. A start after now (a
// clock that went backwards) waits d, never more.
func paceAt(start, now time.Time, d time.Duration) time.Duration {
	elapsed := max(now.Sub(start), 0)
	return max(d-elapsed, 0)
}
