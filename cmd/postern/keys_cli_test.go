package main

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
)

var ukLoopback = netip.MustParseAddr("127.0.0.1")

// The apikey and user commands over internal/admin: --scopes full, show,
// rename, scopes, and the words of admin's refusals.
func TestCLIKeysThroughAdmin(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return c.run(nil, append(cfg, args...)...)
	}
	for _, args := range [][]string{{"user", "create", "acme"}, {"user", "create", "shop", "--parent", "acme"}} {
		if code, _, errOut := run(args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
	}
	all := strings.Join(account.KnownScopes(), ",")
	code, out, errOut := run("apikey", "create", "--user", "acme", "--name", "admin", "--scopes", "full")
	if code != 0 || !keyRE.MatchString(out) || !strings.Contains(errOut, "(scopes "+all+")") {
		t.Fatalf("apikey create --scopes full: %d %q %q", code, out, errOut)
	}
	key := strings.TrimSpace(out)
	id, _ := account.ParseKey(key)

	show := func(ref string) string {
		t.Helper()
		code, out, errOut := run("apikey", "show", ref)
		if code != 0 {
			t.Fatalf("apikey show: %d %q", code, errOut)
		}
		return out
	}
	out = show(id)
	for _, want := range []string{"id:      " + id + "\n", "user:    acme\n", "name:    admin\n", "scopes:  " + all + "\n", "state:   active\n", "from:    any\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("apikey show lacks %q:\n%s", want, out)
		}
	}
	if out := show(key); !strings.Contains(out, id) || strings.Contains(out, key) {
		t.Errorf("apikey show by the whole key:\n%s", out)
	}

	for _, tc := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"apikey", "rename", id, "the admin key"}, 0, "", "renamed API key " + id + " to the admin key"},
		{[]string{"apikey", "scopes", id, "mail.send,stats.read"}, 0, "", "now has the scopes mail.send,stats.read"},
		{[]string{"apikey", "show", id}, 0, "name:    the admin key\nscopes:  mail.send,stats.read\n", ""},
		{[]string{"apikey", "list", "--user", "acme"}, 0, "the admin key", ""},
		{[]string{"apikey", "scopes", id, "bogus"}, 1, "", "bogus"},
		{[]string{"apikey", "rename", id, "bad\x01name"}, 1, "", "control character"},
		{[]string{"apikey", "rename", id}, 2, "", "usage"},
		{[]string{"apikey", "show"}, 2, "", "usage"},
		{[]string{"apikey", "show", "aaaaaaaaaaaaaaaa"}, 1, "", `API key "aaaaaaaaaaaaaaaa" not found`},
		{[]string{"apikey", "scopes", "aaaaaaaaaaaaaaaa", "full"}, 1, "", "not found"},
		{[]string{"apikey", "revoke", id}, 0, "", "revoked API key " + id},
		{[]string{"apikey", "show", id}, 0, "state:   revoked ", ""},
		{[]string{"apikey", "revoke", id}, 0, "", "revoked"}, // the operator's revoke is idempotent
		{[]string{"apikey", "list", "--user", "nobody"}, 1, "", `user "nobody" not found`},
		{[]string{"user", "create", "x", "--parent", "nobody"}, 1, "", `account "nobody" not found`},
		{[]string{"user", "create", "x", "--parent", "shop"}, 1, "", "subusers cannot have subusers"},
		{[]string{"user", "create", "Bad Name"}, 1, "", "invalid user name"},
		{[]string{"user", "set", "nobody", "--spam-threshold", "2"}, 1, "", `user "nobody" not found`},
		{[]string{"user", "set", "shop", "--originating-ip", "off", "--spam-threshold", "2"}, 0, "", "spam threshold 2 for shop"},
		{[]string{"user", "show", "shop"}, 0, "x-originating-ip: off\nspam threshold:   2\n", ""},
	} {
		code, out, errOut := run(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.errOut) {
			t.Errorf("postern %q: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", tc.args, code, out, errOut, tc.code, tc.out, tc.errOut)
		}
		if strings.Contains(out+errOut, key) {
			t.Errorf("postern %q printed the key", tc.args)
		}
	}
}

// A subuser made through the API (admin's CreateSubuser for a key of its
// account) is one the CLI shows, with its email; a subuser the API
// deleted is gone for the CLI too.
func TestCLIShowsAPISubuser(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	if code, _, errOut := c.run(nil, append(cfg, "user", "create", "acme")...); code != 0 {
		t.Fatal(errOut)
	}
	a := openApp(t, c.config)
	ctx := context.Background()
	_, rec, err := a.Accounts.CreateKey(ctx, "acme", "api", account.KnownScopes())
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Accounts.Admit(ctx, rec, ukLoopback)
	if err != nil {
		t.Fatal(err)
	}
	act, err := a.Admin.KeyActor(ctx, p, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Admin.CreateSubuser(ctx, act, admin.NewSubuser{Name: "news", Email: "ops@acme.example", Password: "long enough"}); err != nil {
		t.Fatal(err)
	}
	code, out, _ := c.run(nil, append(cfg, "user", "show", "news")...)
	if code != 0 || !strings.Contains(out, "parent:           acme\nemail:            ops@acme.example\n") {
		t.Errorf("user show news: %d\n%s", code, out)
	}
	if err := a.Admin.DeleteSubuser(ctx, act, "news"); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := c.run(nil, append(cfg, "user", "show", "news")...); code != 1 || !strings.Contains(errOut, "not found") {
		t.Errorf("user show of a deleted subuser: %d %q", code, errOut)
	}
	if _, out, _ := c.run(nil, append(cfg, "user", "list")...); strings.Contains(out, "news") {
		t.Errorf("user list shows the deleted subuser:\n%s", out)
	}
}
