package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// testSuppressionKinds: an address may be on several lists, one entry per
// kind; lists are filtered, paged and deleted per user and kind.
func testSuppressionKinds(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, "acme", "")
	b := mustCreateUser(t, s, "beta", "")
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Hour) }
	added, err := s.AddSuppressions(ctx, []store.Suppression{
		{UserID: a.ID, Address: "Gone@Example.com", Kind: store.SuppressBounce, Reason: "550 5.1.1 no such user", CreatedAt: at(0)},
		{UserID: a.ID, Address: "gone@example.com", Kind: store.SuppressUnsubscribe, Reason: "asked", CreatedAt: at(1)},
		{UserID: a.ID, Address: "sales1@example.com", Kind: store.SuppressUnsubscribe, CreatedAt: at(2)},
		{UserID: a.ID, Address: "sales_2@example.com", Kind: store.SuppressUnsubscribe, CreatedAt: at(3)},
		{UserID: a.ID, Address: "spam@example.com", Kind: store.SuppressSpamReport, CreatedAt: at(4)},
		{UserID: b.ID, Address: "gone@example.com", Kind: store.SuppressBlock, CreatedAt: at(5)},
	})
	if err != nil || len(added) != 6 {
		t.Fatalf("AddSuppressions: %d added, %v", len(added), err)
	}
	if added[0].Address != "gone@example.com" || added[0].Kind != store.SuppressBounce {
		t.Errorf("added[0] = %+v", added[0])
	}
	checkTime(t, "added CreatedAt", added[0].CreatedAt, stored(at(0)))
	// Adding again adds nothing and changes nothing.
	again, err := s.AddSuppressions(ctx, []store.Suppression{
		{UserID: a.ID, Address: "GONE@example.com", Kind: store.SuppressUnsubscribe, Reason: "other", CreatedAt: at(9)},
		{UserID: a.ID, Address: "new@example.com", Kind: store.SuppressUnsubscribe, CreatedAt: at(9)},
	})
	if err != nil || len(again) != 1 || again[0].Address != "new@example.com" {
		t.Fatalf("AddSuppressions again: %+v %v", again, err)
	}
	if err := s.AddSuppression(ctx, store.Suppression{UserID: a.ID, Address: "gone@example.com", Kind: store.SuppressUnsubscribe, CreatedAt: base}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("AddSuppression of a listed entry: %v", err)
	}
	// An entry added without a kind is a bounce.
	if err := s.AddSuppression(ctx, store.Suppression{UserID: b.ID, Address: "x@example.com", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	find := func(f store.SuppressionFilter) string {
		t.Helper()
		list, err := s.FindSuppressions(ctx, f)
		if err != nil {
			t.Fatalf("FindSuppressions(%+v): %v", f, err)
		}
		out := ""
		for _, e := range list {
			out += fmt.Sprintf("%s/%s ", e.Address, e.Kind)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.SuppressionFilter
		want string
	}{
		{"all of a user", store.SuppressionFilter{UserID: a.ID},
			"gone@example.com/bounce gone@example.com/unsubscribe new@example.com/unsubscribe sales1@example.com/unsubscribe sales_2@example.com/unsubscribe spam@example.com/spam_report "},
		{"one kind", store.SuppressionFilter{UserID: a.ID, Kind: store.SuppressUnsubscribe},
			"gone@example.com/unsubscribe new@example.com/unsubscribe sales1@example.com/unsubscribe sales_2@example.com/unsubscribe "},
		{"other user", store.SuppressionFilter{UserID: b.ID}, "gone@example.com/block x@example.com/bounce "},
		{"one address", store.SuppressionFilter{UserID: a.ID, Address: "GONE@example.com"}, "gone@example.com/bounce gone@example.com/unsubscribe "},
		{"address and kind", store.SuppressionFilter{UserID: a.ID, Address: "gone@example.com", Kind: store.SuppressBlock}, ""},
		{"prefix", store.SuppressionFilter{UserID: a.ID, AddressPrefix: "Sales"}, "sales1@example.com/unsubscribe sales_2@example.com/unsubscribe "},
		{"prefix: _ is no wildcard", store.SuppressionFilter{UserID: a.ID, AddressPrefix: "sales_"}, "sales_2@example.com/unsubscribe "},
		{"prefix: % is", store.SuppressionFilter{UserID: a.ID, AddressPrefix: "%am@"}, "spam@example.com/spam_report "},
		{"since, inclusive", store.SuppressionFilter{UserID: a.ID, Kind: store.SuppressUnsubscribe, Since: at(2)},
			"new@example.com/unsubscribe sales1@example.com/unsubscribe sales_2@example.com/unsubscribe "},
		{"until, inclusive", store.SuppressionFilter{UserID: a.ID, Until: at(1)}, "gone@example.com/bounce gone@example.com/unsubscribe "},
		{"window", store.SuppressionFilter{UserID: a.ID, Since: at(1), Until: at(3)},
			"gone@example.com/unsubscribe sales1@example.com/unsubscribe sales_2@example.com/unsubscribe "},
		{"limit", store.SuppressionFilter{UserID: a.ID, Limit: 2}, "gone@example.com/bounce gone@example.com/unsubscribe "},
		{"limit and offset", store.SuppressionFilter{UserID: a.ID, Limit: 2, Offset: 2}, "new@example.com/unsubscribe sales1@example.com/unsubscribe "},
		{"offset alone", store.SuppressionFilter{UserID: a.ID, Offset: 5}, "spam@example.com/spam_report "},
	} {
		if got := find(tc.f); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// Delivery sees an address on any list; on several, the oldest entry.
	got, err := s.Suppressed(ctx, a.ID, []string{"Gone@example.com", "nobody@example.com"})
	if err != nil || len(got) != 1 || got["Gone@example.com"].Kind != store.SuppressBounce {
		t.Fatalf("Suppressed: %+v %v", got, err)
	}
	// Deleting one kind of an address leaves its other kinds.
	if n, err := s.DeleteSuppressions(ctx, a.ID, store.SuppressBounce, []string{"GONE@example.com", "absent@example.com"}); err != nil || n != 1 {
		t.Fatalf("DeleteSuppressions one: %d %v", n, err)
	}
	if got, _ := s.Suppressed(ctx, a.ID, []string{"gone@example.com"}); got["gone@example.com"].Kind != store.SuppressUnsubscribe {
		t.Fatalf("after deleting the bounce: %+v", got)
	}
	// Deleting every entry of a kind touches no other kind, no other user.
	if n, err := s.DeleteSuppressions(ctx, a.ID, store.SuppressUnsubscribe, nil); err != nil || n != 4 {
		t.Fatalf("DeleteSuppressions all unsubscribes: %d %v", n, err)
	}
	if got := find(store.SuppressionFilter{UserID: a.ID}); got != "spam@example.com/spam_report " {
		t.Fatalf("after delete all: %q", got)
	}
	if got := find(store.SuppressionFilter{UserID: b.ID}); got != "gone@example.com/block x@example.com/bounce " {
		t.Fatalf("the other user's lists changed: %q", got)
	}
	// An empty list of addresses deletes nothing.
	if n, err := s.DeleteSuppressions(ctx, b.ID, "", []string{}); err != nil || n != 0 {
		t.Fatalf("DeleteSuppressions of no address: %d %v", n, err)
	}
	// RemoveSuppression takes the address off every list.
	if err := s.RemoveSuppression(ctx, b.ID, "gone@example.com"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteSuppressions(ctx, b.ID, "", nil); err != nil || n != 1 {
		t.Fatalf("DeleteSuppressions of every kind: %d %v", n, err)
	}
}
