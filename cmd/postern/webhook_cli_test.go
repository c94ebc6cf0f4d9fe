package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// TestCLIWebhook (issue 15): webhook set makes and changes the user's
// first webhook, printing the public key on stdout when signing is
// turned on (the same key when it is turned on again); webhook show
// prints its settings, the dispatcher's record (escaped) and the
// backlog; the words of admin's refusals.
func TestCLIWebhook(t *testing.T) {
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
	show := func(user string) string {
		t.Helper()
		code, out, errOut := run("webhook", "show", "--user", user)
		if code != 0 {
			t.Fatalf("webhook show: %d %q", code, errOut)
		}
		return out
	}
	for _, tc := range []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"webhook", "show", "--user", "acme"}, 0, "", "acme has no webhook"},
		{[]string{"webhook", "set", "--user", "acme"}, 2, "", "needs a setting to change"},
		{[]string{"webhook", "set", "--url", "https://x.test/"}, 2, "", "needs --user NAME"},
		{[]string{"webhook", "set", "--user", "acme", "--enabled", "yes"}, 2, "", "--enabled takes on or off"},
		{[]string{"webhook", "set", "--user", "acme", "--events", "processed,open"}, 2, "", `unknown event "open"`},
		{[]string{"webhook", "set", "--user", "acme", "--url", "ftp://hooks.acme.test/"}, 1, "", "not a valid URL"},
		{[]string{"webhook", "set", "--user", "acme", "--url", "https://u:secret@hooks.acme.test/"}, 1, "", "user name or password"},
		{[]string{"webhook", "set", "--user", "acme", "--enabled", "on"}, 1, "", "an enabled webhook needs a URL"},
		{[]string{"webhook", "set", "--user", "nobody", "--enabled", "off"}, 1, "", `user "nobody" not found`},
		{[]string{"webhook", "show", "--user", "acme"}, 0, "", "acme has no webhook"}, // the refusals made none
		{[]string{"webhook", "set", "--user", "acme", "--url", "https://hooks.acme.test/sg", "--enabled", "on", "--events", "processed,bounce"},
			0, "", "of acme: enabled, https://hooks.acme.test/sg, events processed,bounce, signing off"},
		{[]string{"webhook", "test", "--user", "acme", "--url", "ftp://hooks.acme.test/"}, 1, "", "not a valid URL"},
		{[]string{"webhook", "test", "--user", "shop"}, 1, "", "the webhook has no URL"},
		{[]string{"webhook", "show"}, 2, "", "--user"},
		{[]string{"webhook", "show", "--user", "nobody"}, 1, "", `user "nobody" not found`},
	} {
		code, out, errOut := run(tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.errOut) {
			t.Errorf("postern %q: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", tc.args, code, out, errOut, tc.code, tc.out, tc.errOut)
		}
		if strings.Contains(out+errOut, "secret") {
			t.Errorf("postern %q echoed the URL's password", tc.args)
		}
	}

	// Signing on: the key on stdout alone.
	code, key, errOut := run("webhook", "set", "--user", "acme", "--signed", "on")
	key = strings.TrimSpace(key)
	der, derr := base64.StdEncoding.DecodeString(key)
	if code != 0 || derr != nil || !strings.Contains(errOut, "signing on") {
		t.Fatalf("--signed on: %d %q %q", code, key, errOut)
	}
	if _, err := x509.ParsePKIXPublicKey(der); err != nil {
		t.Fatalf("stdout is no public key: %v", err)
	}
	out := show("acme")
	for _, want := range []string{"url:          https://hooks.acme.test/sg\n", "state:        enabled\n", "events:       processed,bounce\n",
		"signed:       on\n", "public key:   " + key + "\n", "last success: -\n", "last error:   -\n", "backlog:      0 events waiting\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("webhook show lacks %q:\n%s", want, out)
		}
	}
	id := strings.TrimPrefix(strings.SplitN(out, "\n", 2)[0], "id:           ")

	// The dispatcher's record and the backlog, as the store has them.
	a := openApp(t, c.config)
	ctx := context.Background()
	u, err := a.Store.UserByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	if err := a.Store.EnqueueBatch(ctx, []store.NewMessage{{ID: "m1", UserID: u.ID, KeyID: "k", From: "app@acme.test",
		Recipients: []string{"r1@x.test", "r2@x.test"}, Body: []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.OutboxDelivered(ctx, id, nil, at); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.OutboxFailed(ctx, id, nil, at.Add(time.Hour), "HTTP 503\x1b[2J", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	out = show("acme")
	for _, want := range []string{"last success: 2026-12-04T09:00:00Z\n", `last error:   2026-12-04T09:01:00Z HTTP 503\x1b[2J` + "\n", "backlog:      2 events waiting\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("webhook show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("webhook show printed a control character:\n%q", out)
	}

	// Off keeps the key; on again brings it back.
	if code, out, _ := run("webhook", "set", "--user", "acme", "--signed", "off", "--events", "none"); code != 0 || out != "" {
		t.Fatalf("--signed off: %d %q", code, out)
	}
	out = show("acme")
	for _, want := range []string{"signed:       off\n", "public key:   " + key + " (kept, not in use)\n", "events:       none\n", "state:        enabled\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("webhook show lacks %q:\n%s", want, out)
		}
	}
	if code, again, _ := run("webhook", "set", "--user", "acme", "--signed", "on"); code != 0 || strings.TrimSpace(again) != key {
		t.Fatalf("--signed on again: %d %q, want %s", code, again, key)
	}
	// The subuser's webhook is its own.
	if code, _, errOut := run("webhook", "set", "--user", "shop", "--url", "https://hooks.shop.test/"); code != 0 || !strings.Contains(errOut, "of shop: disabled") {
		t.Fatalf("shop's webhook: %d %q", code, errOut)
	}
	if out := show("shop"); strings.Contains(out, id) || !strings.Contains(out, "https://hooks.shop.test/") {
		t.Errorf("shop's webhooks:\n%s", out)
	}
}
