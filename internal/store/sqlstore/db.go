package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dialect is what a driver tells the shared SQL about its database.
type Dialect struct {
	// Numbered placeholders: the queries' `?` are rewritten to $1, $2 …
	// (PostgreSQL) before they reach the driver.
	Numbered bool
	// MapErr gives a driver's constraint violation its store meaning: a
	// unique or primary-key violation wraps store.ErrExists, a foreign-key
	// violation store.ErrNotFound. Any other error is returned as it is.
	MapErr func(error) error
	// SkipLocked is appended to the SELECT of a claim (due messages, due
	// webhook events), with the claimed table's alias for %s:
	// PostgreSQL's " FOR UPDATE OF %s SKIP LOCKED", so that nodes claiming
	// at once take different rows instead of waiting for each other.
	// SQLite needs none: its write transactions run one at a time.
	SkipLocked string
	// NoLimit is the LIMIT argument that means "no limit": -1 for SQLite,
	// NULL (nil) for PostgreSQL.
	NoLimit any
	// LockCounters, when set, runs inside UpdateCounters' transaction
	// before the counters are read, and must make transactions on the same
	// subjects wait for each other (PostgreSQL: advisory transaction
	// locks). Nil where write transactions are serial already (SQLite).
	LockCounters func(ctx context.Context, tx *Tx, subjects []string) error
	// Categories is a join that gives each row of messages m one row of
	// c(value) per category in m's Meta (JSON; "" is none): SQLite's
	// json_each, PostgreSQL's jsonb_array_elements_text.
	Categories string
}

// Options are what New needs: the pools and the dialect.
type Options struct {
	// Writer runs every write transaction; Reader every read outside a
	// transaction. They may be the same pool (PostgreSQL).
	Writer, Reader *sql.DB
	Dialect        Dialect
}

// DB is store.Store over database/sql. Its methods are safe for concurrent
// use.
type DB struct {
	w, r *pool
	st   *stmts
	d    *Dialect

	closeOnce sync.Once
	closeErr  error
}

// New prepares the hot path's statements and returns the store. The
// schema must be in place already: each driver migrates its own. Close
// closes both pools.
func New(ctx context.Context, o Options) (*DB, error) {
	if o.Writer == nil || o.Reader == nil || o.Dialect.MapErr == nil {
		return nil, errors.New("store: New: writer, reader and MapErr are required")
	}
	d := o.Dialect
	db := &DB{d: &d, w: &pool{db: o.Writer, d: &d}, r: &pool{db: o.Reader, d: &d}}
	st, err := prepareStmts(ctx, db.r, db.w, &d)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db.st = st
	return db, nil
}

// Close closes the statements and the pools. Calling it again returns the
// first result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		errs := []error{db.st.close(), db.r.db.Close()}
		if db.w.db != db.r.db {
			errs = append(errs, db.w.db.Close())
		}
		db.closeErr = errors.Join(errs...)
		if db.closeErr != nil {
			db.closeErr = fmt.Errorf("store: close: %w", db.closeErr)
		}
	})
	return db.closeErr
}

// WriterPool and ReaderPool are the pools the store runs on, for the
// driver's own tests and tools (migrations, copying).
func (db *DB) WriterPool() *sql.DB { return db.w.db }
func (db *DB) ReaderPool() *sql.DB { return db.r.db }

// skipLocked is the SkipLocked clause for the table aliased alias.
func (d *Dialect) skipLocked(alias string) string {
	if d.SkipLocked == "" {
		return ""
	}
	return fmt.Sprintf(d.SkipLocked, alias)
}

func (db *DB) mapErr(err error) error {
	if err == nil {
		return nil
	}
	return db.d.MapErr(err)
}

// pool is a *sql.DB whose queries are written with `?` placeholders.
type pool struct {
	db *sql.DB
	d  *Dialect
}

func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.db.ExecContext(ctx, p.d.rebind(query), args...)
}

func (p *pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return p.db.QueryContext(ctx, p.d.rebind(query), args...)
}

func (p *pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return p.db.QueryRowContext(ctx, p.d.rebind(query), args...)
}

func (p *pool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, p.d.rebind(query))
}

func (p *pool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{tx: tx, d: p.d}, nil
}

// Tx is a transaction whose queries are written with `?` placeholders.
type Tx struct {
	tx *sql.Tx
	d  *Dialect
}

func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(query), args...)
}

func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(query), args...)
}

func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(query), args...)
}

// StmtContext is the prepared statement st, bound to the transaction.
func (t *Tx) StmtContext(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	return t.tx.StmtContext(ctx, st)
}

func (t *Tx) Commit() error   { return t.tx.Commit() }
func (t *Tx) Rollback() error { return t.tx.Rollback() }

// rebinds caches rewritten queries: the store's queries are a few dozen
// strings, built the same way on every call.
var rebinds sync.Map

// rebind rewrites the `?` placeholders of query as $1, $2 … when the
// dialect numbers them. A `?` inside a quoted string or identifier is
// left alone.
func (d *Dialect) rebind(query string) string {
	if !d.Numbered || !strings.Contains(query, "?") {
		return query
	}
	if q, ok := rebinds.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	q := b.String()
	rebinds.Store(query, q)
	return q
}

// querier is a pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface {
	Scan(dest ...any) error
}

// micros is how a time is stored: microseconds since the Unix epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is a stored time, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// queryAll runs query and scans every row with scan; what names the
// operation in errors.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	return scanAll(what, scan, rows, err)
}

// queryStmt is queryAll for a prepared statement.
func queryStmt[T any](ctx context.Context, st *sql.Stmt, what string, scan func(rowScanner) (T, error), args ...any) ([]T, error) {
	rows, err := st.QueryContext(ctx, args...)
	return scanAll(what, scan, rows, err)
}

// scanAll scans every row of rows, the result of a query that failed with
// err if not nil, with scan.
func scanAll[T any](what string, scan func(rowScanner) (T, error), rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}
