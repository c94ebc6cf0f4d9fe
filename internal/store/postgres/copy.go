package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// copyTables are the tables Copy moves, parents before the rows that
// name them.
var copyTables = []string{
	"users", "api_keys", "ip_allowlist", "limits", "counters", "leases",
	"domains", "domain_events", "senders", "secrets", "suppressions",
	"messages", "message_recipients", "events",
	"webhooks", "webhook_outbox",
}

// identityTables have an id column PostgreSQL generates: after a copy
// their sequences are moved past the ids copied.
var identityTables = []string{"users", "ip_allowlist", "domains", "domain_events", "senders", "events", "webhook_outbox"}

// CopyCount is how many rows of one table Copy moved.
type CopyCount struct {
	Table string
	Rows  int64
}

// ErrNotEmpty is returned by Copy when the destination holds data already.
var ErrNotEmpty = errors.New("the destination database is not empty")

// Copy copies every row of an embedded store, read through src (the
// SQLite database's own pool, so that the whole copy reads one snapshot),
// into db, in one transaction: users, keys, allow-lists, limits and
// counters, domains with their keys and history, senders, secrets,
// suppressions, and the queue with its events. db must be empty; ids are
// kept, and the sequences moved past them.
//
// The columns copied are PostgreSQL's; each must exist in the source
// (both schemas are at the same version when both binaries are the same).
func Copy(ctx context.Context, src *sql.DB, db *DB) ([]CopyCount, error) {
	var users int64
	if err := db.pool.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&users); err != nil {
		return nil, fmt.Errorf("postgres: copy: %w", err)
	}
	if users > 0 {
		return nil, fmt.Errorf("postgres: copy: %w (it has %d users)", ErrNotEmpty, users)
	}
	in, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("postgres: copy: read source: %w", err)
	}
	defer in.Rollback()
	out, err := db.pool.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("postgres: copy: %w", err)
	}
	defer out.Rollback()
	var counts []CopyCount
	for _, t := range copyTables {
		n, err := copyTable(ctx, in, out, t)
		if err != nil {
			return nil, fmt.Errorf("postgres: copy %s: %w", t, err)
		}
		counts = append(counts, CopyCount{Table: t, Rows: n})
	}
	for _, t := range identityTables {
		if _, err := out.ExecContext(ctx, fmt.Sprintf(
			`SELECT setval(pg_get_serial_sequence('%[1]s', 'id'), (SELECT COALESCE(MAX(id), 0) FROM %[1]s) + 1, false)`, t)); err != nil {
			return nil, fmt.Errorf("postgres: copy %s: sequence: %w", t, err)
		}
	}
	if err := out.Commit(); err != nil {
		return nil, fmt.Errorf("postgres: copy: commit: %w", err)
	}
	return counts, nil
}

// column is one of a destination table's columns.
type column struct {
	name            string
	bytea, nullable bool
}

func copyTable(ctx context.Context, in, out *sql.Tx, table string) (int64, error) {
	cols, err := destColumns(ctx, out, table)
	if err != nil {
		return 0, err
	}
	names := make([]string, len(cols))
	marks := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	list := strings.Join(names, ", ")
	// The names come from PostgreSQL's catalogue, not from input.
	rows, err := in.QueryContext(ctx, `SELECT `+list+` FROM `+table)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()
	ins, err := out.PrepareContext(ctx, `INSERT INTO `+table+` (`+list+`) VALUES (`+strings.Join(marks, ", ")+`)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, fmt.Errorf("read: %w", err)
		}
		for i, c := range cols {
			// SQLite keeps what it was given: a BLOB column may hold text.
			switch v := vals[i].(type) {
			case string:
				if c.bytea {
					vals[i] = []byte(v)
				}
			case []byte:
				switch {
				case !c.bytea:
					vals[i] = string(v)
				case v == nil && !c.nullable:
					// The SQLite driver reads an empty BLOB as a nil
					// slice, which would be bound as NULL.
					vals[i] = []byte{}
				}
			case nil:
				if c.bytea && !c.nullable {
					vals[i] = []byte{}
				}
			}
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return n, fmt.Errorf("row %d: %w", n+1, err)
		}
		n++
	}
	return n, rows.Err()
}

// destColumns lists a destination table's columns in order.
func destColumns(ctx context.Context, out *sql.Tx, table string) ([]column, error) {
	rows, err := out.QueryContext(ctx, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		var typ, nullable string
		if err := rows.Scan(&c.name, &typ, &nullable); err != nil {
			return nil, err
		}
		c.bytea, c.nullable = typ == "bytea", nullable == "YES"
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("no table %s in the destination", table)
	}
	return cols, nil
}
