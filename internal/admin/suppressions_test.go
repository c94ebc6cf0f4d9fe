package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

func emailsOf(list []admin.Suppression) string {
	var out []string
	for _, s := range list {
		out = append(out, s.Email+"/"+string(s.Kind))
	}
	return strings.Join(out, " ")
}

func TestAddSuppressions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acme := e.key("acme", "")
	res, err := e.s.AddSuppressions(ctx, acme, store.SuppressUnsubscribe, []string{"Gone@Example.TEST", " gone@example.test", "two@example.test"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Emails, ",") != "gone@example.test,two@example.test" || len(res.Added) != 2 {
		t.Fatalf("added %+v", res)
	}
	if a := res.Added[0]; a.Kind != store.SuppressUnsubscribe || !a.Created.Equal(e.now) || a.Reason != "added through the API with key "+acme.Key.ID {
		t.Fatalf("entry %+v", a)
	}
	// Again: every address is reported, none is new.
	e.now = e.now.Add(time.Hour)
	res, err = e.s.AddSuppressions(ctx, acme, store.SuppressUnsubscribe, []string{"gone@example.test"}, "")
	if err != nil || len(res.Emails) != 1 || len(res.Added) != 0 {
		t.Fatalf("add again: %+v %v", res, err)
	}
	if s, _ := e.s.GetSuppression(ctx, acme, store.SuppressUnsubscribe, "GONE@example.test"); !s.Created.Equal(e.now.Add(-time.Hour)) {
		t.Fatalf("adding again changed the entry: %+v", s)
	}
	// The operator adds any kind, with its reason; keys only unsubscribes.
	if _, err := e.s.AddSuppressions(ctx, e.op("acme"), store.SuppressBounce, []string{"gone@example.test"}, "550 5.1.1 imported"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AddSuppressions(ctx, acme, store.SuppressBounce, []string{"x@example.test"}, ""); !invalidField("kind")(err) {
		t.Fatalf("a key adds a bounce: %v", err)
	}
	if _, err := e.s.AddSuppressions(ctx, e.op("acme"), "nonsense", []string{"x@example.test"}, ""); !invalidField("kind")(err) {
		t.Fatalf("unknown kind: %v", err)
	}
	for _, bad := range [][]string{
		nil,
		{"not-an-address"},
		{"ok@example.test", "evil\x1b[2J@example.test"},
		{"cr\r\n@example.test"},
		{"a@b@"},
		{"a@-bad-.test"},
		{strings.Repeat("a", 65) + "@example.test"},
		make([]string, admin.MaxSuppressionsPerRequest+1),
	} {
		if _, err := e.s.AddSuppressions(ctx, acme, store.SuppressUnsubscribe, bad, ""); !invalidField("recipient_emails")(err) {
			t.Errorf("add %.40q: %v, want an *InvalidError", bad, err)
		}
	}
	if list, _ := e.s.ListSuppressions(ctx, e.op("acme"), admin.SuppressionQuery{}); emailsOf(list) != "gone@example.test/bounce gone@example.test/unsubscribe two@example.test/unsubscribe" {
		t.Fatalf("refused adds changed the lists: %s", emailsOf(list))
	}
	// Delivery sees them: the store's lookup of the worker.
	got, err := e.st.Suppressed(ctx, e.acme.ID, []string{"two@example.test", "other@example.test"})
	if err != nil || len(got) != 1 || got["two@example.test"].Kind != store.SuppressUnsubscribe {
		t.Fatalf("Suppressed = %+v %v", got, err)
	}
}

func TestListAndDeleteSuppressions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.op("acme")
	start := e.now
	for i, s := range []struct {
		kind   store.SuppressionKind
		addr   string
		reason string
	}{
		{store.SuppressBounce, "b1@example.test", "permanent failure: 550 5.1.1 <b1@example.test>: no such user"},
		{store.SuppressBounce, "b2@example.test", "bounce 5.2.1 (reported by mx.example.test)"},
		{store.SuppressBlock, "k1@example.test", "permanent failure: 554 5.7.1 blocked 2.3.4.5.6"},
		{store.SuppressInvalid, "i1@nowhere.test", "permanent failure 5.1.2: domain nowhere.test does not exist (NXDOMAIN)"},
		{store.SuppressSpamReport, "s1@example.test", "feedback report"},
		{store.SuppressUnsubscribe, "b1@example.test", ""},
	} {
		e.now = start.Add(time.Duration(i) * time.Minute)
		if _, err := e.s.AddSuppressions(ctx, op, s.kind, []string{s.addr}, s.reason); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		q    admin.SuppressionQuery
		want string
	}{
		{"every kind", admin.SuppressionQuery{},
			"b1@example.test/bounce b1@example.test/unsubscribe b2@example.test/bounce i1@nowhere.test/invalid k1@example.test/block s1@example.test/spam_report"},
		{"bounces", admin.SuppressionQuery{Kind: store.SuppressBounce}, "b1@example.test/bounce b2@example.test/bounce"},
		{"since", admin.SuppressionQuery{Kind: store.SuppressBounce, Since: start.Add(time.Minute)}, "b2@example.test/bounce"},
		{"until", admin.SuppressionQuery{Until: start.Add(time.Minute)}, "b1@example.test/bounce b2@example.test/bounce"},
		{"prefix", admin.SuppressionQuery{EmailPrefix: "B"}, "b1@example.test/bounce b1@example.test/unsubscribe b2@example.test/bounce"},
		{"page", admin.SuppressionQuery{Limit: 2, Offset: 1}, "b1@example.test/unsubscribe b2@example.test/bounce"},
	} {
		list, err := e.s.ListSuppressions(ctx, op, tc.q)
		if err != nil || emailsOf(list) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.name, emailsOf(list), err, tc.want)
		}
	}
	// The status is the enhanced code of the reason, when it has one.
	list, _ := e.s.ListSuppressions(ctx, op, admin.SuppressionQuery{})
	status := map[string]string{}
	for _, s := range list {
		status[s.Email+"/"+string(s.Kind)] = s.Status
	}
	for k, want := range map[string]string{
		"b1@example.test/bounce": "5.1.1", "b2@example.test/bounce": "5.2.1", "k1@example.test/block": "5.7.1",
		"i1@nowhere.test/invalid": "5.1.2", "s1@example.test/spam_report": "", "b1@example.test/unsubscribe": "",
	} {
		if status[k] != want {
			t.Errorf("%s: status %q, want %q", k, status[k], want)
		}
	}
	var inv *admin.InvalidError
	if _, err := e.s.ListSuppressions(ctx, op, admin.SuppressionQuery{Since: start.Add(time.Hour), Until: start}); !errors.As(err, &inv) {
		t.Errorf("an end before the start: %v", err)
	}
	if _, err := e.s.ListSuppressions(ctx, op, admin.SuppressionQuery{Kind: "bogus"}); !errors.As(err, &inv) {
		t.Errorf("an unknown kind: %v", err)
	}

	// Get and delete are per kind.
	if s, err := e.s.GetSuppression(ctx, op, store.SuppressBounce, "B1@Example.test"); err != nil || s.Email != "b1@example.test" {
		t.Fatalf("get %+v %v", s, err)
	}
	if _, err := e.s.GetSuppression(ctx, op, store.SuppressBlock, "b1@example.test"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("get from another list: %v", err)
	}
	if err := e.s.DeleteSuppression(ctx, op, store.SuppressBounce, "b1@example.test"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteSuppression(ctx, op, store.SuppressBounce, "b1@example.test"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if got, _ := e.st.Suppressed(ctx, e.acme.ID, []string{"b1@example.test"}); got["b1@example.test"].Kind != store.SuppressUnsubscribe {
		t.Fatalf("deleting the bounce lifted the unsubscribe: %+v", got)
	}
	if n, err := e.s.DeleteSuppressions(ctx, op, store.SuppressBounce, []string{"b2@example.test", "absent@example.test"}); err != nil || n != 1 {
		t.Fatalf("delete some: %d %v", n, err)
	}
	if _, err := e.s.DeleteSuppressions(ctx, op, store.SuppressBounce, nil); !invalidField("emails")(err) {
		t.Fatalf("delete no emails: %v", err)
	}
	if n, err := e.s.DeleteAllSuppressions(ctx, op, store.SuppressUnsubscribe); err != nil || n != 1 {
		t.Fatalf("delete all unsubscribes: %d %v", n, err)
	}
	if _, err := e.s.DeleteAllSuppressions(ctx, op, ""); !errors.As(err, &inv) {
		t.Fatalf("delete all of no kind: %v", err)
	}
	// Without a kind, an address goes from every list (the CLI's remove).
	if err := e.s.DeleteSuppression(ctx, op, "", "k1@example.test"); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.s.ListSuppressions(ctx, op, admin.SuppressionQuery{}); emailsOf(list) != "i1@nowhere.test/invalid s1@example.test/spam_report" {
		t.Fatalf("left: %s", emailsOf(list))
	}
}

// TestSuppressionTenancy: each user has its own lists; a key reaches its
// own user's, an account's key its subuser's through On-Behalf-Of only.
func TestSuppressionTenancy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, u := range []string{"acme", "shop", "beta"} {
		if _, err := e.s.AddSuppressions(ctx, e.op(u), store.SuppressUnsubscribe, []string{u + "@example.test"}, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		actor admin.Actor
		own   string
	}{
		{"acme", e.key("acme", ""), "acme"},
		{"shop", e.key("shop", ""), "shop"},
		{"acme for shop", e.key("acme", "shop"), "shop"},
		{"beta", e.key("beta", ""), "beta"},
	} {
		list, err := e.s.ListSuppressions(ctx, tc.actor, admin.SuppressionQuery{})
		if err != nil || emailsOf(list) != tc.own+"@example.test/unsubscribe" {
			t.Errorf("%s lists %s, %v", tc.name, emailsOf(list), err)
		}
		for _, other := range []string{"acme", "shop", "beta"} {
			if other == tc.own {
				continue
			}
			addr := other + "@example.test"
			if _, err := e.s.GetSuppression(ctx, tc.actor, store.SuppressUnsubscribe, addr); !errors.Is(err, admin.ErrNotFound) {
				t.Errorf("%s gets %s's entry: %v", tc.name, other, err)
			}
			if err := e.s.DeleteSuppression(ctx, tc.actor, store.SuppressUnsubscribe, addr); !errors.Is(err, admin.ErrNotFound) {
				t.Errorf("%s deletes %s's entry: %v", tc.name, other, err)
			}
			if n, err := e.s.DeleteSuppressions(ctx, tc.actor, store.SuppressUnsubscribe, []string{addr}); err != nil || n != 0 {
				t.Errorf("%s deletes %s's entry in a batch: %d %v", tc.name, other, n, err)
			}
		}
	}
	if n, err := e.s.DeleteAllSuppressions(ctx, e.key("acme", ""), store.SuppressUnsubscribe); err != nil || n != 1 {
		t.Fatalf("acme deletes all of its own: %d %v", n, err)
	}
	for _, u := range []store.User{e.shop, e.beta} {
		if list, _ := e.st.Suppressions(ctx, u.ID); len(list) != 1 {
			t.Errorf("%s's list after acme's delete all: %+v", u.Name, list)
		}
	}
}

func TestSuppressionScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	read := e.key("acme", "", admin.ScopeSuppressionRead)
	send := e.key("acme", "", account.ScopeMailSend)
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"list", func() error { _, err := e.s.ListSuppressions(ctx, send, admin.SuppressionQuery{}); return err }},
		{"get", func() error {
			_, err := e.s.GetSuppression(ctx, send, store.SuppressBounce, "a@example.test")
			return err
		}},
		{"add", func() error {
			_, err := e.s.AddSuppressions(ctx, read, store.SuppressUnsubscribe, []string{"a@example.test"}, "")
			return err
		}},
		{"delete", func() error { return e.s.DeleteSuppression(ctx, read, store.SuppressBounce, "a@example.test") }},
		{"delete some", func() error {
			_, err := e.s.DeleteSuppressions(ctx, read, store.SuppressBounce, []string{"a@example.test"})
			return err
		}},
		{"delete all", func() error { _, err := e.s.DeleteAllSuppressions(ctx, read, store.SuppressBounce); return err }},
	} {
		if err := tc.do(); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("%s without its scope: %v", tc.name, err)
		}
	}
	if _, err := e.s.ListSuppressions(ctx, read, admin.SuppressionQuery{}); err != nil {
		t.Errorf("list with suppression.read: %v", err)
	}
}
