package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/storetest"
	"github.com/postern/postern/internal/testenv"
)

func openTemp(t testing.TB) (*DB, string) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	db, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db, dsn
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := openTemp(t)
		return db
	})
}

func TestConformanceShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, n int) []store.Store {
		dsn := testenv.PostgresDSN(t)
		var out []store.Store
		for range n {
			db, err := Open(context.Background(), dsn, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			out = append(out, db)
		}
		return out
	})
}

func TestOpenConcurrentlyMigratesOnce(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	const nodes = 4
	errs := make(chan error, nodes)
	dbs := make(chan *DB, nodes)
	for range nodes {
		go func() {
			db, err := Open(context.Background(), dsn, Options{})
			errs <- err
			dbs <- db
		}()
	}
	for range nodes {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
		if db := <-dbs; db != nil {
			t.Cleanup(func() { db.Close() })
		}
	}
	db, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, latest int
	if err := db.pool.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &latest); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations) || latest != len(migrations) {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d", n, latest, len(migrations))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	db, dsn := openTemp(t)
	if _, err := db.pool.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(context.Background(), dsn, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this program") {
		t.Fatalf("Open on a newer schema: %v, want refused", err)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://postern:s3cret-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2",
		"postgres://postern:s3cret-pw@127.0.0.1:5432/db?sslmode=bogus",
	} {
		_, err := Open(context.Background(), dsn, Options{})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestUnsafeSettingsRefused(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	// A role whose sessions default to synchronous_commit=off: commits
	// could be lost in a crash after Postern acknowledged the mail.
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	_, err := Open(context.Background(), dsn+sep+"options=-c%20synchronous_commit%3Doff", Options{})
	if err == nil || !strings.Contains(err.Error(), "synchronous_commit") {
		t.Fatalf("Open with synchronous_commit=off: %v, want refused", err)
	}
}
