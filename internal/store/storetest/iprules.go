package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/postern/postern/internal/store"
)

// testIPRules: an account's allow-list entries have ids, are added and
// deleted all or none, and belong to their account only.
func testIPRules(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, "acme", "")
	b := mustCreateUser(t, s, "beta", "")
	rules, err := s.AddIPRules(ctx, a.ID, []string{"192.0.2.0/24", "2001:db8::/48"}, base)
	if err != nil || len(rules) != 2 {
		t.Fatalf("AddIPRules: %+v %v", rules, err)
	}
	if rules[0].ID == 0 || rules[1].ID == rules[0].ID || rules[0].Prefix != "192.0.2.0/24" || rules[0].AccountID != a.ID {
		t.Fatalf("rules %+v", rules)
	}
	checkTime(t, "CreatedAt", rules[0].CreatedAt, stored(base))
	checkTime(t, "UpdatedAt", rules[0].UpdatedAt, stored(base))
	// All or none: one listed prefix adds nothing.
	if _, err := s.AddIPRules(ctx, a.ID, []string{"198.51.100.0/24", "192.0.2.0/24"}, base); !errors.Is(err, store.ErrExists) {
		t.Fatalf("AddIPRules with a listed prefix: %v", err)
	}
	list, err := s.IPRules(ctx, a.ID)
	if err != nil || len(list) != 2 || list[0] != rules[0] || list[1] != rules[1] {
		t.Fatalf("IPRules = %+v %v, want %+v", list, err, rules)
	}
	if ips, _ := s.AllowedIPs(ctx, a.ID); strings.Join(ips, ",") != "192.0.2.0/24,2001:db8::/48" {
		t.Fatalf("AllowedIPs = %v", ips)
	}
	bRules, err := s.AddIPRules(ctx, b.ID, []string{"192.0.2.0/24"}, base)
	if err != nil {
		t.Fatal(err)
	}
	// Another account's id deletes nothing, not even the own ids with it.
	if err := s.DeleteIPRules(ctx, a.ID, []int64{rules[0].ID, bRules[0].ID}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteIPRules with another account's id: %v", err)
	}
	if list, _ := s.IPRules(ctx, a.ID); len(list) != 2 {
		t.Fatalf("a failed delete removed something: %+v", list)
	}
	if err := s.DeleteIPRules(ctx, a.ID, []int64{rules[0].ID, rules[0].ID}); err != nil {
		t.Fatalf("DeleteIPRules: %v", err)
	}
	if list, _ := s.IPRules(ctx, a.ID); len(list) != 1 || list[0].ID != rules[1].ID {
		t.Fatalf("after delete: %+v", list)
	}
	// Ids are not reused.
	more, err := s.AddIPRules(ctx, a.ID, []string{"192.0.2.0/24"}, base)
	if err != nil || more[0].ID <= bRules[0].ID {
		t.Fatalf("re-added rule %+v %v: id not new", more, err)
	}
	if list, _ := s.IPRules(ctx, b.ID); len(list) != 1 || list[0] != bRules[0] {
		t.Fatalf("the other account's rules: %+v", list)
	}
}
