package jobs

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/store/sqlite"
)

func TestOnceOneNodePerPeriod(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "postern.db")
	st1, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st1.Close()
	st2, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a := &Runner{Leases: st1, Holder: "a", Now: clock, Log: slog.New(slog.DiscardHandler)}
	b := &Runner{Leases: st2, Holder: "b", Now: clock, Log: slog.New(slog.DiscardHandler)}
	runs := map[string]int{}
	job := func(node string) Job {
		return Job{Name: "retention", Every: time.Hour, Run: func(context.Context, time.Time) error { runs[node]++; return nil }}
	}
	for _, r := range []struct {
		runner *Runner
		node   string
	}{{a, "a"}, {b, "b"}, {a, "a"}} {
		if _, err := r.runner.Once(ctx, job(r.node)); err != nil {
			t.Fatal(err)
		}
	}
	if runs["a"] != 1 || runs["b"] != 0 {
		t.Fatalf("runs in one period = %v, want a once", runs)
	}
	// A period on, with a gone (it never asks again), b takes over.
	now = now.Add(time.Hour)
	if ran, err := b.Once(ctx, job("b")); err != nil || !ran {
		t.Fatalf("b after the lease expired: ran=%v err=%v", ran, err)
	}
	if runs["b"] != 1 || b.Ran() != 1 || a.Ran() != 1 {
		t.Fatalf("runs = %v, ran a=%d b=%d", runs, a.Ran(), b.Ran())
	}
}

func TestOncePanicRecovered(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "postern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	r := &Runner{Leases: st, Holder: "a", Now: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}
	_, err = r.Once(ctx, Job{Name: "boom", Every: time.Minute, Run: func(context.Context, time.Time) error { panic("broken job") }})
	if err == nil || !strings.Contains(err.Error(), "broken job") || r.Panics() != 1 {
		t.Fatalf("Once of a panicking job: err=%v panics=%d", err, r.Panics())
	}
	now = now.Add(time.Minute)
	ran, err := r.Once(ctx, Job{Name: "boom", Every: time.Minute, Run: func(context.Context, time.Time) error { return nil }})
	if err != nil || !ran {
		t.Fatalf("the job after its panic: ran=%v err=%v", ran, err)
	}
}
