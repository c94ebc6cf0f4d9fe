package admin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/ratelimit"
)

// Limits are the operator's: no key, not even a full one, sets or lists
// them; the operator's changes are checked and stored.
func TestLimits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hour := ratelimit.Limit{Period: ratelimit.Hour, Messages: 20, Mode: ratelimit.ModeReject}
	for who, a := range e.keyActors() {
		if _, err := e.s.SetLimit(ctx, a, admin.LimitTarget{User: "shop"}, hour); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("%s sets a limit: %v", who, err)
		}
		if _, err := e.s.ListLimits(ctx, a); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("%s lists limits: %v", who, err)
		}
	}
	_, key := e.rawKey("shop")
	for _, tc := range []struct {
		name   string
		target admin.LimitTarget
		lim    ratelimit.Limit
		ok     func(error) bool
	}{
		{"user", admin.LimitTarget{User: "shop"}, hour, noErr},
		{"key", admin.LimitTarget{Key: key.ID}, hour, noErr},
		{"both", admin.LimitTarget{User: "shop", Key: key.ID}, hour, invalidField("")},
		{"neither", admin.LimitTarget{}, hour, invalidField("")},
		{"unknown user", admin.LimitTarget{User: "nobody"}, hour, isErr(admin.ErrNotFound)},
		{"unknown key", admin.LimitTarget{Key: "aaaaaaaaaaaaaaaa"}, hour, isErr(admin.ErrNotFound)},
		{"bad period", admin.LimitTarget{User: "shop"}, ratelimit.Limit{Period: "fortnight", Messages: 1, Mode: ratelimit.ModeReject}, invalidField("limit")},
	} {
		if _, err := e.s.SetLimit(ctx, e.op(""), tc.target, tc.lim); !tc.ok(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	rows, err := e.s.ListLimits(ctx, e.op(""))
	if err != nil || len(rows) != 2 {
		t.Fatalf("limits %+v %v, want the user's and the key's", rows, err)
	}
	// Usage: the operator for anyone, a key for its own user only.
	if u, err := e.s.UserUsage(ctx, e.op(""), "shop", envTime); err != nil || len(u) != len(ratelimit.Periods()) {
		t.Fatalf("usage %+v %v", u, err)
	}
	if _, err := e.s.UserUsage(ctx, e.key("shop", ""), "shop", envTime); err != nil {
		t.Fatalf("shop's own usage: %v", err)
	}
	if _, err := e.s.UserUsage(ctx, e.key("beta", ""), "shop", envTime); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("beta reads shop's usage: %v", err)
	}
}
