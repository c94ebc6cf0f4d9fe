package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/jobs"
)

// retentionEvery is how often the retention job looks for finished
// messages past queue.retention; purgeBatch how many it purges per
// transaction.
const (
	retentionEvery = time.Hour
	purgeBatch     = 500
)

// runJobs runs the installation's periodic jobs until ctx ends, each on
// one node at a time (internal/jobs): the domain re-checks, and retention
// (finished messages' bodies and recipients, ended rate-limit windows).
func (a *App) runJobs(ctx context.Context, resolver dnsres.Resolver) {
	log := a.Log.With("component", "jobs")
	r := &jobs.Runner{Leases: a.Store, Holder: holderName(), Now: time.Now, Log: log}
	a.countPanics("jobs", r.Panics)
	cfg := a.Config
	list := []jobs.Job{
		{Name: "domain-recheck", Every: cfg.Domains.Recheck.Duration, Run: func(ctx context.Context, now time.Time) error {
			changes, err := identity.Recheck(ctx, a.Store, resolver, domain.ConfigOf(cfg), now)
			for _, c := range changes {
				a.Log.Warn("domain no longer verified", "domain", c.Domain, "user", c.User, "why", c.Why)
			}
			return err
		}},
		{Name: "retention", Every: retentionEvery, Run: func(ctx context.Context, now time.Time) error {
			return a.retain(ctx, now)
		}},
	}
	var wg sync.WaitGroup
	for _, j := range list {
		wg.Go(func() { r.Loop(ctx, j) })
	}
	wg.Wait()
}

// retain purges finished messages older than queue.retention, a batch per
// transaction, and deletes the counters of ended windows.
func (a *App) retain(ctx context.Context, now time.Time) error {
	before := now.Add(-a.Config.Queue.Retention.Duration)
	total := 0
	for {
		n, err := a.Store.PurgeFinished(ctx, before, purgeBatch)
		total += n
		if err != nil {
			return err
		}
		if n < purgeBatch {
			break
		}
	}
	counters, err := a.Store.DeleteCounters(ctx, now)
	if err != nil {
		return err
	}
	if total > 0 || counters > 0 {
		a.Log.Info("retention", "purged_messages", total, "ended_counters", counters, "before", before.UTC().Format(time.RFC3339))
	}
	return nil
}

// holderName names this process in job leases: host, pid and a random
// part, unique even for two nodes in containers with the same pid.
func holderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
