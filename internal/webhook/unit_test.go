package webhook

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{0, 0, 30 * time.Second},
		{1, 0, 30 * time.Second},
		{2, 0, time.Minute},
		{3, 0, 2 * time.Minute},
		{4, 0, 4 * time.Minute},
		{7, 0, 32 * time.Minute},
		{8, 0, time.Hour},
		{9, 0, time.Hour},
		{1000, 0, time.Hour},
		{1, 0.5, 31500 * time.Millisecond},
		{8, 0.5, 63 * time.Minute},
		{2, 1, time.Minute}, // out of [0,1): none
		{2, -1, time.Minute},
	} {
		if got := backoff(tc.n, tc.jitter); got != tc.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", tc.n, tc.jitter, got, tc.want)
		}
	}
}

// Retries over RetryFor: at least a day of them, spaced at most by
// RetryCap plus jitter.
func TestBackoffCoversRetryFor(t *testing.T) {
	var total time.Duration
	n := 0
	for total < MinRetryFor {
		n++
		total += backoff(n, 0.999)
	}
	if n < 24 {
		t.Errorf("only %d attempts in the first day", n)
	}
}

func TestBatchesCut(t *testing.T) {
	r := func(id int64, n int) rendered {
		return rendered{item: store.OutboxItem{ID: id}, events: make([]events.Event, n)}
	}
	show := func(bs []batch) string {
		var parts []string
		for _, b := range bs {
			var ids []string
			for _, it := range b.items {
				ids = append(ids, fmt.Sprint(it.ID))
			}
			parts = append(parts, fmt.Sprintf("%s:%d", strings.Join(ids, ","), len(b.events)))
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name string
		in   []rendered
		size int
		want string
	}{
		{"none", nil, 2, ""},
		{"one", []rendered{r(1, 1)}, 2, "1:1"},
		{"exact", []rendered{r(1, 1), r(2, 1), r(3, 1), r(4, 1)}, 2, "1,2:2 3,4:2"},
		{"remainder", []rendered{r(1, 1), r(2, 1), r(3, 1)}, 2, "1,2:2 3:1"},
		{"a big item goes alone", []rendered{r(1, 1), r(2, 5), r(3, 1)}, 2, "1:1 2:5 3:1"},
		{"empty items ride along", []rendered{r(1, 0), r(2, 2), r(3, 0), r(4, 1)}, 2, "1,2,3:2 4:1"},
		{"only empty", []rendered{r(1, 0), r(2, 0)}, 2, "1,2:0"},
	} {
		if got := show(batches(tc.in, tc.size)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	e := newEnv(t, false)
	d, err := New(Config{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	c := d.cfg
	if c.Concurrency != DefaultConcurrency || c.BatchSize != DefaultBatchSize || c.RetryFor != DefaultRetryFor ||
		c.Poll != DefaultPoll || c.Lease != DefaultLease || c.Timeout != DefaultTimeout || c.AllowPrivateNetworks ||
		c.Now == nil || c.Rand == nil || c.Log == nil || c.Resolver == nil {
		t.Errorf("defaults: %+v", c)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{}, "webhook: no store"},
		{"retry for under a day", Config{Store: e.st, RetryFor: 23 * time.Hour}, "retry for 23h0m0s: at least 24h0m0s"},
		{"negative retry for", Config{Store: e.st, RetryFor: -time.Hour}, "at least 24h0m0s"},
		{"lease not over timeout", Config{Store: e.st, Lease: 30 * time.Second}, "lease 30s: must be longer than the timeout, 30s"},
		{"batch too big", Config{Store: e.st, BatchSize: MaxBatchSize + 1}, "batch size 1001: at most 1000"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{72 * time.Hour: "72h", 36*time.Hour + 30*time.Minute: "36h30m", 24*time.Hour + time.Second: "24h0m1s"} {
		if got := span(d); got != want {
			t.Errorf("span(%v) = %q, want %q", d, got, want)
		}
	}
}
