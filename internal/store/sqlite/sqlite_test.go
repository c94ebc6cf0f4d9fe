package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/storetest"
)

func openTemp(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "postern.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db, path
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := openTemp(t)
		return db
	})
}

func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, n int) []store.Store {
		path := filepath.Join(t.TempDir(), "postern.db")
		var out []store.Store
		for range n {
			db, err := Open(context.Background(), path)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			out = append(out, db)
		}
		return out
	})
}

type migrationRow struct {
	version   int
	appliedAt int64
}

func appliedMigrations(t *testing.T, db *DB) []migrationRow {
	t.Helper()
	rows, err := db.r.Query(`SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var m migrationRow
		if err := rows.Scan(&m.version, &m.appliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	u, err := db.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	msg := store.NewMessage{ID: "m1", UserID: u.ID, KeyID: "k1", From: "a@acme.example",
		Recipients: []string{"b@example.com"}, Body: []byte("Subject: x\r\n\r\n\x00\xff\r\n"),
		CreatedAt: time.Now()}
	if err := db.EnqueueBatch(ctx, []store.NewMessage{msg}); err != nil {
		t.Fatalf("EnqueueBatch: %v", err)
	}
	first := appliedMigrations(t, db)
	if len(first) != len(migrations) {
		t.Fatalf("schema_migrations has %d rows, want %d", len(first), len(migrations))
	}
	for i, m := range first {
		if m.version != i+1 {
			t.Fatalf("schema_migrations = %v, want versions 1..%d", first, len(migrations))
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	time.Sleep(2 * time.Millisecond) // a re-run would record a later applied_at
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if again := appliedMigrations(t, db); !slices.Equal(again, first) {
		t.Errorf("after reopen schema_migrations = %v, want unchanged %v", again, first)
	}
	got, err := db.UserByName(ctx, "acme")
	if err != nil || got.ID != u.ID || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("after reopen UserByName = %+v, %v; want %+v", got, err, u)
	}
	body, err := db.MessageBody(ctx, "m1")
	if err != nil || string(body) != string(msg.Body) {
		t.Errorf("after reopen MessageBody = %q, %v; want %q", body, err, msg.Body)
	}
	m, err := db.Message(ctx, "m1")
	if err != nil || !slices.Equal(m.Recipients, msg.Recipients) || m.UserName != "acme" {
		t.Errorf("after reopen Message = %+v, %v", m, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	db, path := openTemp(t)
	if _, err := db.w.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err := Open(ctx, path)
	if err == nil {
		db.Close()
		t.Fatal("Open of a database from a newer schema succeeded, want an error")
	}
}

func TestPragmas(t *testing.T) {
	db, _ := openTemp(t)
	defer db.Close()
	check := func(pool string, q string, want string) {
		t.Helper()
		var got string
		sdb := db.w
		if pool == "read" {
			sdb = db.r
		}
		if err := sdb.QueryRow("PRAGMA " + q).Scan(&got); err != nil {
			t.Fatalf("%s pool: PRAGMA %s: %v", pool, q, err)
		}
		if got != want {
			t.Errorf("%s pool: PRAGMA %s = %q, want %q", pool, q, got, want)
		}
	}
	for _, pool := range []string{"write", "read"} {
		check(pool, "journal_mode", "wal")
		check(pool, "synchronous", "2")
		check(pool, "foreign_keys", "1")
		check(pool, "busy_timeout", "10000")
	}
	check("write", "query_only", "0")
	check("read", "query_only", "1")
	if _, err := db.r.Exec(`INSERT INTO users (name, created_at) VALUES ('x', 0)`); err == nil {
		t.Error("a write through the read pool succeeded")
	}
}

func TestOpenCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	// Characters that mean something in a URI must reach the file name as
	// they are.
	path := filepath.Join(dir, "post ern?x=1#frag%41.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("data directory: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode = %v, want 0700", perm)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); name != filepath.Base(path) && name != filepath.Base(path)+"-wal" && name != filepath.Base(path)+"-shm" {
			t.Errorf("unexpected file %q in the data directory", name)
		}
	}
}

func TestCloseTwice(t *testing.T) {
	db, _ := openTemp(t)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := db.Users(context.Background()); err == nil {
		t.Error("Users after Close succeeded")
	}
}

func TestScopeWithCommaRefused(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t)
	defer db.Close()
	u, err := db.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, scopes := range [][]string{{"mail.send,stats.read"}, {"mail.send", ""}} {
		err := db.CreateAPIKey(ctx, store.APIKey{ID: "k1", UserID: u.ID, Scopes: scopes, CreatedAt: time.Now()})
		if err == nil || errors.Is(err, store.ErrExists) {
			t.Errorf("CreateAPIKey(scopes %q) error = %v, want a refusal", scopes, err)
		}
	}
}

func TestDatabaseFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateUser(context.Background(), "acme", ""); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
}
