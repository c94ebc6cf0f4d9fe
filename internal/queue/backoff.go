package queue

import "time"

// Retry schedule limits (RFC 5321 §4.5.4.1: after the first few quick
// retries, at least 30 minutes between attempts).
const (
	RetryFloor = 30 * time.Minute
	RetryCap   = 4 * time.Hour
)

// Backoff returns how long to wait after attempt n (1-based) before the
// next one: first, then 5×first, then at least RetryFloor doubling up to
// RetryCap. jitter in [0,1) adds up to 10%, never subtracts, so the floor
// holds and retries of messages that failed together spread out.
func Backoff(n int, first time.Duration, jitter float64) time.Duration {
	var d time.Duration
	switch {
	case n <= 1:
		d = first
	case n == 2:
		d = 5 * first
	default:
		d = RetryFloor
		for i := 3; i < n && d < RetryCap; i++ {
			d *= 2
		}
		if d < 5*first {
			d = 5 * first
		}
		if d > RetryCap {
			d = RetryCap
		}
	}
	if jitter > 0 && jitter < 1 {
		d += time.Duration(float64(d) * 0.1 * jitter)
	}
	return d
}
