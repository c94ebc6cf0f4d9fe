package abuse

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestSpamVerdict(t *testing.T) {
	th := Thresholds{SpamRejections: 3, SpamWindow: time.Hour}
	for _, tc := range []struct {
		t    Thresholds
		n    int
		want bool
	}{
		{th, 2, false}, {th, 3, true}, {th, 10, true}, {Thresholds{}, 100, false},
	} {
		got, reason := SpamVerdict(tc.t, tc.n)
		if got != tc.want || (got && !strings.Contains(reason, "refused as spam")) {
			t.Errorf("SpamVerdict(%+v, %d) = %v %q", tc.t, tc.n, got, reason)
		}
	}
}

func TestBounceVerdict(t *testing.T) {
	th := Thresholds{BounceRate: 0.1, BounceMinimum: 20, BounceWindow: 24 * time.Hour}
	for _, tc := range []struct {
		delivered, bounced int
		want               bool
	}{
		{18, 1, false}, // under the minimum volume
		{10, 10, true}, // 50%
		{90, 10, true}, // exactly 10%
		{91, 9, false}, // 9%
		{0, 0, false},
	} {
		got, reason := BounceVerdict(th, tc.delivered, tc.bounced)
		if got != tc.want || (got && !strings.Contains(reason, "bounce rate")) {
			t.Errorf("BounceVerdict(%d, %d) = %v %q", tc.delivered, tc.bounced, got, reason)
		}
	}
	if got, _ := BounceVerdict(Thresholds{}, 0, 100); got {
		t.Error("disabled rule suspended")
	}
}

type fakeStore struct {
	suspended map[string]string
	delivered int
	bounced   int
}

func (f *fakeStore) SetSuspended(_ context.Context, name string, _ time.Time, reason string) error {
	f.suspended[name] = reason
	return nil
}

func (f *fakeStore) BounceStats(context.Context, string, time.Time) (int, int, error) {
	return f.delivered, f.bounced, nil
}

func TestWatchSpamWindow(t *testing.T) {
	st := &fakeStore{suspended: map[string]string{}}
	w := &Watch{T: Thresholds{SpamRejections: 3, SpamWindow: time.Hour}, Store: st}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	w.SpamRejected(ctx, "acme", now)
	w.SpamRejected(ctx, "acme", now.Add(10*time.Minute))
	// The first one has left the window by now.
	if r, _ := w.SpamRejected(ctx, "acme", now.Add(61*time.Minute)); r != "" {
		t.Fatalf("suspended on rejections spread over more than the window: %q", r)
	}
	if r, _ := w.SpamRejected(ctx, "acme", now.Add(62*time.Minute)); r == "" || st.suspended["acme"] == "" {
		t.Fatal("not suspended at the threshold")
	}
	if _, ok := st.suspended["other"]; ok {
		t.Fatal("another user suspended")
	}
	st.delivered, st.bounced = 5, 20
	w.T.BounceRate, w.T.BounceMinimum, w.T.BounceWindow = 0.2, 10, time.Hour
	if r, _ := w.Bounced(ctx, "shop", now); r == "" || !strings.Contains(st.suspended["shop"], "80%") {
		t.Fatalf("bounce suspension: %q %q", r, st.suspended["shop"])
	}
}
