// Package abuse decides automatic suspension: a user whose recent spam
// rejections, or whose bounce rate, crosses the configured thresholds is
// suspended, with the reason recorded (the operator resumes it with
// `postern user resume`). The decisions are pure functions of counts and
// time; Watch keeps the spam-rejection counts and applies the decisions.
package abuse

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/postern/postern/internal/store"
)

// Thresholds configure automatic suspension; a zero value disables a rule.
type Thresholds struct {
	// SpamRejections within SpamWindow suspend the user.
	SpamRejections int
	SpamWindow     time.Duration
	// BounceRate (0..1) of a user's recipients over BounceWindow suspends
	// it, once at least BounceMinimum recipients were attempted.
	BounceRate    float64
	BounceMinimum int
	BounceWindow  time.Duration
}

// SpamVerdict decides on n spam rejections within the window.
func SpamVerdict(t Thresholds, n int) (suspend bool, reason string) {
	if t.SpamRejections <= 0 || n < t.SpamRejections {
		return false, ""
	}
	return true, fmt.Sprintf("automatic: %d messages refused as spam within %s", n, t.SpamWindow)
}

// BounceVerdict decides on a user's delivered and bounced recipient counts
// within the window.
func BounceVerdict(t Thresholds, delivered, bounced int) (suspend bool, reason string) {
	total := delivered + bounced
	if t.BounceRate <= 0 || total == 0 || total < t.BounceMinimum {
		return false, ""
	}
	rate := float64(bounced) / float64(total)
	if rate < t.BounceRate {
		return false, ""
	}
	return true, fmt.Sprintf("automatic: bounce rate %.0f%% (%d of %d recipients) within %s, over the %.0f%% limit",
		rate*100, bounced, total, t.BounceWindow, t.BounceRate*100)
}

// Store is what Watch needs.
type Store interface {
	SetSuspended(ctx context.Context, name string, at time.Time, reason string) error
	BounceStats(ctx context.Context, userName string, since time.Time) (delivered, bounced int, err error)
}

// Watch applies the thresholds.
type Watch struct {
	T     Thresholds
	Store Store
	// Shared, when set, keeps the spam-rejection counts in the store, where
	// every node of a cluster adds to the same count (PostgreSQL); nil
	// keeps them in this process (one node). Shared counts are per fixed
	// window of SpamWindow, and the verdict takes the current and the
	// previous window together: what it counts covers between one and two
	// windows, never less than one.
	Shared store.CounterStore

	mu   sync.Mutex
	spam map[string][]time.Time // user → recent rejection times
}

// SpamRejected records a message of user refused as spam and suspends the
// user when the threshold is crossed. It returns the reason when it did.
func (w *Watch) SpamRejected(ctx context.Context, user string, now time.Time) (string, error) {
	if w == nil || w.T.SpamRejections <= 0 {
		return "", nil
	}
	if w.Shared != nil {
		return w.sharedSpamRejected(ctx, user, now)
	}
	w.mu.Lock()
	if w.spam == nil {
		w.spam = map[string][]time.Time{}
	}
	recent := w.spam[user][:0]
	for _, t := range w.spam[user] {
		if now.Sub(t) < w.T.SpamWindow {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	w.spam[user] = recent
	n := len(recent)
	w.mu.Unlock()
	suspend, reason := SpamVerdict(w.T, n)
	if !suspend {
		return "", nil
	}
	if err := w.Store.SetSuspended(ctx, user, now, reason); err != nil {
		return "", err
	}
	w.mu.Lock()
	delete(w.spam, user)
	w.mu.Unlock()
	return reason, nil
}

// sharedSpamRejected counts the rejection in the store and decides on the
// current and previous windows' counts.
func (w *Watch) sharedSpamRejected(ctx context.Context, user string, now time.Time) (string, error) {
	subject := "spam:" + user
	start := now.UTC().Truncate(w.T.SpamWindow)
	var (
		suspend bool
		reason  string
	)
	err := w.Shared.UpdateCounters(ctx, []string{subject}, now, func(cur []store.Counter) ([]store.Counter, error) {
		n := 1
		var counted []store.Counter
		for _, c := range cur {
			if !c.Start.Before(start.Add(-w.T.SpamWindow)) && c.Start.Before(start.Add(w.T.SpamWindow)) {
				n += int(c.Messages)
				counted = append(counted, c)
			}
		}
		if suspend, reason = SpamVerdict(w.T, n); suspend {
			// The count starts again from nothing, as the operator who
			// resumes the user expects; the in-process count does too.
			var back []store.Counter
			for _, c := range counted {
				c.Messages, c.Recipients = -c.Messages, 0
				back = append(back, c)
			}
			return back, nil
		}
		return []store.Counter{{Subject: subject, Period: "spam", Start: start, End: start.Add(2 * w.T.SpamWindow), Messages: 1}}, nil
	})
	if err != nil {
		return "", fmt.Errorf("abuse: spam count of %s: %w", user, err)
	}
	if !suspend {
		return "", nil
	}
	if err := w.Store.SetSuspended(ctx, user, now, reason); err != nil {
		return "", err
	}
	return reason, nil
}

// Bounced re-evaluates user's bounce rate after a bounce and suspends it
// when the threshold is crossed. It returns the reason when it did.
func (w *Watch) Bounced(ctx context.Context, user string, now time.Time) (string, error) {
	if w == nil || w.T.BounceRate <= 0 {
		return "", nil
	}
	delivered, bounced, err := w.Store.BounceStats(ctx, user, now.Add(-w.T.BounceWindow))
	if err != nil {
		return "", err
	}
	suspend, reason := BounceVerdict(w.T, delivered, bounced)
	if !suspend {
		return "", nil
	}
	return reason, w.Store.SetSuspended(ctx, user, now, reason)
}
