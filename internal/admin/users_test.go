package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		actor        admin.Actor
		user, parent string
		check        func(error) bool
	}{
		{"account", e.op(""), "gamma", "", noErr},
		{"subuser", e.op(""), "gsub", "gamma", noErr},
		{"taken", e.op(""), "shop", "", isErr(admin.ErrConflict)},
		{"no such parent", e.op(""), "x", "nobody", isErr(admin.ErrNotFound)},
		{"parent a subuser", e.op(""), "x", "shop", invalidField("parent")},
		{"bad name", e.op(""), "Bad Name", "", invalidField("username")},
		{"reserved name", e.op(""), "apikey", "", invalidField("username")},
		{"a key, even a full one", e.key("acme", ""), "delta", "", isErr(admin.ErrForbidden)},
		{"a key, for a subuser", e.key("acme", ""), "delta", "acme", isErr(admin.ErrForbidden)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := e.s.CreateUser(ctx, tc.actor, tc.user, tc.parent)
			if !tc.check(err) {
				t.Fatalf("CreateUser: %v", err)
			}
			if err == nil && (u.Name != tc.user || u.ParentName != tc.parent || !u.CreatedAt.Equal(envTime)) {
				t.Errorf("CreateUser = %+v", u)
			}
		})
	}
	if _, err := e.st.UserByName(ctx, "delta"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a key created delta: %v", err)
	}
}

func TestCreateSubuser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	const pw = "correct horse battery"
	ok := admin.NewSubuser{Name: "news", Email: "ops@acme.example", Password: pw}
	with := func(f func(*admin.NewSubuser)) admin.NewSubuser { n := ok; f(&n); return n }
	for _, tc := range []struct {
		name  string
		actor admin.Actor
		n     admin.NewSubuser
		check func(error) bool
	}{
		{"no scope", e.key("acme", "", "subusers.read", "mail.send"), ok, isErr(admin.ErrForbidden)},
		{"a subuser's key", e.key("shop", ""), with(func(n *admin.NewSubuser) { n.Name = "s1" }), isErr(admin.ErrForbidden)},
		{"on behalf of a subuser", e.key("acme", "shop"), with(func(n *admin.NewSubuser) { n.Name = "s2" }), isErr(admin.ErrForbidden)},
		{"short password", e.key("acme", ""), with(func(n *admin.NewSubuser) { n.Password = "7 chars" }), invalidField("password")},
		{"long password", e.key("acme", ""), with(func(n *admin.NewSubuser) { n.Password = strings.Repeat("p", 73) }), invalidField("password")},
		{"no email", e.key("acme", ""), with(func(n *admin.NewSubuser) { n.Email = "" }), invalidField("email")},
		{"not an address", e.key("acme", ""), with(func(n *admin.NewSubuser) { n.Email = "ops" }), invalidField("email")},
		{"display name", e.key("acme", ""), with(func(n *admin.NewSubuser) { n.Email = "Ops <ops@acme.example>" }), invalidField("email")},
		{"bad name", e.key("acme", ""), with(func(n *admin.NewSubuser) { n.Name = "-x" }), invalidField("username")},
		{"another tenant's name", e.key("acme", ""), with(func(n *admin.NewSubuser) { n.Name = "bsub" }), isErr(admin.ErrConflict)},
		{"password of 8 runes, the least", e.key("acme", "", "subusers.create"), with(func(n *admin.NewSubuser) { n.Password = "ééééaaaa" }), noErr},
		{"operator", e.op("beta"), with(func(n *admin.NewSubuser) { n.Name = "bnews" }), noErr},
		{"operator for a subuser", e.op("shop"), with(func(n *admin.NewSubuser) { n.Name = "s4" }), isErr(admin.ErrForbidden)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := e.s.CreateSubuser(ctx, tc.actor, tc.n)
			if !tc.check(err) {
				t.Fatalf("CreateSubuser: %v", err)
			}
			if err != nil {
				if strings.Contains(err.Error(), tc.n.Password) {
					t.Errorf("the error holds the password: %v", err)
				}
				return
			}
			if u.Name != tc.n.Name || u.ParentName != tc.actor.User.Name || u.Email != tc.n.Email || u.ID == 0 {
				t.Errorf("CreateSubuser = %+v", u)
			}
			stored, err := e.st.UserByName(ctx, tc.n.Name)
			if err != nil || stored.Email != tc.n.Email || stored.ParentID != tc.actor.User.ID {
				t.Errorf("stored: %+v, %v", stored, err)
			}
			// The password is kept as a bcrypt hash, of cost 12 at least.
			h, err := e.st.PasswordHash(ctx, tc.n.Name)
			if err != nil || bcrypt.CompareHashAndPassword(h, []byte(tc.n.Password)) != nil || strings.Contains(string(h), tc.n.Password) {
				t.Fatalf("stored hash %q, %v", h, err)
			}
			if cost, _ := bcrypt.Cost(h); cost < 12 {
				t.Errorf("bcrypt cost %d", cost)
			}
		})
	}
}

func TestListSubusers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, n := range []string{"zed", "alpha"} {
		if _, err := e.s.CreateUser(ctx, e.op(""), n, "acme"); err != nil {
			t.Fatal(err)
		}
	}
	names := func(us []store.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		actor admin.Actor
		f     admin.SubuserFilter
		want  []string
	}{
		{"account", e.key("acme", ""), admin.SubuserFilter{}, []string{"alpha", "shop", "zed"}},
		{"other account", e.key("beta", ""), admin.SubuserFilter{}, []string{"bsub"}},
		{"by name", e.key("acme", ""), admin.SubuserFilter{Name: "shop"}, []string{"shop"}},
		{"another tenant's name", e.key("acme", ""), admin.SubuserFilter{Name: "bsub"}, nil},
		{"paged", e.key("acme", ""), admin.SubuserFilter{Limit: 1, Offset: 1}, []string{"shop"}},
		{"past the end", e.key("acme", ""), admin.SubuserFilter{Offset: 3}, nil},
		{"a subuser has none", e.key("shop", ""), admin.SubuserFilter{}, nil},
		{"on behalf of a subuser", e.key("acme", "shop"), admin.SubuserFilter{}, nil},
		{"operator for no one", e.op(""), admin.SubuserFilter{}, []string{"alpha", "bsub", "shop", "zed"}},
		{"operator for beta", e.op("beta"), admin.SubuserFilter{}, []string{"bsub"}},
	} {
		got, err := e.s.ListSubusers(ctx, tc.actor, tc.f)
		if err != nil || !slices.Equal(names(got), tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.name, names(got), err, tc.want)
		}
	}
	if _, err := e.s.ListSubusers(ctx, e.key("acme", "", "subusers.create"), admin.SubuserFilter{}); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("without subusers.read: %v", err)
	}
}

// Each subuser operation, by each kind of actor, on each kind of user:
// only an account's own subusers are reached; anything else is not found,
// and unchanged.
func TestSubuserTenancy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	actors := e.keyActors()
	actors["operator"] = e.op("")
	n := 0
	for _, tc := range []struct {
		actor  string
		target string // "acme/", "beta/": a fresh subuser of that account; else that user
		reach  bool
	}{
		{"acme", "acme/", true},
		{"acme", "acme", false}, // an account is no subuser
		{"acme", "beta/", false},
		{"acme", "beta", false},
		{"acme", "nobody", false},
		{"acme obo shop", "acme/", false}, // acting as shop, which has none
		{"acme obo shop", "shop", false},
		{"shop", "shop", false},
		{"shop", "acme/", false},
		{"shop", "acme", false},
		{"beta", "acme/", false},
		{"beta", "beta/", true},
		{"operator", "acme/", true},
		{"operator", "beta/", true},
		{"operator", "acme", false},
	} {
		for _, op := range []string{"get", "disable", "delete"} {
			target := tc.target
			if account, ok := strings.CutSuffix(target, "/"); ok {
				n++
				target = fmt.Sprintf("%s-sub%d", account, n)
				if _, err := e.st.CreateUser(ctx, target, account); err != nil {
					t.Fatal(err)
				}
			}
			a := actors[tc.actor]
			var err error
			switch op {
			case "get":
				var u store.User
				u, err = e.s.GetSubuser(ctx, a, target)
				if err == nil && u.Name != target {
					t.Errorf("GetSubuser(%s) = %s", target, u.Name)
				}
			case "disable":
				err = e.s.SetSubuserDisabled(ctx, a, target, true)
			case "delete":
				err = e.s.DeleteSubuser(ctx, a, target)
			}
			if tc.reach && err != nil || !tc.reach && !errors.Is(err, admin.ErrNotFound) {
				t.Errorf("%s %s %s: %v (reaches: %v)", tc.actor, op, target, err, tc.reach)
			}
			if u, err := e.st.UserByName(ctx, target); !tc.reach && target != "nobody" && (err != nil || u.Suspended()) {
				t.Errorf("%s %s %s changed it: %+v, %v", tc.actor, op, target, u, err)
			}
		}
	}
}

func TestDeleteSubuser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret, _ := e.rawKey("shop")
	a := e.key("acme", "", "subusers.delete", "subusers.create", "subusers.read")
	if err := e.s.DeleteSubuser(ctx, a, "shop"); err != nil {
		t.Fatal(err)
	}
	// Its keys are revoked with it; it is gone, but its name stays taken.
	if _, err := e.accts.Authenticate(ctx, account.Username, secret); !errors.Is(err, account.ErrRevoked) {
		t.Errorf("AUTH with the deleted subuser's key: %v, want ErrRevoked", err)
	}
	if _, err := e.s.GetSubuser(ctx, a, "shop"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("GetSubuser after delete: %v", err)
	}
	if _, err := e.s.CreateSubuser(ctx, a, admin.NewSubuser{Name: "shop", Email: "a@b.example", Password: "12345678"}); !errors.Is(err, admin.ErrConflict) {
		t.Errorf("the deleted name again: %v, want ErrConflict", err)
	}
	if _, err := e.s.KeyActor(ctx, account.Principal{Key: a.Key, User: a.User, Account: a.Account}, "shop"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("On-Behalf-Of the deleted subuser: %v", err)
	}
	if err := e.s.DeleteSubuser(ctx, a, "shop"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
	if err := e.s.DeleteSubuser(ctx, e.key("acme", "", "subusers.read"), "shop"); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("without subusers.delete: %v", err)
	}
}

func TestSetSubuserDisabled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, shopKey := e.rawKey("shop")
	a := e.key("acme", "", "subusers.update")
	admitted := func() error { _, err := e.accts.Admit(ctx, shopKey, netip.MustParseAddr("192.0.2.1")); return err }

	if err := e.s.SetSubuserDisabled(ctx, a, "shop", true); err != nil {
		t.Fatal(err)
	}
	if u, _ := e.st.UserByName(ctx, "shop"); !u.Suspended() || u.SuspendReason != admin.DisabledReason {
		t.Errorf("disabled: %+v", u)
	}
	if err := admitted(); !errors.Is(err, account.ErrSuspended) {
		t.Errorf("a disabled subuser's key: %v, want ErrSuspended", err)
	}
	if err := e.s.SetSubuserDisabled(ctx, a, "shop", false); err != nil {
		t.Fatal(err)
	}
	if err := admitted(); err != nil {
		t.Errorf("enabled again: %v", err)
	}
	// Enabling an enabled subuser changes nothing.
	if err := e.s.SetSubuserDisabled(ctx, a, "shop", false); err != nil {
		t.Errorf("enable twice: %v", err)
	}

	// The operator's suspension is the operator's to lift.
	if err := e.s.SuspendUser(ctx, e.op(""), "shop", "spam complaints"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetSubuserDisabled(ctx, a, "shop", true); err != nil {
		t.Errorf("disable a suspended subuser: %v", err)
	}
	if err := e.s.SetSubuserDisabled(ctx, a, "shop", false); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("the account lifts the operator's suspension: %v, want ErrForbidden", err)
	}
	if u, _ := e.st.UserByName(ctx, "shop"); u.SuspendReason != "spam complaints" {
		t.Errorf("the operator's reason became %q", u.SuspendReason)
	}
	if err := e.s.SetSubuserDisabled(ctx, e.op(""), "shop", false); err != nil {
		t.Errorf("the operator enables: %v", err)
	}
	if err := admitted(); err != nil {
		t.Errorf("after the operator's enable: %v", err)
	}
	if err := e.s.SetSubuserDisabled(ctx, e.key("acme", "", "subusers.read"), "shop", true); !errors.Is(err, admin.ErrForbidden) {
		t.Errorf("without subusers.update: %v", err)
	}
}

// What the operator's CLI alone may do: a key, even with every scope, is
// refused before anything is looked up.
func TestUserOperatorOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	off, spam := true, 2.5
	set := admin.UserSettings{HideOriginatingIP: &off, SpamThreshold: &spam}
	ops := []struct {
		name string
		do   func(a admin.Actor, user string) error
	}{
		{"list", func(a admin.Actor, _ string) error { _, err := e.s.ListUsers(ctx, a); return err }},
		{"suspend", func(a admin.Actor, u string) error { return e.s.SuspendUser(ctx, a, u, "why") }},
		{"resume", func(a admin.Actor, u string) error { return e.s.ResumeUser(ctx, a, u) }},
		{"settings", func(a admin.Actor, u string) error { return e.s.SetUserSettings(ctx, a, u, set) }},
	}
	for _, op := range ops {
		for _, a := range []admin.Actor{e.key("acme", ""), e.key("acme", "shop"), e.key("beta", "")} {
			if err := op.do(a, "nobody"); !errors.Is(err, admin.ErrForbidden) {
				t.Errorf("key %s: %v, want ErrForbidden", op.name, err)
			}
		}
		if err := op.do(e.op(""), "shop"); err != nil {
			t.Errorf("operator %s: %v", op.name, err)
		}
		if op.name != "list" {
			if err := op.do(e.op(""), "nobody"); !errors.Is(err, admin.ErrNotFound) {
				t.Errorf("operator %s nobody: %v", op.name, err)
			}
		}
	}
	if u, _ := e.st.UserByName(ctx, "shop"); !u.HideOriginatingIP || u.SpamThreshold != 2.5 {
		t.Errorf("settings: %+v", u)
	}
	for _, bad := range []admin.UserSettings{{}, {SpamThreshold: new(float64(-1))}} {
		if err := e.s.SetUserSettings(ctx, e.op(""), "shop", bad); !invalidField("")(err) && !invalidField("spam_threshold")(err) {
			t.Errorf("SetUserSettings(%+v): %v", bad, err)
		}
	}
}

func TestShowUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, revoked := e.rawKey("shop")
	e.rawKey("shop")
	if err := e.st.RevokeAPIKey(ctx, revoked.ID, envTime); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddAllowedIP(ctx, e.acme.ID, "192.0.2.0/24", envTime); err != nil {
		t.Fatal(err)
	}
	info, err := e.s.ShowUser(ctx, e.op(""), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "shop" || info.ActiveKeys != 1 || info.RevokedKeys != 1 || !slices.Equal(info.AllowedIPs, []string{"192.0.2.0/24"}) {
		t.Errorf("ShowUser = %+v", info)
	}
	for _, tc := range []struct {
		actor admin.Actor
		name  string
		check func(error) bool
	}{
		{e.key("shop", "", "user.profile.read"), "shop", noErr},
		{e.key("acme", "shop", "user.profile.read"), "shop", noErr},
		{e.key("acme", "", "user.profile.read"), "shop", isErr(admin.ErrNotFound)},
		{e.key("beta", "", "user.profile.read"), "acme", isErr(admin.ErrNotFound)},
		{e.key("shop", "", "mail.send"), "shop", isErr(admin.ErrForbidden)},
	} {
		if _, err := e.s.ShowUser(ctx, tc.actor, tc.name); !tc.check(err) {
			t.Errorf("%s (obo %v) shows %s: %v", tc.actor.Key.UserName, tc.actor.User.Name, tc.name, err)
		}
	}
}
