package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresAdminDSN is the local server .ci/run starts: 127.0.0.1:5432,
// trust authentication. POSTERN_TEST_POSTGRES names another.
const postgresAdminDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// PostgresDSN creates a new, empty database on the local PostgreSQL server
// for this test, drops it when the test ends, and returns its DSN. Without
// a server it skips, or fails when the run requires peers
// (POSTERN_REQUIRE_PEERS=1).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("POSTERN_TEST_POSTGRES")
	if admin == "" {
		admin = postgresAdminDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		if os.Getenv("POSTERN_REQUIRE_PEERS") == "1" {
			t.Fatalf("PostgreSQL is required but not reachable at %s (.ci/run starts it): %v", redactDSN(admin), err)
		}
		t.Skipf("PostgreSQL not reachable at %s; .ci/run starts it: %v", redactDSN(admin), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "postern_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil || u.Scheme == "" {
		t.Fatalf("POSTERN_TEST_POSTGRES must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String()
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return fmt.Sprint(u.Redacted())
}
