package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// testEventCounts: events are counted per UTC day and type for the
// users asked about only, bounces per detail, DSNs left out, the range
// half open.
func testEventCounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	acme := mustCreateUser(t, s, "acme", "")
	shop := mustCreateUser(t, s, "shop", "acme")
	beta := mustCreateUser(t, s, "beta", "")
	day1 := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC) // base's UTC day
	day2 := day1.AddDate(0, 0, 1)

	m1 := simpleMessage("m1", acme.ID) // processed ×2 on day 1
	m2 := simpleMessage("m2", shop.ID)
	m3 := simpleMessage("m3", beta.ID)
	dsn := simpleMessage("d1", acme.ID)
	dsn.From = ""
	if err := s.EnqueueBatch(ctx, []store.NewMessage{m1, m2, m3, dsn}); err != nil {
		t.Fatal(err)
	}
	last := day2.Add(24*time.Hour - time.Microsecond) // the last instant of day 2
	record := func(id string, at time.Time, evs ...store.Event) {
		t.Helper()
		a := store.Attempt{MessageID: id, At: at}
		for i := range evs {
			evs[i].MessageID, evs[i].At = id, at
		}
		a.Events = evs
		if err := s.RecordAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	record("m1", day2.Add(time.Hour),
		store.Event{Recipient: "r1@example.com", Type: store.EventDelivered, Detail: "250 ok"},
		store.Event{Recipient: "r2@example.com", Type: store.EventBounced, Detail: "550 5.7.1 policy"})
	record("m1", last,
		store.Event{Recipient: "r2@example.com", Type: store.EventBounced, Detail: "550 5.7.1 policy"})
	record("m1", day2.Add(24*time.Hour), // day 3: outside the range
		store.Event{Recipient: "r1@example.com", Type: store.EventDeferred, Detail: "451 later"})
	record("m2", day2.Add(2*time.Hour),
		store.Event{Recipient: "r1@example.com", Type: store.EventBounced, Detail: "550 5.1.1 unknown"})
	record("m3", day2.Add(2*time.Hour),
		store.Event{Recipient: "r1@example.com", Type: store.EventDelivered, Detail: "250 ok"})
	record("d1", day2.Add(2*time.Hour),
		store.Event{Recipient: "r1@example.com", Type: store.EventDelivered, Detail: "250 ok"})

	got, err := s.EventCounts(ctx, []int64{acme.ID}, day1, day2.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.DayCount{
		{Day: day1, UserID: acme.ID, Type: store.EventProcessed, Count: 2},
		{Day: day2, UserID: acme.ID, Type: store.EventBounced, Detail: "550 5.7.1 policy", Count: 2},
		{Day: day2, UserID: acme.ID, Type: store.EventDelivered, Count: 1},
	}
	checkCounts(t, "acme", got, want)

	got, err = s.EventCounts(ctx, []int64{acme.ID, shop.ID}, day2, day2.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want = []store.DayCount{
		{Day: day2, UserID: acme.ID, Type: store.EventBounced, Detail: "550 5.7.1 policy", Count: 2},
		{Day: day2, UserID: acme.ID, Type: store.EventDelivered, Count: 1},
		{Day: day2, UserID: shop.ID, Type: store.EventBounced, Detail: "550 5.1.1 unknown", Count: 1},
	}
	if acme.ID > shop.ID {
		want[0], want[1], want[2] = want[2], want[0], want[1]
	}
	checkCounts(t, "acme and shop on day 2", got, want)

	// until is excluded: the last instant of day 2 is not before it.
	got, _ = s.EventCounts(ctx, []int64{acme.ID}, day2, last)
	if len(got) != 2 || got[0].Type != store.EventBounced || got[0].Count != 1 {
		t.Errorf("before the last instant: %+v", got)
	}
	if got, err := s.EventCounts(ctx, nil, day1, day2); err != nil || len(got) != 0 {
		t.Errorf("no users: %+v %v", got, err)
	}
}

func checkCounts(t *testing.T, what string, got, want []store.DayCount) {
	t.Helper()
	eq := func(a, b store.DayCount) bool {
		return a.Day.Equal(b.Day) && a.Day.Location() == time.UTC && a.UserID == b.UserID && a.Category == b.Category &&
			a.Type == b.Type && a.Detail == b.Detail && a.Count == b.Count
	}
	if !slices.EqualFunc(got, want, eq) {
		t.Errorf("%s: counts %+v, want %+v", what, got, want)
	}
}

// testCategoryEventCounts: a message's events count for each of its
// categories asked about, and only the user's messages count.
func testCategoryEventCounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	acme := mustCreateUser(t, s, "acme", "")
	beta := mustCreateUser(t, s, "beta", "")
	day1 := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC) // base's UTC day
	day2 := day1.AddDate(0, 0, 1)

	both := simpleMessage("m1", acme.ID)
	both.Meta = `{"categories":["news","welcome \"new\""],"custom_args":{"categories":"x"}}`
	news := simpleMessage("m2", acme.ID)
	news.Meta = `{"categories":["news"]}`
	none := simpleMessage("m3", acme.ID)
	other := simpleMessage("m4", beta.ID)
	other.Meta = `{"categories":["news"]}`
	dsn := simpleMessage("d1", acme.ID)
	dsn.From, dsn.Meta = "", `{"categories":["news"]}`
	if err := s.EnqueueBatch(ctx, []store.NewMessage{both, news, none, other, dsn}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"m1", "m2", "m3", "m4", "d1"} {
		if err := s.RecordAttempt(ctx, store.Attempt{MessageID: id, At: day2.Add(time.Hour), Events: []store.Event{{
			MessageID: id, Recipient: "r1@example.com", Type: store.EventBounced, Detail: "550 5.1.1 unknown", At: day2.Add(time.Hour)}}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CategoryEventCounts(ctx, acme.ID, []string{"news", `welcome "new"`, "absent"}, day1, day2.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.DayCount{
		{Day: day1, UserID: acme.ID, Category: "news", Type: store.EventProcessed, Count: 4}, // two recipients each
		{Day: day1, UserID: acme.ID, Category: `welcome "new"`, Type: store.EventProcessed, Count: 2},
		{Day: day2, UserID: acme.ID, Category: "news", Type: store.EventBounced, Detail: "550 5.1.1 unknown", Count: 2},
		{Day: day2, UserID: acme.ID, Category: `welcome "new"`, Type: store.EventBounced, Detail: "550 5.1.1 unknown", Count: 1},
	}
	checkCounts(t, "categories", got, want)
	if got, err := s.CategoryEventCounts(ctx, acme.ID, nil, day1, day2); err != nil || len(got) != 0 {
		t.Errorf("no categories: %+v %v", got, err)
	}
}
