package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// TestMigration12KindsAndRuleIDs: a database of version 11 keeps its
// suppressions and allow-lists; each suppression gets the kind of how it
// was added, each allow-list entry an id.
func TestMigration12KindsAndRuleIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "postern.db")
	old := atVersion(t, path, 11)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	us := micros(at)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users (id, name, created_at) VALUES (1, 'acme', 0), (2, 'beta', 0)`, nil},
		// As delivery, bounce processing and "suppression add" wrote them.
		{`INSERT INTO suppressions (user_id, address, reason, created_at) VALUES
			(1, 'gone@example.com', 'permanent failure: 550 5.1.1 no such user', ?),
			(1, 'nxdomain@nowhere.test', 'permanent failure 5.1.2: domain nowhere.test does not exist (NXDOMAIN)', ?),
			(1, 'late@example.com', 'bounce 5.1.1 (reported by mx.example.com)', ?),
			(2, 'asked@example.com', 'added by the operator', ?),
			(2, 'complained@example.com', 'complained', ?)`, []any{us, us, us, us, us}},
		{`INSERT INTO ip_allowlist (account_id, prefix, created_at) VALUES (1, '2001:db8::/48', ?), (1, '192.0.2.0/24', ?), (2, '192.0.2.0/24', ?)`,
			[]any{us, us, us}},
	} {
		if _, err := old.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	old.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kinds := map[string]store.SuppressionKind{}
	for _, uid := range []int64{1, 2} {
		list, err := db.Suppressions(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			kinds[s.Address] = s.Kind
			if !s.CreatedAt.Equal(at) || s.Reason == "" {
				t.Errorf("%s: created %v reason %q, want kept", s.Address, s.CreatedAt, s.Reason)
			}
		}
	}
	for addr, want := range map[string]store.SuppressionKind{
		"gone@example.com":       store.SuppressBounce,
		"nxdomain@nowhere.test":  store.SuppressBounce,
		"late@example.com":       store.SuppressBounce,
		"asked@example.com":      store.SuppressUnsubscribe,
		"complained@example.com": store.SuppressUnsubscribe,
	} {
		if kinds[addr] != want {
			t.Errorf("%s: kind %q, want %q", addr, kinds[addr], want)
		}
	}
	rules, err := db.IPRules(ctx, 1)
	if err != nil || len(rules) != 2 {
		t.Fatalf("rules %+v %v", rules, err)
	}
	// The order they were added in (created_at, then prefix) is kept.
	if rules[0].Prefix != "192.0.2.0/24" || rules[1].Prefix != "2001:db8::/48" || rules[0].ID == 0 || rules[0].ID == rules[1].ID ||
		!rules[0].CreatedAt.Equal(at) || !rules[0].UpdatedAt.Equal(at) {
		t.Errorf("rules %+v", rules)
	}
	if got, _ := db.IPRules(ctx, 2); len(got) != 1 {
		t.Errorf("beta's rules %+v", got)
	}
	// The new constraints hold: one entry per address and kind, one rule
	// per account and prefix.
	if err := db.AddSuppression(ctx, store.Suppression{UserID: 1, Address: "gone@example.com", Kind: store.SuppressBounce, CreatedAt: at}); err == nil {
		t.Error("a second bounce entry for one address was accepted")
	}
	if err := db.AddSuppression(ctx, store.Suppression{UserID: 1, Address: "gone@example.com", Kind: store.SuppressUnsubscribe, CreatedAt: at}); err != nil {
		t.Errorf("an unsubscribe beside a bounce: %v", err)
	}
	if _, err := db.AddIPRules(ctx, 1, []string{"192.0.2.0/24"}, at); err == nil {
		t.Error("a listed prefix was added again")
	}
}
