package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrateLock is the advisory lock key nodes starting at once take, so
// that exactly one of them applies a migration and the others wait and
// find it applied.
var migrateLock = advisoryKey("postern:migrate")

// migrate brings the database up to len(migrations), each migration in its
// own transaction, under a session advisory lock held on one connection.
// A database newer than this code is refused.
func migrate(ctx context.Context, pool *sql.DB, now time.Time) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var latest sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&latest); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if latest.Int64 > int64(len(migrations)) {
		return fmt.Errorf("migrate: database schema version %d is newer than this program's %d", latest.Int64, len(migrations))
	}
	for v := int(latest.Int64) + 1; v <= len(migrations); v++ {
		if err := apply(ctx, conn, v, migrations[v-1], now); err != nil {
			return fmt.Errorf("migrate: version %d: %w", v, err)
		}
	}
	return nil
}

func apply(ctx context.Context, conn *sql.Conn, version int, stmts string, now time.Time) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, stmts); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, version, now.UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}
