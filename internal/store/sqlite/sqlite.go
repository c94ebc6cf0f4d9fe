package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlstore"
)

// DB is a store.Store on one SQLite file: the shared SQL of
// store/sqlstore over SQLite's pools. Its methods are safe for concurrent
// use.
type DB struct {
	*sqlstore.DB
	w *sql.DB // exactly one connection: every write goes through it
	r *sql.DB // query-only connections for reads
}

// dialect is SQLite's: `?` placeholders, its constraint codes, and
// nothing to lock, as write transactions run one at a time on w.
var dialect = sqlstore.Dialect{MapErr: mapErr, NoLimit: int64(-1),
	Categories: `CROSS JOIN json_each(CASE WHEN m.meta = '' THEN '{}' ELSE m.meta END, '$.categories') c`}

var _ store.Store = (*DB)(nil)

// connPragmas are set on every connection. synchronous(FULL) is what makes
// a commit durable when it returns; busy_timeout bounds the wait for a lock
// held by another process; _txlock=immediate takes the write lock at BEGIN,
// so a transaction never fails midway on a lock it could not upgrade.
const connPragmas = "_pragma=journal_mode(WAL)" +
	"&_pragma=synchronous(FULL)" +
	"&_pragma=busy_timeout(10000)" +
	"&_pragma=foreign_keys(1)" +
	"&_txlock=immediate"

// dsn returns the driver's name for the database file at the absolute path
// abs: an SQLite URI, with the path escaped so that '?', '#' and '%' in it
// are not taken for the query.
func dsn(abs string, readOnly bool) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:///C:/...
	}
	s := "file:" + (&url.URL{Path: p}).EscapedPath() + "?" + connPragmas
	if readOnly {
		s += "&_pragma=query_only(1)"
	}
	return s
}

// readConns is the size of the read pool: enough for concurrent readers,
// bounded because each connection keeps its own page cache.
func readConns() int {
	return min(max(runtime.GOMAXPROCS(0), 4), 16)
}

// Open opens, or creates, the database at path, creating its directory
// (mode 0700) if missing, checks the durability settings and applies the
// schema migrations this version knows.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if err := mkdirAll(dir); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	// The database holds key hashes and message bodies: owner only. SQLite
	// gives its -wal and -shm files the database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	f.Close()

	w, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The writer connection is made first: it creates the file and turns
	// on WAL, which needs the database to itself.
	if err := checkPragmas(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := migrate(ctx, w, time.Now()); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	// The file now exists: make its directory entry durable too. (SQLite
	// syncs the directory when it creates the WAL, not the database file.)
	if err := syncDir(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}

	r, err := sql.Open("sqlite", dsn(abs, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	n := readConns()
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(5 * time.Minute)
	if err := checkPragmas(ctx, r); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: read pool: %w", path, err)
	}
	sdb, err := sqlstore.New(ctx, sqlstore.Options{Writer: w, Reader: r, Dialect: dialect})
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	return &DB{DB: sdb, w: w, r: r}, nil
}

// checkPragmas verifies, on one connection of pool, that the settings the
// durability contract rests on took effect. A file system without shared
// memory, for one, silently keeps the rollback journal.
func checkPragmas(ctx context.Context, pool *sql.DB) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var syncMode int
	if err := conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if syncMode != 2 {
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", syncMode)
	}
	var fk int
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys: %w", err)
	}
	if fk != 1 {
		return fmt.Errorf("foreign_keys is %d, want 1", fk)
	}
	return nil
}

// mkdirAll creates dir and any missing parents with mode 0700, and syncs
// the parent of each directory it creates.
func mkdirAll(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		created = append(created, d)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir fsyncs a directory, so that entries created in it survive a crash.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %q: %w", dir, err)
	}
	return nil
}

// mapErr gives a constraint violation its store meaning, keeping the
// driver's error in the chain: a UNIQUE or PRIMARY KEY violation is
// store.ErrExists, a FOREIGN KEY violation (a row naming a user or message
// that does not exist) is store.ErrNotFound.
func mapErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %w", store.ErrExists, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return err
}

// micros is how a time is stored: microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }
