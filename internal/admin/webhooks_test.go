package admin_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

// uuidRE is the shape of a webhook id: SendGrid's, a version 4 UUID.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func ptr[T any](v T) *T { return &v }

// allEvents is a WebhookSettings.Events with exactly on turned on.
func allEvents(on ...admin.WebhookEvent) map[admin.WebhookEvent]bool {
	m := map[admin.WebhookEvent]bool{}
	for _, e := range admin.WebhookEvents() {
		m[e] = slices.Contains(on, e)
	}
	return m
}

// storedHook is the webhook as the store has it.
func (e *env) storedHook(id string) store.Webhook {
	e.t.Helper()
	w, err := e.st.Webhook(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// TestWebhookFirstCreatedByUpdate (issue 15): the settings without an
// id (SendGrid's legacy endpoints, the CLI) are the user's first
// webhook, made by the first update; later ones are the same webhook,
// and stay it when the user adds more.
func TestWebhookFirstCreatedByUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acme := e.key("acme", "")
	if _, err := e.s.GetWebhook(ctx, acme, ""); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("GetWebhook before any: %v", err)
	}
	w, err := e.s.UpdateWebhook(ctx, acme, "", admin.WebhookSettings{URL: ptr(" https://hooks.acme.test/sg?t=1 "), Enabled: ptr(true),
		Events: map[admin.WebhookEvent]bool{admin.WebhookDelivered: true, admin.WebhookBounce: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !uuidRE.MatchString(w.ID) || w.UserID != e.acme.ID || w.URL != "https://hooks.acme.test/sg?t=1" || !w.Enabled ||
		fmt.Sprint(w.Events) != "[delivered bounce]" || w.Signed || w.PublicKey != "" || !w.CreatedAt.Equal(e.now) || !w.UpdatedAt.Equal(e.now) {
		t.Fatalf("created %+v", w)
	}
	if got, err := e.s.GetWebhook(ctx, acme, ""); err != nil || got.ID != w.ID || !got.Has(admin.WebhookBounce) || got.Has(admin.WebhookProcessed) {
		t.Fatalf("GetWebhook(\"\") = %+v, %v", got, err)
	}
	e.now = e.now.Add(time.Minute)
	again, err := e.s.UpdateWebhook(ctx, acme, "", admin.WebhookSettings{FriendlyName: ptr("Delivery")})
	if err != nil || again.ID != w.ID || again.FriendlyName != "Delivery" || again.URL != w.URL || fmt.Sprint(again.Events) != "[delivered bounce]" ||
		!again.CreatedAt.Equal(w.CreatedAt) || !again.UpdatedAt.Equal(e.now) {
		t.Fatalf("second update: %+v, %v", again, err)
	}
	e.now = e.now.Add(time.Minute)
	second, err := e.s.CreateWebhook(ctx, acme, admin.WebhookSettings{URL: ptr("http://other.acme.test/")})
	if err != nil || second.ID == w.ID || second.Enabled || len(second.Events) != 0 {
		t.Fatalf("CreateWebhook: %+v, %v", second, err)
	}
	if got, err := e.s.GetWebhook(ctx, acme, ""); err != nil || got.ID != w.ID {
		t.Fatalf("the first after a second: %+v, %v", got, err)
	}
	list, err := e.s.ListWebhooks(ctx, acme)
	if err != nil || len(list) != 2 || list[0].ID != w.ID || list[1].ID != second.ID {
		t.Fatalf("ListWebhooks = %+v, %v", list, err)
	}
	if err := e.s.DeleteWebhook(ctx, acme, w.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := e.s.GetWebhook(ctx, acme, ""); err != nil || got.ID != second.ID {
		t.Fatalf("the first after deleting it: %+v, %v", got, err)
	}
}

// TestWebhookEvents: each setting turns on the store's event types it
// stands for (deferred: delayed too) and reads back alone; a change
// names only what it changes.
func TestWebhookEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.op("acme")
	w, err := e.s.CreateWebhook(ctx, op, admin.WebhookSettings{URL: ptr("https://hooks.acme.test/")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[admin.WebhookEvent]string{
		admin.WebhookProcessed:   "[processed]",
		admin.WebhookDelivered:   "[delivered]",
		admin.WebhookDeferred:    "[deferred delayed]",
		admin.WebhookBounce:      "[bounced]",
		admin.WebhookDropped:     "[dropped]",
		admin.WebhookSpamReport:  "[spamreport]",
		admin.WebhookUnsubscribe: "[unsubscribe]",
	}
	if len(want) != len(admin.WebhookEvents()) {
		t.Fatalf("the table misses events of %v", admin.WebhookEvents())
	}
	for _, ev := range admin.WebhookEvents() {
		got, err := e.s.UpdateWebhook(ctx, op, w.ID, admin.WebhookSettings{Events: allEvents(ev)})
		if err != nil || fmt.Sprint(got.Events) != "["+string(ev)+"]" {
			t.Errorf("%s alone: %v, %v", ev, got.Events, err)
		}
		if s := fmt.Sprint(e.storedHook(w.ID).Events); s != want[ev] {
			t.Errorf("%s alone: the store has %s, want %s", ev, s, want[ev])
		}
	}
	// A change of one setting keeps the others.
	if _, err := e.s.UpdateWebhook(ctx, op, w.ID, admin.WebhookSettings{Events: allEvents(admin.WebhookProcessed, admin.WebhookDropped)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.UpdateWebhook(ctx, op, w.ID, admin.WebhookSettings{Events: map[admin.WebhookEvent]bool{
		admin.WebhookProcessed: false, admin.WebhookSpamReport: true}})
	if err != nil || fmt.Sprint(got.Events) != "[dropped spam_report]" {
		t.Fatalf("partial change: %v, %v", got.Events, err)
	}
	if got, _ := e.s.UpdateWebhook(ctx, op, w.ID, admin.WebhookSettings{Enabled: ptr(false)}); fmt.Sprint(got.Events) != "[dropped spam_report]" {
		t.Fatalf("a change without events changed them: %v", got.Events)
	}
	if got, _ := e.s.UpdateWebhook(ctx, op, w.ID, admin.WebhookSettings{Events: allEvents()}); len(got.Events) != 0 || len(e.storedHook(w.ID).Events) != 0 {
		t.Fatalf("all off: %v", got.Events)
	}
	// The CLI's lists.
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"processed,delivered", "[processed delivered]", true},
		{" bounce , spam_report,bounce", "[bounce spam_report]", true},
		{"none", "[]", true},
		{"open", "", false},
		{"bounced", "", false},
		{"processed,", "", false},
	} {
		got, err := admin.ParseWebhookEvents(tc.in)
		if tc.ok && (err != nil || fmt.Sprint(got) != tc.want) || !tc.ok && !invalidField("events")(err) {
			t.Errorf("ParseWebhookEvents(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestWebhookSettingsReachTheOutbox: the store's outbox takes the events
// the settings select, of an enabled webhook only: processed while it
// is selected, a delay notice under deferred, nothing once disabled; a
// deleted webhook's backlog is gone with it.
func TestWebhookSettingsReachTheOutbox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.op("acme")
	w, err := e.s.UpdateWebhook(ctx, op, "", admin.WebhookSettings{URL: ptr("https://hooks.acme.test/"), Enabled: ptr(true),
		Events: allEvents(admin.WebhookProcessed)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	enqueue := func() string {
		t.Helper()
		n++
		id := fmt.Sprintf("m%d", n)
		if err := e.st.EnqueueBatch(ctx, []store.NewMessage{{ID: id, UserID: e.acme.ID, KeyID: "k", From: "app@acme.test",
			Recipients: []string{"r1@x.test", "r2@x.test"}, Body: []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: e.now}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	backlog := func(want int) {
		t.Helper()
		if got, err := e.s.WebhookBacklog(ctx, op, ""); err != nil || got != want {
			t.Fatalf("backlog %d, %v; want %d", got, err, want)
		}
	}
	enqueue()
	backlog(2) // a processed event per recipient
	if _, err := e.s.UpdateWebhook(ctx, op, w.ID, admin.WebhookSettings{Events: allEvents(admin.WebhookDeferred)}); err != nil {
		t.Fatal(err)
	}
	id := enqueue()
	backlog(2)
	if err := e.st.RecordAttempt(ctx, store.Attempt{MessageID: id, At: e.now,
		Events: []store.Event{{MessageID: id, Type: store.EventDelayed, Detail: "delay notice sent", At: e.now}}}); err != nil {
		t.Fatal(err)
	}
	backlog(3)
	if _, err := e.s.UpdateWebhook(ctx, op, w.ID, admin.WebhookSettings{Enabled: ptr(false), Events: allEvents(admin.WebhookProcessed)}); err != nil {
		t.Fatal(err)
	}
	enqueue()
	backlog(3)
	if err := e.s.DeleteWebhook(ctx, op, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.WebhookBacklog(ctx, op, w.ID); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("backlog of a deleted webhook: %v", err)
	}
}

// TestWebhookSigning: turning signing on makes a P-256 key once; off
// keeps it; on again brings back the same public key. The public key is
// the stored private key's, as receivers verify with it. Signing the
// first webhook of a user with none makes one, disabled and without a
// URL.
func TestWebhookSigning(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shop := e.key("shop", "")
	w, err := e.s.UpdateWebhook(ctx, shop, "", admin.WebhookSettings{Signed: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Signed || w.PublicKey == "" || w.Enabled || w.URL != "" || w.UserID != e.shop.ID {
		t.Fatalf("signed first webhook: %+v", w)
	}
	stored := e.storedHook(w.ID)
	key, err := events.ParseKey(stored.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if base64.StdEncoding.EncodeToString(pub) != w.PublicKey {
		t.Fatal("the public key is not the stored key's")
	}
	off, err := e.s.UpdateWebhook(ctx, shop, w.ID, admin.WebhookSettings{Signed: ptr(false)})
	if err != nil || off.Signed || off.PublicKey != w.PublicKey || !slices.Equal(e.storedHook(w.ID).PrivateKey, stored.PrivateKey) || e.storedHook(w.ID).Signed {
		t.Fatalf("signing off: %+v, %v", off, err)
	}
	on, err := e.s.UpdateWebhook(ctx, shop, "", admin.WebhookSettings{Signed: ptr(true)})
	if err != nil || !on.Signed || on.PublicKey != w.PublicKey || on.ID != w.ID {
		t.Fatalf("signing on again: %+v, %v", on, err)
	}
	// Another webhook gets a key of its own.
	other, err := e.s.CreateWebhook(ctx, shop, admin.WebhookSettings{URL: ptr("https://b.shop.test/")})
	if err != nil {
		t.Fatal(err)
	}
	if other, err = e.s.UpdateWebhook(ctx, shop, other.ID, admin.WebhookSettings{Signed: ptr(true)}); err != nil || other.PublicKey == w.PublicKey || other.PublicKey == "" {
		t.Fatalf("a second webhook's key: %+v, %v", other, err)
	}
}

// TestWebhookRefused: what the settings refuse, with the field at fault,
// and that nothing is stored for it.
func TestWebhookRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acme := e.op("acme")
	if _, err := e.s.CreateWebhook(ctx, acme, admin.WebhookSettings{URL: ptr("https://taken.acme.test/hook")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		who   admin.Actor
		set   admin.WebhookSettings
		field string
		want  error
	}{
		{"ftp", acme, admin.WebhookSettings{URL: ptr("ftp://hooks.acme.test/")}, "url", nil},
		{"no scheme", acme, admin.WebhookSettings{URL: ptr("hooks.acme.test/sg")}, "url", nil},
		{"scheme-relative", acme, admin.WebhookSettings{URL: ptr("//hooks.acme.test/sg")}, "url", nil},
		{"no host", acme, admin.WebhookSettings{URL: ptr("https:///sg")}, "url", nil},
		{"opaque", acme, admin.WebhookSettings{URL: ptr("https:hooks.acme.test")}, "url", nil},
		{"javascript", acme, admin.WebhookSettings{URL: ptr("javascript:alert(1)")}, "url", nil},
		{"userinfo", acme, admin.WebhookSettings{URL: ptr("https://user:secret@hooks.acme.test/")}, "url", nil},
		{"user alone", acme, admin.WebhookSettings{URL: ptr("https://user@hooks.acme.test/")}, "url", nil},
		{"fragment", acme, admin.WebhookSettings{URL: ptr("https://hooks.acme.test/#x")}, "url", nil},
		{"CRLF", acme, admin.WebhookSettings{URL: ptr("https://hooks.acme.test/\r\nX-Evil: 1")}, "url", nil},
		{"space", acme, admin.WebhookSettings{URL: ptr("https://hooks.acme.test/a b")}, "url", nil},
		{"too long", acme, admin.WebhookSettings{URL: ptr("https://hooks.acme.test/" + strings.Repeat("a", 2048))}, "url", nil},
		{"taken by another webhook", acme, admin.WebhookSettings{URL: ptr("https://taken.acme.test/hook")}, "url", nil},
		{"no URL", acme, admin.WebhookSettings{Enabled: ptr(false)}, "url", nil},
		{"blank URL", acme, admin.WebhookSettings{URL: ptr("  ")}, "url", nil},
		{"control in the name", acme, admin.WebhookSettings{URL: ptr("https://n.acme.test/"), FriendlyName: ptr("a\x1b[2Jb")}, "friendly_name", nil},
		{"long name", acme, admin.WebhookSettings{URL: ptr("https://n.acme.test/"), FriendlyName: ptr(strings.Repeat("n", 101))}, "friendly_name", nil},
		{"unknown event", acme, admin.WebhookSettings{URL: ptr("https://n.acme.test/"), Events: map[admin.WebhookEvent]bool{"open": true}}, "events", nil},
		{"operator for no user", e.op(""), admin.WebhookSettings{URL: ptr("https://n.acme.test/")}, "user", nil},
		{"without the scope", e.key("acme", "", admin.ScopeWebhookRead), admin.WebhookSettings{URL: ptr("https://n.acme.test/")}, "", admin.ErrForbidden},
	} {
		_, err := e.s.CreateWebhook(ctx, tc.who, tc.set)
		wantRefused(t, tc.name, err, tc.field, tc.want)
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the refusal echoes the URL: %v", tc.name, err)
		}
	}
	// What an update refuses: enabling without a URL, taking another's URL.
	first, err := e.s.UpdateWebhook(ctx, e.op("beta"), "", admin.WebhookSettings{FriendlyName: ptr("later")})
	if err != nil || first.URL != "" || first.Enabled {
		t.Fatalf("a URL-less disabled first webhook: %+v, %v", first, err)
	}
	_, err = e.s.UpdateWebhook(ctx, e.op("beta"), "", admin.WebhookSettings{Enabled: ptr(true)})
	wantRefused(t, "enabled without a URL", err, "url", nil)
	// Another user may have the same URL.
	if _, err := e.s.UpdateWebhook(ctx, e.op("beta"), "", admin.WebhookSettings{URL: ptr("https://taken.acme.test/hook"), Enabled: ptr(true)}); err != nil {
		t.Fatalf("beta's webhook at acme's URL: %v", err)
	}
	if list, _ := e.s.ListWebhooks(ctx, acme); len(list) != 1 {
		t.Fatalf("refused webhooks stored: %+v", list)
	}
	// At most MaxWebhooks.
	for i := 1; i < admin.MaxWebhooks; i++ {
		if _, err := e.s.CreateWebhook(ctx, acme, admin.WebhookSettings{URL: ptr(fmt.Sprintf("https://h%d.acme.test/", i))}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.s.CreateWebhook(ctx, acme, admin.WebhookSettings{URL: ptr("https://one-more.acme.test/")})
	if inv := (*admin.InvalidError)(nil); !errors.As(err, &inv) || !strings.Contains(inv.Message, "the most there may be") {
		t.Fatalf("webhook %d: %v", admin.MaxWebhooks+1, err)
	}
}

// TestWebhookTenancy: a webhook is its user's alone. Every other actor,
// the user's account without On-Behalf-Of included, is told it does not
// exist, by every operation, and changes nothing; its own first webhook
// is its own.
func TestWebhookTenancy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acme := e.key("acme", "")
	w, err := e.s.UpdateWebhook(ctx, acme, "", admin.WebhookSettings{URL: ptr("https://hooks.acme.test/"), Enabled: ptr(true), Signed: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	e.s.WebhookTester = &recordingTester{}
	for name, a := range e.keyActors() {
		if name == "acme" {
			continue
		}
		checks := map[string]error{}
		_, checks["get"] = e.s.GetWebhook(ctx, a, w.ID)
		_, checks["update"] = e.s.UpdateWebhook(ctx, a, w.ID, admin.WebhookSettings{URL: ptr("https://evil.test/")})
		_, checks["sign off"] = e.s.UpdateWebhook(ctx, a, w.ID, admin.WebhookSettings{Signed: ptr(false)})
		_, checks["backlog"] = e.s.WebhookBacklog(ctx, a, w.ID)
		checks["test"] = e.s.TestWebhook(ctx, a, w.ID, "https://evil.test/")
		checks["delete"] = e.s.DeleteWebhook(ctx, a, w.ID)
		_, checks["first"] = e.s.GetWebhook(ctx, a, "")
		for op, err := range checks {
			if !errors.Is(err, admin.ErrNotFound) || errors.Is(err, admin.ErrForbidden) {
				t.Errorf("%s: %s of acme's webhook: %v, want ErrNotFound", name, op, err)
			}
		}
		if list, err := e.s.ListWebhooks(ctx, a); err != nil || len(list) != 0 {
			t.Errorf("%s lists %+v, %v", name, list, err)
		}
	}
	if got := e.storedHook(w.ID); got.URL != "https://hooks.acme.test/" || !got.Signed || !got.Enabled {
		t.Fatalf("acme's webhook changed: %+v", got)
	}
	if n := len(e.s.WebhookTester.(*recordingTester).calls); n != 0 {
		t.Fatalf("%d test POSTs for other tenants", n)
	}
	// The account acting for its subuser makes the subuser's webhook,
	// which the subuser's own key sees, and the account without
	// On-Behalf-Of does not.
	sub, err := e.s.UpdateWebhook(ctx, e.key("acme", "shop"), "", admin.WebhookSettings{URL: ptr("https://hooks.shop.test/")})
	if err != nil || sub.UserID != e.shop.ID {
		t.Fatalf("acme for shop: %+v, %v", sub, err)
	}
	if got, err := e.s.GetWebhook(ctx, e.key("shop", ""), ""); err != nil || got.ID != sub.ID {
		t.Fatalf("shop's first: %+v, %v", got, err)
	}
	if got, err := e.s.GetWebhook(ctx, acme, ""); err != nil || got.ID != w.ID {
		t.Fatalf("acme's first: %+v, %v", got, err)
	}
	// The operator reaches any webhook by id.
	if got, err := e.s.GetWebhook(ctx, e.op(""), sub.ID); err != nil || got.ID != sub.ID {
		t.Fatalf("operator: %+v, %v", got, err)
	}
}

// TestWebhookUnknownID: an id no webhook has, a malformed one and none
// at all (for DELETE) are ErrNotFound.
func TestWebhookUnknownID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.op("acme")
	for _, id := range []string{"0f8fad5b-d9cb-469f-a165-70867728950e", "0F8FAD5B-D9CB-469F-A165-70867728950E", "../x", "all", "signed",
		strings.Repeat("a", 36), "pst_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"} {
		if _, err := e.s.GetWebhook(ctx, op, id); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("GetWebhook(%q): %v", id, err)
		}
		if _, err := e.s.UpdateWebhook(ctx, op, id, admin.WebhookSettings{Enabled: ptr(false)}); !errors.Is(err, admin.ErrNotFound) {
			t.Errorf("UpdateWebhook(%q): %v", id, err)
		}
		if err := e.s.DeleteWebhook(ctx, op, id); !errors.Is(err, admin.ErrNotFound) || strings.Contains(err.Error(), "pst_") {
			t.Errorf("DeleteWebhook(%q): %v", id, err)
		}
	}
	if _, err := e.s.CreateWebhook(ctx, op, admin.WebhookSettings{URL: ptr("https://hooks.acme.test/")}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteWebhook(ctx, op, ""); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("DeleteWebhook without an id: %v", err)
	}
}

// TestWebhookScopes: reading needs settings.read, every change
// settings.update, the test test.create.
func TestWebhookScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	w, err := e.s.CreateWebhook(ctx, e.op("acme"), admin.WebhookSettings{URL: ptr("https://hooks.acme.test/")})
	if err != nil {
		t.Fatal(err)
	}
	e.s.WebhookTester = &recordingTester{}
	ops := []struct {
		name, scope string
		do          func(a admin.Actor) error
	}{
		{"list", admin.ScopeWebhookRead, func(a admin.Actor) error { _, err := e.s.ListWebhooks(ctx, a); return err }},
		{"get", admin.ScopeWebhookRead, func(a admin.Actor) error { _, err := e.s.GetWebhook(ctx, a, w.ID); return err }},
		{"backlog", admin.ScopeWebhookRead, func(a admin.Actor) error { _, err := e.s.WebhookBacklog(ctx, a, w.ID); return err }},
		{"update", admin.ScopeWebhookUpdate, func(a admin.Actor) error {
			_, err := e.s.UpdateWebhook(ctx, a, w.ID, admin.WebhookSettings{Enabled: ptr(true)})
			return err
		}},
		{"sign", admin.ScopeWebhookUpdate, func(a admin.Actor) error {
			_, err := e.s.UpdateWebhook(ctx, a, "", admin.WebhookSettings{Signed: ptr(true)})
			return err
		}},
		{"test", admin.ScopeWebhookTest, func(a admin.Actor) error { return e.s.TestWebhook(ctx, a, w.ID, "") }},
		{"create", admin.ScopeWebhookUpdate, func(a admin.Actor) error {
			_, err := e.s.CreateWebhook(ctx, a, admin.WebhookSettings{URL: ptr("https://" + a.Key.ID + ".acme.test/")})
			return err
		}},
		{"delete", admin.ScopeWebhookUpdate, func(a admin.Actor) error {
			hook, err := e.s.CreateWebhook(ctx, e.op("acme"), admin.WebhookSettings{URL: ptr("https://del-" + a.Key.ID + ".acme.test/")})
			if err != nil {
				t.Fatal(err)
			}
			return e.s.DeleteWebhook(ctx, a, hook.ID)
		}},
	}
	for _, op := range ops {
		before := e.storedHook(w.ID)
		others := []string{admin.ScopeWebhookRead, admin.ScopeWebhookUpdate, admin.ScopeWebhookTest, admin.ScopeWebhookTestRead, admin.ScopeWebhookTestUpdate}
		others = slices.DeleteFunc(others, func(s string) bool { return s == op.scope })
		if err := op.do(e.key("acme", "", others...)); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("%s without %s: %v, want ErrForbidden", op.name, op.scope, err)
		}
		if after := e.storedHook(w.ID); !after.UpdatedAt.Equal(before.UpdatedAt) || after.Signed != before.Signed {
			t.Errorf("%s without %s changed the webhook", op.name, op.scope)
		}
		if err := op.do(e.key("acme", "", op.scope)); err != nil {
			t.Errorf("%s with %s alone: %v", op.name, op.scope, err)
		}
		// The delete op made a webhook for itself each time; keep to the
		// bound.
		if list, _ := e.s.ListWebhooks(ctx, e.op("acme")); len(list) >= admin.MaxWebhooks {
			for _, h := range list[1:] {
				e.s.DeleteWebhook(ctx, e.op("acme"), h.ID)
			}
		}
	}
}

// recordingTester records the test POSTs asked for.
type recordingTester struct {
	mu    sync.Mutex
	calls []string // webhook id + " " + url
}

func (r *recordingTester) SendTest(ctx context.Context, w store.Webhook, url string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, w.ID+" "+url)
	return nil
}

// postingTester POSTs a JSON test event, as the dispatcher does,
// reporting a status other than 2xx as the dispatcher words it.
type postingTester struct{ client *http.Client }

func (p postingTester) SendTest(ctx context.Context, w store.Webhook, url string) error {
	body := `[{"email":"example@test.com","timestamp":1,"event":"processed","sg_event_id":"test"}]`
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if len(w.PrivateKey) > 0 && w.Signed {
		key, err := events.ParseKey(w.PrivateKey)
		if err != nil {
			return err
		}
		signer, err := events.NewSigner(key)
		if err != nil {
			return err
		}
		sig, ts, err := signer.Sign([]byte(body), time.Now(), rand.Reader)
		if err != nil {
			return err
		}
		req.Header.Set(events.SignatureHeader, sig)
		req.Header.Set(events.TimestampHeader, ts)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return errors.New("connect failed")
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// receiver is a webhook receiver on loopback that records what it is
// POSTed and answers status.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	posts  []*http.Request
	bodies []string
	status int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.posts = append(r.posts, req)
		r.bodies = append(r.bodies, string(b))
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.posts)
}

// TestWebhookTest: the test POST goes through the WebhookTester to the
// webhook's URL or the one given, signed as the webhook is; a receiver's
// failure is the URL's fault; a bad URL is refused before any POST; and
// without a tester the operation says it is unavailable.
func TestWebhookTest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	acme := e.key("acme", "")
	rcv := newReceiver(t)
	w, err := e.s.UpdateWebhook(ctx, acme, "", admin.WebhookSettings{URL: ptr(rcv.srv.URL + "/hook"), Signed: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.TestWebhook(ctx, acme, w.ID, ""); !errors.Is(err, admin.ErrUnavailable) {
		t.Fatalf("without a tester: %v", err)
	}
	e.s.WebhookTester = postingTester{client: rcv.srv.Client()}
	if err := e.s.TestWebhook(ctx, acme, w.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.s.TestWebhook(ctx, acme, "", rcv.srv.URL+"/elsewhere"); err != nil {
		t.Fatal(err)
	}
	if rcv.count() != 2 {
		t.Fatalf("%d POSTs, want 2", rcv.count())
	}
	for i, path := range []string{"/hook", "/elsewhere"} {
		p := rcv.posts[i]
		if p.Method != "POST" || p.URL.Path != path || p.Header.Get("Content-Type") != "application/json" ||
			p.Header.Get(events.SignatureHeader) == "" || !strings.Contains(rcv.bodies[i], `"event":"processed"`) {
			t.Errorf("POST %d: %s %s %v %q", i, p.Method, p.URL.Path, p.Header, rcv.bodies[i])
		}
	}
	rcv.mu.Lock()
	rcv.status = http.StatusServiceUnavailable
	rcv.mu.Unlock()
	err = e.s.TestWebhook(ctx, acme, w.ID, "")
	if inv := (*admin.InvalidError)(nil); !errors.As(err, &inv) || inv.Field != "url" || !strings.Contains(inv.Message, "HTTP 503") {
		t.Fatalf("a receiver's 503: %v", err)
	}
	before := rcv.count()
	wantRefused(t, "ftp", e.s.TestWebhook(ctx, acme, w.ID, "ftp://"+rcv.srv.Listener.Addr().String()+"/"), "url", nil)
	// shop has no webhook: a test needs a URL, and is sent unsigned.
	wantRefused(t, "no webhook, no URL", e.s.TestWebhook(ctx, e.key("shop", ""), "", ""), "url", nil)
	if rcv.count() != before {
		t.Fatal("a refused test was POSTed")
	}
	rcv.mu.Lock()
	rcv.status = http.StatusNoContent
	rcv.mu.Unlock()
	if err := e.s.TestWebhook(ctx, e.key("shop", ""), "", rcv.srv.URL+"/shop"); err != nil {
		t.Fatal(err)
	}
	if last := rcv.posts[len(rcv.posts)-1]; last.URL.Path != "/shop" || last.Header.Get(events.SignatureHeader) != "" {
		t.Fatalf("shop's test: %s %v", last.URL.Path, last.Header)
	}
	if list, _ := e.s.ListWebhooks(ctx, e.op("shop")); len(list) != 0 {
		t.Fatalf("a test made a webhook: %+v", list)
	}
}
