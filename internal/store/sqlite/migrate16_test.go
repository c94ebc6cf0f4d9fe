package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestMigration16RecipientCounts: messages queued before version 16 get
// their recipient count, so usage (and so quotas) still counts them once
// retention has removed their recipient rows.
func TestMigration16RecipientCounts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "postern.db")
	old := atVersion(t, path, 15)
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	us := micros(at)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO users (id, name, created_at) VALUES (1, 'acme', 0)`, nil},
		{`INSERT INTO messages (id, user_id, key_id, mail_from, size, state, created_at, body) VALUES
			('m1', 1, 'k1', 'a@acme.test', 10, 'queued', ?, x'00'), ('m2', 1, 'k1', 'a@acme.test', 10, 'done', ?, x'00')`, []any{us, us}},
		{`INSERT INTO message_recipients (message_id, idx, address) VALUES ('m1', 0, 'x@example.com'), ('m1', 1, 'y@example.com'),
			('m1', 2, 'z@example.com'), ('m2', 0, 'x@example.com')`, nil},
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
	usage, err := db.UsageSince(ctx, at.Add(-time.Hour))
	if err != nil || len(usage) != 1 || usage[0].Messages != 2 || usage[0].Recipients != 4 {
		t.Fatalf("usage after migration 16 = %+v, %v; want 2 messages, 4 recipients", usage, err)
	}
	if n, err := db.PurgeFinished(ctx, at.Add(time.Hour), 10); err != nil || n != 1 {
		t.Fatalf("PurgeFinished = %d, %v; want m2", n, err)
	}
	usage, err = db.UsageSince(ctx, at.Add(-time.Hour))
	if err != nil || len(usage) != 1 || usage[0].Messages != 2 || usage[0].Recipients != 4 {
		t.Fatalf("usage after the purge = %+v, %v; want it unchanged", usage, err)
	}
}
