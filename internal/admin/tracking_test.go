package admin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/postern/postern/internal/admin"
)

// Subscription tracking is the acting user's own switch: read and set
// with SendGrid's scopes, a subuser's through On-Behalf-Of, nobody
// else's; the operator's user set reaches it too.
func TestSubscriptionTracking(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	on, off := true, false
	if got, err := e.s.SubscriptionTracking(ctx, e.key("shop", "")); err != nil || got {
		t.Fatalf("default: %v, %v; want off", got, err)
	}
	if got, err := e.s.SetSubscriptionTracking(ctx, e.key("acme", "shop"), &on); err != nil || !got {
		t.Fatalf("acme for shop, on: %v, %v", got, err)
	}
	if u, _ := e.st.UserByName(ctx, "shop"); !u.ListUnsubscribe {
		t.Errorf("shop after on: %+v", u)
	}
	if u, _ := e.st.UserByName(ctx, "acme"); u.ListUnsubscribe {
		t.Errorf("acme changed with shop: %+v", u)
	}
	if got, err := e.s.SubscriptionTracking(ctx, e.key("shop", "", admin.ScopeSubscriptionRead)); err != nil || !got {
		t.Errorf("shop reads: %v, %v", got, err)
	}
	// nil leaves it, and answers it, with the update scope alone.
	if got, err := e.s.SetSubscriptionTracking(ctx, e.key("shop", "", admin.ScopeSubscriptionUpdate), nil); err != nil || !got {
		t.Errorf("nil: %v, %v", got, err)
	}
	for name, a := range map[string]admin.Actor{
		"read scope only":   e.key("shop", "", admin.ScopeSubscriptionRead),
		"mail.send only":    e.key("shop", "", "mail.send"),
		"update scope only": e.key("shop", "", admin.ScopeSubscriptionUpdate),
	} {
		_, rerr := e.s.SubscriptionTracking(ctx, a)
		_, werr := e.s.SetSubscriptionTracking(ctx, a, &off)
		wantR := a.Can(admin.ScopeSubscriptionRead)
		wantW := a.Can(admin.ScopeSubscriptionUpdate)
		if (rerr == nil) != wantR || !wantR && !errors.Is(rerr, admin.ErrForbidden) {
			t.Errorf("%s: read %v", name, rerr)
		}
		if (werr == nil) != wantW || !wantW && !errors.Is(werr, admin.ErrForbidden) {
			t.Errorf("%s: set %v", name, werr)
		}
	}
	if _, err := e.s.SubscriptionTracking(ctx, e.op("")); !invalidField("")(err) {
		t.Errorf("operator for no one: %v", err)
	}
	// The operator: user set --list-unsubscribe.
	if err := e.s.SetUserSettings(ctx, e.op(""), "beta", admin.UserSettings{ListUnsubscribe: &on}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.s.SubscriptionTracking(ctx, e.key("beta", "")); !got {
		t.Error("beta after the operator's on")
	}
	if err := e.s.SetUserSettings(ctx, e.key("beta", ""), "beta", admin.UserSettings{ListUnsubscribe: &off}); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("a key with SetUserSettings: %v", err)
	}
}
