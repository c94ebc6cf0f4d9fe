package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

// TestCLIStats (issue 15): stats show prints a line per bucket of the
// range, zeros included, from the events in the store; the refusals.
func TestCLIStats(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return c.run(nil, append(cfg, args...)...)
	}
	if code, _, errOut := run("user", "create", "acme"); code != 0 {
		t.Fatalf("user create: %d %s", code, errOut)
	}
	// A message of acme on Dec 2, 2026: two recipients, one delivered and
	// one blocked.
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(filepath.Dir(c.config), "data", "postern.db"))
	if err != nil {
		t.Fatal(err)
	}
	acme, err := st.UserByName(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	if err := st.EnqueueBatch(ctx, []store.NewMessage{{ID: "m1", UserID: acme.ID, KeyID: "k1", From: "a@acme.example",
		Recipients: []string{"r1@example.com", "r2@example.com"}, Body: []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: at}}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordAttempt(ctx, store.Attempt{MessageID: "m1", At: at, Events: []store.Event{
		{MessageID: "m1", Recipient: "r1@example.com", Type: store.EventDelivered, Detail: "250 ok", At: at},
		{MessageID: "m1", Recipient: "r2@example.com", Type: store.EventBounced, Detail: "550 5.7.1 policy", At: at},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run("stats", "show", "--user", "acme", "--start", "2026-12-01", "--end", "2026-12-03")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("stats show: %d %q %q", code, out, errOut)
	}
	for i, want := range [][]string{
		{"2026-12-01", "0", "0", "0", "0", "0", "0", "0", "0"},
		{"2026-12-02", "2", "1", "0", "0", "1", "0", "0", "0"},
		{"2026-12-03", "0", "0", "0", "0", "0", "0", "0", "0"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d = %q, want %q", i, got, want)
		}
	}
	if code, out, _ := run("stats", "show", "--user", "acme", "--start", "2026-12-01", "--end", "2026-12-03", "--by", "month"); code != 0 ||
		strings.Join(strings.Fields(out), " ") != "2026-12-01 2 1 0 0 1 0 0 0" {
		t.Errorf("by month: %d %q", code, out)
	}
	// The default range: the last 7 days and today, one line each.
	if code, out, errOut := run("stats", "show", "--user", "acme"); code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 8 {
		t.Errorf("default range: %d %q %q", code, out, errOut)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		errOut string
	}{
		{[]string{"stats", "show"}, 2, "needs --user NAME"},
		{[]string{"stats", "show", "--user", "nobody"}, 1, `user "nobody" not found`},
		{[]string{"stats", "show", "--user", "acme", "--start", "2026-12-40"}, 1, "--start: must be a date in YYYY-MM-DD format"},
		{[]string{"stats", "show", "--user", "acme", "--start", "2026-12-03", "--end", "2026-12-01"}, 1, "--start: must not be after the end date"},
		{[]string{"stats", "show", "--user", "acme", "--by", "year"}, 1, "--by: must be day, week or month"},
	} {
		if code, _, errOut := run(tc.args...); code != tc.code || !strings.Contains(errOut, tc.errOut) {
			t.Errorf("postern %q: exit %d, stderr %q; want exit %d, %q", tc.args, code, errOut, tc.code, tc.errOut)
		}
	}
}
