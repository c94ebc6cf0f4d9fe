package admin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

// statsDay is midnight UTC of a day of November or December 2026.
func statsDay(month time.Month, day int) time.Time {
	return time.Date(2026, month, day, 0, 0, 0, 0, time.UTC)
}

// seedStats gives acme and shop a history, through the store as the
// queue and delivery record it:
//
//	Nov 27 acme m1 processed ×2
//	Nov 30 m1: r1 delivered, r2 deferred
//	Dec  2 m1: r2 bounced 5.7.1 (a block); acme m2 processed ×2, r1 bounced 5.1.1, r2 dropped;
//	       shop m3 processed ×2, r1 delivered; acme's DSN d1, delivered (not counted)
func seedStats(t *testing.T, st store.Store, acme, shop store.User) {
	t.Helper()
	ctx := context.Background()
	msg := func(id string, u store.User, from string, at time.Time) store.NewMessage {
		return store.NewMessage{ID: id, UserID: u.ID, KeyID: "k1", From: from,
			Recipients: []string{"r1@example.com", "r2@example.com"},
			Body:       []byte("Subject: " + id + "\r\n\r\nhello\r\n"), CreatedAt: at}
	}
	enqueue := func(m store.NewMessage) {
		t.Helper()
		if err := st.EnqueueBatch(ctx, []store.NewMessage{m}); err != nil {
			t.Fatal(err)
		}
	}
	type outcome struct {
		idx    int
		state  store.RecipientState
		typ    store.EventType
		detail string
	}
	attempt := func(id string, at time.Time, outs ...outcome) {
		t.Helper()
		a := store.Attempt{MessageID: id, At: at}
		for _, o := range outs {
			if o.state != store.RcptPending {
				a.Updates = append(a.Updates, store.RecipientUpdate{Idx: o.idx, State: o.state, Result: o.detail})
			}
			a.Events = append(a.Events, store.Event{MessageID: id, Recipient: []string{"r1@example.com", "r2@example.com"}[o.idx],
				Type: o.typ, Detail: o.detail, At: at})
		}
		if err := st.RecordAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(msg("m1", acme, "a@acme.example", statsDay(11, 27).Add(10*time.Hour)))
	attempt("m1", statsDay(11, 30).Add(8*time.Hour),
		outcome{0, store.RcptDelivered, store.EventDelivered, "250 2.0.0 ok"},
		outcome{1, store.RcptPending, store.EventDeferred, "451 4.7.1 try later"})
	attempt("m1", statsDay(12, 2).Add(time.Hour),
		outcome{1, store.RcptBounced, store.EventBounced, "550 5.7.1 blocked by policy"})
	enqueue(msg("m2", acme, "a@acme.example", statsDay(12, 2).Add(23*time.Hour+59*time.Minute)))
	attempt("m2", statsDay(12, 2).Add(23*time.Hour+59*time.Minute+time.Second),
		outcome{0, store.RcptBounced, store.EventBounced, "550 5.1.1 no such user"},
		outcome{1, store.RcptDropped, store.EventDropped, "suppressed: bounce"})
	enqueue(msg("m3", shop, "s@acme.example", statsDay(12, 2).Add(3*time.Hour)))
	attempt("m3", statsDay(12, 2).Add(4*time.Hour), outcome{0, store.RcptDelivered, store.EventDelivered, "250 ok"})
	enqueue(msg("d1", acme, "", statsDay(12, 2).Add(5*time.Hour)))
	attempt("d1", statsDay(12, 2).Add(6*time.Hour), outcome{0, store.RcptDelivered, store.EventDelivered, "250 ok"})
}

// TestStats (issue 15): buckets by day, week and month, every one of the
// range listed, zeros included; blocks apart from bounces; DSNs and
// other users' mail left out.
func TestStats(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	seedStats(t, e.st, e.acme, e.shop)
	type m = admin.StatsMetrics
	day := func(d time.Time, mm m) admin.StatsBucket { return admin.StatsBucket{Date: d, Metrics: mm} }
	zero := m{}
	for _, tc := range []struct {
		name string
		a    admin.Actor
		q    admin.StatsQuery
		want []admin.StatsBucket
	}{
		{"acme by day", e.key("acme", ""), admin.StatsQuery{Start: "2026-11-27"}, []admin.StatsBucket{ // End: today, Dec 4
			day(statsDay(11, 27), m{Processed: 2, Requests: 2}),
			day(statsDay(11, 28), zero),
			day(statsDay(11, 29), zero),
			day(statsDay(11, 30), m{Delivered: 1, Deferred: 1}),
			day(statsDay(12, 1), zero),
			day(statsDay(12, 2), m{Processed: 2, Requests: 2, Blocks: 1, Bounces: 1, BounceDrops: 1}),
			day(statsDay(12, 3), zero),
			day(statsDay(12, 4), zero),
		}},
		{"acme by week", e.op("acme"), admin.StatsQuery{Start: "2026-11-27", End: "2026-12-02", AggregatedBy: "week"}, []admin.StatsBucket{
			day(statsDay(11, 23), m{Processed: 2, Requests: 2}), // the Monday of Nov 27's week
			day(statsDay(11, 30), m{Processed: 2, Requests: 2, Delivered: 1, Deferred: 1, Blocks: 1, Bounces: 1, BounceDrops: 1}),
		}},
		{"acme by month", e.op("acme"), admin.StatsQuery{Start: "2026-11-27", End: "2026-12-04", AggregatedBy: "month"}, []admin.StatsBucket{
			day(statsDay(11, 1), m{Processed: 2, Requests: 2, Delivered: 1, Deferred: 1}),
			day(statsDay(12, 1), m{Processed: 2, Requests: 2, Blocks: 1, Bounces: 1, BounceDrops: 1}),
		}},
		{"only the range", e.op("acme"), admin.StatsQuery{Start: "2026-11-30", End: "2026-11-30", AggregatedBy: "month"}, []admin.StatsBucket{
			day(statsDay(11, 1), m{Delivered: 1, Deferred: 1}),
		}},
		{"acme on behalf of shop", e.key("acme", "shop"), admin.StatsQuery{Start: "2026-12-02", End: "2026-12-02"}, []admin.StatsBucket{
			day(statsDay(12, 2), m{Processed: 2, Requests: 2, Delivered: 1}),
		}},
		{"shop", e.key("shop", ""), admin.StatsQuery{Start: "2026-12-02", End: "2026-12-03"}, []admin.StatsBucket{
			day(statsDay(12, 2), m{Processed: 2, Requests: 2, Delivered: 1}),
			day(statsDay(12, 3), zero),
		}},
		{"beta sees none of it", e.key("beta", ""), admin.StatsQuery{Start: "2026-12-02", End: "2026-12-02"}, []admin.StatsBucket{
			day(statsDay(12, 2), zero),
		}},
		{"stats.read alone", e.key("acme", "", "stats.read"), admin.StatsQuery{Start: "2026-11-30", End: "2026-11-30", AggregatedBy: "day"}, []admin.StatsBucket{
			day(statsDay(11, 30), m{Delivered: 1, Deferred: 1}),
		}},
	} {
		got, err := e.s.Stats(ctx, tc.a, tc.q)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d buckets %+v, want %d", tc.name, len(got), got, len(tc.want))
			continue
		}
		for i := range got {
			if !got[i].Date.Equal(tc.want[i].Date) || got[i].Metrics != tc.want[i].Metrics {
				t.Errorf("%s: bucket %d = %v %+v, want %v %+v", tc.name, i, got[i].Date, got[i].Metrics, tc.want[i].Date, tc.want[i].Metrics)
			}
		}
	}
}

func TestStatsRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.s.Stats(ctx, e.key("acme", "", "mail.send"), admin.StatsQuery{Start: "2026-12-01"}); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("without stats.read: %v", err)
	}
	for _, tc := range []struct {
		name  string
		q     admin.StatsQuery
		field string
	}{
		{"no start", admin.StatsQuery{}, "start_date"},
		{"bad start", admin.StatsQuery{Start: "2026-13-01"}, "start_date"},
		{"start with a time", admin.StatsQuery{Start: "2026-12-01T00:00:00Z"}, "start_date"},
		{"bad end", admin.StatsQuery{Start: "2026-12-01", End: "12/02/2026"}, "end_date"},
		{"start after end", admin.StatsQuery{Start: "2026-12-03", End: "2026-12-02"}, "start_date"},
		{"start after today", admin.StatsQuery{Start: "2026-12-05"}, "start_date"},
		{"over a year", admin.StatsQuery{Start: "2025-01-01", End: "2026-01-02"}, "end_date"},
		{"bad aggregation", admin.StatsQuery{Start: "2026-12-01", AggregatedBy: "year"}, "aggregated_by"},
	} {
		_, err := e.s.Stats(ctx, e.op("acme"), tc.q)
		wantRefused(t, tc.name, err, tc.field, nil)
	}
	// A year to the day is still taken.
	if got, err := e.s.Stats(ctx, e.op("acme"), admin.StatsQuery{Start: "2025-12-04", AggregatedBy: "month"}); err != nil || len(got) != 13 {
		t.Errorf("a year by month: %d buckets, %v", len(got), err)
	}
}
