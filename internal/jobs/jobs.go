package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/store"
)

// Job is one periodic task.
type Job struct {
	Name  string        // the lease's name: the same on every node
	Every time.Duration // the period; also the lease's length
	Run   func(ctx context.Context, now time.Time) error
}

// Runner runs jobs under leases held as Holder.
type Runner struct {
	Leases store.LeaseStore
	// Holder names this node in the leases; unique per running process.
	Holder string
	Now    func() time.Time
	Log    *slog.Logger

	panics atomic.Int64
	ran    atomic.Int64
}

// Panics counts the jobs' recovered panics.
func (r *Runner) Panics() int64 { return r.panics.Load() }

// Ran counts the runs this node made (the lease was its).
func (r *Runner) Ran() int64 { return r.ran.Load() }

// Loop runs j every j.Every until ctx ends, whenever this node gets the
// lease. The first try is one period after the start, as a node that
// restarts often must not re-run a job each time.
func (r *Runner) Loop(ctx context.Context, j Job) {
	t := time.NewTicker(j.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Once(ctx, j); err != nil && ctx.Err() == nil {
			r.Log.Error("job", "job", j.Name, "err", err)
		}
	}
}

// Once runs j now if this node gets its lease, and reports whether it ran.
func (r *Runner) Once(ctx context.Context, j Job) (ran bool, err error) {
	now := r.Now()
	// A little less than a period, so that the next tick on the same
	// node finds it expired despite a late timer.
	ok, err := r.Leases.TakeLease(ctx, "job:"+j.Name, r.Holder, now, j.Every-j.Every/10)
	if err != nil || !ok {
		return false, err
	}
	defer func() {
		if p := recover(); p != nil {
			r.panics.Add(1)
			err = fmt.Errorf("jobs: %s: panic: %v", j.Name, p)
		}
	}()
	r.ran.Add(1)
	return true, j.Run(ctx, now)
}
