package sqlite

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// atVersion creates the database file path at schema version v (the
// first v migrations applied, as an older Postern left it) and returns a
// raw connection to fill it; the caller closes it before Open.
func atVersion(t *testing.T, path string, v int) *sql.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, m := range migrations[:v] {
		if err := applyMigration(ctx, db, i+1, m, time.Now()); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	return db
}
