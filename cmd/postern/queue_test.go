package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// queueCLI is a CLI whose store holds messages put in the queue the way
// the server does: for acme and its subuser shop, one a minute, the
// newest created a minute ago.
func queueCLI(t *testing.T, n int) (*cliEnv, []string) {
	t.Helper()
	c := newCLI(t)
	for _, args := range [][]string{{"user", "create", "acme"}, {"user", "create", "shop", "--parent", "acme"}} {
		if code, _, errOut := c.run(nil, append([]string{"--config", c.config}, args...)...); code != 0 {
			t.Fatal(errOut)
		}
	}
	ctx := context.Background()
	a := openApp(t, c.config)
	acme, _ := a.Store.UserByName(ctx, "acme")
	shop, _ := a.Store.UserByName(ctx, "shop")
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	var msgs []store.NewMessage
	var ids []string
	for i := range n {
		u := acme
		if i%2 == 1 {
			u = shop
		}
		id := fmt.Sprintf("m%03d", i)
		ids = append(ids, id)
		msgs = append(msgs, store.NewMessage{ID: id, UserID: u.ID, KeyID: "k" + u.Name, From: "app@acme.test",
			Recipients: []string{fmt.Sprintf("r%d@x.test", i)}, Body: []byte("Subject: x\r\n\r\nhi\r\n"),
			CreatedAt: start.Add(time.Duration(i) * time.Minute)})
	}
	if err := a.Store.EnqueueBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	a.Close()
	return c, ids
}

// listed is the ids of queue list's output lines.
func listed(out string) []string {
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			ids = append(ids, f[0])
		}
	}
	return ids
}

// TestCLIQueueListFilters (issue 11): --state, --user, --since, --limit
// (saying when more match, and how to see them) and --after.
func TestCLIQueueListFilters(t *testing.T) {
	c, ids := queueCLI(t, 6)
	cfg := []string{"--config", c.config}
	// m000 is dropped: done, and a recipient dropped.
	if code, _, errOut := c.run(nil, append(cfg, "queue", "drop", "m000")...); code != 0 {
		t.Fatal(errOut)
	}
	tests := []struct {
		args   []string
		want   []string
		errOut string // a substring of stderr; "" for nothing at all
	}{
		{nil, ids, ""},
		{[]string{"--user", "shop"}, []string{"m001", "m003", "m005"}, ""},
		{[]string{"--state", "queued"}, ids[1:], ""},
		{[]string{"--state", "done"}, []string{"m000"}, ""},
		{[]string{"--state", "dropped"}, []string{"m000"}, ""},
		{[]string{"--state", "deferred"}, nil, "no message matches"},
		{[]string{"--since", "150s"}, []string{"m004", "m005"}, ""},
		{[]string{"--since", time.Now().Add(-150 * time.Second).UTC().Format(time.RFC3339)}, []string{"m004", "m005"}, ""},
		{[]string{"--since", "1d", "--user", "acme", "--state", "queued"}, []string{"m002", "m004"}, ""},
		{[]string{"--limit", "2"}, []string{"m000", "m001"}, "2 messages shown, more match: add --after m001 for the next page, or --limit 0 for all"},
		{[]string{"--limit", "2", "--after", "m001"}, []string{"m002", "m003"}, "--after m003"},
		{[]string{"--limit", "2", "--after", "m003"}, []string{"m004", "m005"}, ""},
		{[]string{"--limit", "1", "--user", "shop", "--after", "m001"}, []string{"m003"}, "1 message shown, more match: add --after m003"},
		{[]string{"--limit", "0"}, ids, ""},
	}
	for _, tc := range tests {
		code, out, errOut := c.run(nil, append(append(cfg, "queue", "list"), tc.args...)...)
		got := listed(out)
		if code != 0 || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("queue list %v: exit %d, %q (stderr %q), want %q", tc.args, code, got, errOut, tc.want)
		}
		if tc.errOut == "" && errOut != "" || !strings.Contains(errOut, tc.errOut) {
			t.Errorf("queue list %v: stderr %q, want %q", tc.args, errOut, tc.errOut)
		}
	}
	// The columns stay what they were.
	_, out, _ := c.run(nil, append(cfg, "queue", "list", "--user", "shop", "--limit", "1")...)
	if !regexp.MustCompile(`^m001  shop  kshop  app@acme\.test  r1@x\.test  18  queued  20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$`).MatchString(out) {
		t.Errorf("queue list line %q", out)
	}
	bad := []struct {
		args   []string
		code   int
		errOut string
	}{
		{[]string{"--state", "stuck"}, 2, `--state: "stuck" is not one of queued, deferred, done, delivered, bounced, dropped`},
		{[]string{"--since", "yesterday"}, 2, "--since"},
		{[]string{"--since", "-1h"}, 2, "--since"},
		{[]string{"--limit", "-2"}, 2, "--limit"},
		{[]string{"--user", "nobody"}, 1, `user "nobody" not found`},
		{[]string{"--after", "nope"}, 1, `message "nope" not found`},
		{[]string{"extra"}, 2, "usage: postern queue list"},
	}
	for _, tc := range bad {
		code, out, errOut := c.run(nil, append(append(cfg, "queue", "list"), tc.args...)...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.errOut) {
			t.Errorf("queue list %v: exit %d, stdout %q, stderr %q; want exit %d, %q", tc.args, code, out, errOut, tc.code, tc.errOut)
		}
	}
}

// TestCLIQueueListTerminalLimit: on a terminal (a character device)
// queue list shows 50 and says that more match; into a pipe or a file
// it lists everything, as scripts expect.
func TestCLIQueueListTerminalLimit(t *testing.T) {
	c, ids := queueCLI(t, defaultQueueLimit+1)
	args := []string{"--config", c.config, "queue", "list"}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, nil, &out, &errOut); code != 0 || len(listed(out.String())) != len(ids) || errOut.Len() != 0 {
		t.Errorf("into a buffer: exit %d, %d lines, stderr %q; want all %d", code, len(listed(out.String())), errOut.String(), len(ids))
	}
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	if !isTerminal(tty) {
		t.Skipf("%s is not a character device here", os.DevNull)
	}
	errOut.Reset()
	if code := run(context.Background(), args, nil, tty, &errOut); code != 0 ||
		!strings.Contains(errOut.String(), fmt.Sprintf("50 messages shown, more match: add --after %s", ids[49])) {
		t.Errorf("on a terminal: exit %d, stderr %q", code, errOut.String())
	}
	file, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if isTerminal(file) {
		t.Error("a file is taken for a terminal")
	}
}

// TestCLIQueueShowAttempts (issue 11): queue show tells the attempts,
// the next attempt's time and the latest attempt's reply.
func TestCLIQueueShowAttempts(t *testing.T) {
	c, _ := queueCLI(t, 1)
	cfg := []string{"--config", c.config}
	_, show, _ := c.run(nil, append(cfg, "queue", "show", "m000")...)
	for _, want := range []string{"attempts: 0\n", "next try: ", "(due now)\n", "reply:    - (no attempt has ended yet)\n"} {
		if !strings.Contains(show, want) {
			t.Errorf("before an attempt, queue show lacks %q:\n%s", want, show)
		}
	}
	// An attempt the way the delivery worker records one: claimed (next
	// attempt saved first), then deferred with the receiver's reply.
	ctx := context.Background()
	a := openApp(t, c.config)
	next := time.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
	if cs, err := a.Store.ClaimDue(ctx, time.Now(), 1, func(int) time.Time { return next }); err != nil || len(cs) != 1 {
		t.Fatalf("claim %v %v", cs, err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	reply := "temporary failure 4.7.1: 451 4.7.1 greylisted, try again (mx.x.test)"
	if err := a.Store.RecordAttempt(ctx, store.Attempt{MessageID: "m000", At: at,
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptPending, Result: reply}},
		Events:  []store.Event{{MessageID: "m000", Recipient: "r0@x.test", Type: store.EventDeferred, Detail: reply, At: at}}}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	_, show, _ = c.run(nil, append(cfg, "queue", "show", "m000")...)
	for _, want := range []string{
		"state:    queued\n",
		"attempts: 1\n",
		"next try: " + stamp(next) + " (in ",
		"reply:    " + reply + " (deferred, r0@x.test " + stamp(at) + ")\n",
		"r0@x.test  pending  " + reply,
		"deferred   r0@x.test  " + reply,
	} {
		if !strings.Contains(show, want) {
			t.Errorf("after an attempt, queue show lacks %q:\n%s", want, show)
		}
	}
	// Dropped: done, no next try.
	c.run(nil, append(cfg, "queue", "drop", "m000")...)
	_, show, _ = c.run(nil, append(cfg, "queue", "show", "m000")...)
	if !strings.Contains(show, "state:    done\n") || !strings.Contains(show, "next try: -\n") {
		t.Errorf("after drop:\n%s", show)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"30m", now.Add(-30 * time.Minute)},
		{"2h", now.Add(-2 * time.Hour)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0d", now},
		{"2026-12-01T09:00:00Z", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)},
		{"2026-12-01T09:00:00+01:00", time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)},
		{"2026-12-01T09:00", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)},
		{"2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		got, err := parseSince(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "yesterday", "-1h", "-1d", "d", "1w", "2026-13-01"} {
		if _, err := parseSince(in, now); err == nil {
			t.Errorf("parseSince(%q) took it", in)
		}
	}
}
