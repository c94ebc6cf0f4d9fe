package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// hourWindow is the counter row of subject's hour window containing at.
func hourWindow(subject string, at time.Time, msgs, rcpts int64) store.Counter {
	start := at.UTC().Truncate(time.Hour)
	return store.Counter{Subject: subject, Period: "hour", Start: start, End: start.Add(time.Hour), Messages: msgs, Recipients: rcpts}
}

func testCounters(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := base
	read := func(subjects ...string) []store.Counter {
		t.Helper()
		var got []store.Counter
		if err := s.UpdateCounters(ctx, subjects, now, func(c []store.Counter) ([]store.Counter, error) {
			got = c
			return nil, nil
		}); err != nil {
			t.Fatalf("UpdateCounters: %v", err)
		}
		return got
	}
	if got := read("key k1"); len(got) != 0 {
		t.Fatalf("empty store has counters %+v", got)
	}
	add := func(changes ...store.Counter) {
		t.Helper()
		if err := s.UpdateCounters(ctx, []string{"key k1", "user acme"}, now, func([]store.Counter) ([]store.Counter, error) {
			return changes, nil
		}); err != nil {
			t.Fatalf("UpdateCounters: %v", err)
		}
	}
	add(hourWindow("key k1", now, 1, 3), hourWindow("user acme", now, 1, 3))
	add(hourWindow("key k1", now, 1, 2))
	got := read("key k1", "user acme", "user other")
	if len(got) != 2 || got[0].Subject != "key k1" || got[0].Messages != 2 || got[0].Recipients != 5 ||
		got[1].Subject != "user acme" || got[1].Messages != 1 || got[1].Recipients != 3 || got[0].Period != "hour" {
		t.Fatalf("counters = %+v", got)
	}
	snap, err := s.Counters(ctx, []string{"key k1", "user acme", "user other"}, now)
	if err != nil || fmt.Sprint(snap) != fmt.Sprint(got) {
		t.Errorf("Counters = %+v, %v; want what UpdateCounters sees, %+v", snap, err, got)
	}
	// Two changes to one window in one update add up.
	add(hourWindow("user acme", now, 1, 1), hourWindow("user acme", now, 1, 1))
	if got := read("user acme"); got[0].Messages != 3 || got[0].Recipients != 5 {
		t.Fatalf("after two changes to one window: %+v", got)
	}
	add(hourWindow("user acme", now, -2, -2))
	checkTime(t, "window start", got[0].Start, now.UTC().Truncate(time.Hour))
	checkTime(t, "window end", got[0].End, now.UTC().Truncate(time.Hour).Add(time.Hour))
	if got := read("user other"); len(got) != 0 {
		t.Errorf("another subject sees %+v", got)
	}

	// A give-back never goes below zero, nor creates counts in a window
	// nobody counted in.
	add(hourWindow("key k1", now, -5, -1), hourWindow("user acme", now.Add(2*time.Hour), -1, -1))
	got = read("key k1", "user acme")
	if len(got) < 1 || got[0].Messages != 0 || got[0].Recipients != 4 {
		t.Fatalf("after give-back: %+v", got)
	}
	for _, c := range got {
		if c.Subject == "user acme" && c.Start.After(now) && (c.Messages != 0 || c.Recipients != 0) {
			t.Errorf("give-back created counts: %+v", c)
		}
	}

	// An error from fn writes nothing.
	boom := errors.New("refused")
	err = s.UpdateCounters(ctx, []string{"key k1"}, now, func([]store.Counter) ([]store.Counter, error) {
		return []store.Counter{hourWindow("key k1", now, 100, 100)}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateCounters error = %v, want fn's", err)
	}
	if got := read("key k1"); got[0].Messages != 0 {
		t.Fatalf("a failed update wrote %+v", got)
	}

	// Ended windows are not shown, and are deleted.
	later := now.Add(2 * time.Hour)
	var seen []store.Counter
	if err := s.UpdateCounters(ctx, []string{"key k1", "user acme"}, later, func(c []store.Counter) ([]store.Counter, error) {
		seen = c
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range seen {
		if !c.End.After(later) {
			t.Errorf("ended window shown at %v: %+v", later, c)
		}
	}
	n, err := s.DeleteCounters(ctx, later)
	if err != nil || n < 2 {
		t.Fatalf("DeleteCounters = %d, %v; want the two ended windows", n, err)
	}
}
