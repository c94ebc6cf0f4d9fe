package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlstore"
)

// DB is a store.Store on a PostgreSQL database, shared by every node of a
// cluster: the SQL of store/sqlstore over one pgx pool.
type DB struct {
	*sqlstore.DB
	pool *sql.DB
}

var _ store.Store = (*DB)(nil)

// Options tune the connection pool.
type Options struct {
	// MaxConns bounds the connections this node opens; 0: 20.
	MaxConns int
}

// dialect is PostgreSQL's: numbered placeholders, SQLSTATE classes, a
// claim that skips the rows other nodes hold, and counters locked per
// subject.
var dialect = sqlstore.Dialect{
	Numbered:     true,
	MapErr:       mapErr,
	SkipLocked:   ` FOR UPDATE OF %s SKIP LOCKED`,
	NoLimit:      nil,
	LockCounters: lockSubjects,
	Categories: `CROSS JOIN LATERAL jsonb_array_elements_text(
		CASE WHEN m.meta = '' THEN NULL ELSE m.meta::jsonb -> 'categories' END) AS c(value)`,
}

// Open connects to the database dsn names (a postgres:// URL or key=value
// string), checks that commits are durable, and applies the migrations
// this version knows.
func Open(ctx context.Context, dsn string, o Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message can quote the DSN, password included.
		return nil, errors.New("postgres: open: the DSN could not be parsed")
	}
	pool := stdlib.OpenDB(*cfg)
	n := o.MaxConns
	if n <= 0 {
		n = 20
	}
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := checkSettings(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
	}
	if err := migrate(ctx, pool, time.Now()); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
	}
	sdb, err := sqlstore.New(ctx, sqlstore.Options{Writer: pool, Reader: pool, Dialect: dialect})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where(cfg), err)
	}
	return &DB{DB: sdb, pool: pool}, nil
}

// where names the database for errors, without the password.
func where(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// checkSettings verifies what the durability contract rests on: a commit
// returns only once it is flushed (fsync on, synchronous_commit not off).
// A server configured to lose recent commits in a crash is refused.
func checkSettings(ctx context.Context, pool *sql.DB) error {
	var fsync, syncCommit string
	if err := pool.QueryRowContext(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &syncCommit); err != nil {
		return fmt.Errorf("read settings: %w", err)
	}
	if fsync != "on" {
		return fmt.Errorf("fsync is %q, want on", fsync)
	}
	if syncCommit == "off" {
		return fmt.Errorf("synchronous_commit is off: acknowledged mail could be lost in a crash")
	}
	return nil
}

// mapErr gives a constraint violation its store meaning by SQLSTATE,
// keeping the driver's error in the chain.
func mapErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "23505": // unique_violation
		return fmt.Errorf("%w: %w", store.ErrExists, err)
	case "23503": // foreign_key_violation
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return err
}

// lockSubjects takes a transaction-scoped advisory lock per subject, in
// sorted order (so two transactions never wait for each other in a
// circle), for UpdateCounters: nodes reserving for the same key or user
// take turns, and each sees the other's counts.
//
// The transaction also commits without waiting for its WAL flush
// (synchronous_commit off, for it alone): the subjects' locks are held
// until the commit, and a flush per reservation, one after the other for
// a busy user, would bound a user's sending to the disk's flushes per
// second. Nothing acknowledged depends on it: WAL is flushed in order, so
// the synchronous commit that queues a message makes its reservation
// durable before the 250 is sent; a crash can lose only reservations of
// messages not yet acknowledged.
func lockSubjects(ctx context.Context, tx *sqlstore.Tx, subjects []string) error {
	keys := make([]int64, 0, len(subjects))
	for _, s := range subjects {
		keys = append(keys, advisoryKey("counter:"+s))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// One round trip, the locks taken left to right, in sorted order.
	q := `SELECT set_config('synchronous_commit', 'off', true)`
	args := make([]any, len(keys))
	for i, k := range keys {
		q += `, pg_advisory_xact_lock(?)`
		args[i] = k
	}
	_, err := tx.ExecContext(ctx, q, args...)
	return err
}

// advisoryKey is the 64-bit advisory lock key of a name.
func advisoryKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}
