package admin_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

func rulePrefixes(rules []admin.IPRule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.IP)
	}
	return out
}

func TestIPRules(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acme := e.key("acme", "")
	rules, err := e.s.AddIPRules(ctx, acme, []string{"192.0.2.7/24", " 2001:db8::1 ", "10.*.*.*", "192.0.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if got := rulePrefixes(rules); len(got) != 3 || got[0] != "192.0.2.0/24" || got[1] != "2001:db8::1/128" || got[2] != "10.0.0.0/8" {
		t.Fatalf("added %v: want canonical, repeats dropped", got)
	}
	if !rules[0].Created.Equal(e.now) || !rules[0].Updated.Equal(e.now) || rules[0].ID == 0 {
		t.Fatalf("rule %+v", rules[0])
	}
	// All or none: a listed network adds nothing.
	if _, err := e.s.AddIPRules(ctx, acme, []string{"198.51.100.0/24", "10.0.0.0/8"}); !errors.Is(err, admin.ErrConflict) {
		t.Fatalf("add a listed network: %v", err)
	}
	list, err := e.s.ListIPRules(ctx, e.op("acme"))
	if err != nil || len(list) != 3 || list[2] != rules[2] {
		t.Fatalf("operator's list %+v %v", list, err)
	}
	if got, err := e.s.GetIPRule(ctx, acme, rules[1].ID); err != nil || got != rules[1] {
		t.Fatalf("get %+v %v", got, err)
	}
	// The rules hold for the account's keys and its subusers'.
	for _, u := range []store.User{e.acme, e.shop} {
		k := e.key(u.Name, "").Key
		if _, err := e.accts.Admit(ctx, k, netip.MustParseAddr("198.51.100.1")); !errors.Is(err, account.ErrIPNotAllowed) {
			t.Errorf("%s's key from an unlisted address: %v", u.Name, err)
		}
		if _, err := e.accts.Admit(ctx, k, netip.MustParseAddr("10.1.2.3")); err != nil {
			t.Errorf("%s's key from a listed address: %v", u.Name, err)
		}
	}
	if _, err := e.accts.Admit(ctx, e.key("beta", "").Key, netip.MustParseAddr("198.51.100.1")); err != nil {
		t.Errorf("another account's key is restricted: %v", err)
	}

	// Another tenant's ids are not found, and nothing of the request goes.
	beta := e.key("beta", "")
	bRules, err := e.s.AddIPRules(ctx, beta, []string{"203.0.113.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.GetIPRule(ctx, beta, rules[0].ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("beta gets acme's rule: %v", err)
	}
	if err := e.s.DeleteIPRules(ctx, acme, []int64{rules[0].ID, bRules[0].ID}); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("acme deletes beta's rule: %v", err)
	}
	if list, _ := e.s.ListIPRules(ctx, acme); len(list) != 3 {
		t.Errorf("a refused delete removed rules: %v", rulePrefixes(list))
	}
	if list, _ := e.s.ListIPRules(ctx, beta); len(list) != 1 || list[0] != bRules[0] {
		t.Errorf("beta's list %+v", list)
	}
	if err := e.s.DeleteIPRules(ctx, acme, []int64{rules[0].ID, rules[1].ID}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteIPRule(ctx, acme, rules[0].ID); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	// The CLI names rules by network.
	if r, err := e.s.RemoveIPRule(ctx, e.op("acme"), "10.*.*.*"); err != nil || r.ID != rules[2].ID {
		t.Errorf("remove 10.0.0.0/8: %+v %v", r, err)
	}
	if _, err := e.s.RemoveIPRule(ctx, e.op("acme"), "10.0.0.0/8"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
	if list, _ := e.s.ListIPRules(ctx, acme); len(list) != 0 {
		t.Errorf("after deleting all: %v", rulePrefixes(list))
	}
}

// TestIPRulesRefused: scopes, subusers, bad input.
func TestIPRulesRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rules, err := e.s.AddIPRules(ctx, e.op("acme"), []string{"192.0.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	id := rules[0].ID
	readOnly := e.key("acme", "", admin.ScopeWhitelistRead)
	sendOnly := e.key("acme", "", account.ScopeMailSend)
	shop, acmeForShop := e.key("shop", ""), e.key("acme", "shop")
	for _, tc := range []struct {
		name string
		do   func() error
		want func(error) bool
	}{
		{"list without the scope", func() error { _, err := e.s.ListIPRules(ctx, sendOnly); return err }, isErr(admin.ErrForbidden)},
		{"get without the scope", func() error { _, err := e.s.GetIPRule(ctx, sendOnly, id); return err }, isErr(admin.ErrForbidden)},
		{"add without the scope", func() error { _, err := e.s.AddIPRules(ctx, readOnly, []string{"10.0.0.1"}); return err }, isErr(admin.ErrForbidden)},
		{"delete without the scope", func() error { return e.s.DeleteIPRules(ctx, readOnly, []int64{id}) }, isErr(admin.ErrForbidden)},
		{"remove without the scope", func() error { _, err := e.s.RemoveIPRule(ctx, readOnly, "192.0.2.0/24"); return err }, isErr(admin.ErrForbidden)},
		{"subuser lists", func() error { _, err := e.s.ListIPRules(ctx, shop); return err }, isErr(admin.ErrForbidden)},
		{"subuser adds", func() error { _, err := e.s.AddIPRules(ctx, shop, []string{"10.0.0.1"}); return err }, isErr(admin.ErrForbidden)},
		{"account for its subuser lists", func() error { _, err := e.s.ListIPRules(ctx, acmeForShop); return err }, isErr(admin.ErrForbidden)},
		{"operator for a subuser adds", func() error { _, err := e.s.AddIPRules(ctx, e.op("shop"), []string{"10.0.0.1"}); return err }, isErr(admin.ErrForbidden)},
		{"subuser gets its account's rule", func() error { _, err := e.s.GetIPRule(ctx, shop, id); return err }, isErr(admin.ErrNotFound)},
		{"subuser deletes its account's rule", func() error { return e.s.DeleteIPRule(ctx, shop, id) }, isErr(admin.ErrNotFound)},
		{"account for its subuser deletes", func() error { return e.s.DeleteIPRule(ctx, acmeForShop, id) }, isErr(admin.ErrNotFound)},
		{"no IPs", func() error { _, err := e.s.AddIPRules(ctx, e.op("acme"), nil); return err }, invalidField("ips")},
		{"bad IP", func() error { _, err := e.s.AddIPRules(ctx, e.op("acme"), []string{"10.0.0.1", "nope"}); return err }, invalidField("ips")},
		{"no ids", func() error { return e.s.DeleteIPRules(ctx, e.op("acme"), nil) }, invalidField("ids")},
		{"too many", func() error {
			_, err := e.s.AddIPRules(ctx, e.op("acme"), make([]string, admin.MaxIPRulesPerRequest+1))
			return err
		}, invalidField("ips")},
	} {
		if err := tc.do(); !tc.want(err) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if list, _ := e.s.ListIPRules(ctx, e.op("acme")); len(list) != 1 {
		t.Errorf("refused operations changed the list: %v", rulePrefixes(list))
	}
}

func TestParseIPRule(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1/32"},
		{"192.0.2.1/24", "192.0.2.0/24"},
		{" 2001:db8::1 ", "2001:db8::1/128"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"192.*.*.*", "192.0.0.0/8"},
		{"192.168.*.*", "192.168.0.0/16"},
		{"192.168.1.*", "192.168.1.0/24"},
		{"*.*.*.*", "0.0.0.0/0"},
		{"192.*.1.*", ""},
		{"192.168.*", ""},
		{"192.168.01.*", ""},
		{"192.168.256.*", ""},
		{"192.168.*.*/16", ""},
		{"*", ""},
		{"", ""},
		{"fe80::1%eth0", ""},
		{"example.com", ""},
		{"192.0.2.1/33", ""},
	} {
		p, err := admin.ParseIPRule(tc.in)
		if tc.want == "" {
			if !invalidField("ips")(err) {
				t.Errorf("ParseIPRule(%q) = %v, %v; want an *InvalidError", tc.in, p, err)
			}
			continue
		}
		if err != nil || p.String() != tc.want {
			t.Errorf("ParseIPRule(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
		}
	}
}

// FuzzParseIPRule: whatever it accepts is a canonical prefix that reads
// back as itself.
func FuzzParseIPRule(f *testing.F) {
	for _, s := range []string{"192.0.2.1", "10.*.*.*", "2001:db8::/48", "1.2.*.*", "::ffff:1.2.3.4/120"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := admin.ParseIPRule(s)
		if err != nil {
			var inv *admin.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("error %v is not an *InvalidError", err)
			}
			return
		}
		if !p.IsValid() || p != p.Masked() {
			t.Fatalf("ParseIPRule(%q) = %v: not canonical", s, p)
		}
		again, err := admin.ParseIPRule(p.String())
		if err != nil || again != p {
			t.Fatalf("ParseIPRule(%q) = %v reads back as %v, %v", s, p, again, err)
		}
	})
}
