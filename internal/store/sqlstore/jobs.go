package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

// TakeLease takes the named lease in one statement: the insert of a new
// lease, or the update of one that expired.
// Two nodes asking at once both run it; the row lock lets one through,
// and the other finds a lease that has not expired.
func (db *DB) TakeLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	rows, err := db.w.QueryContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.expires_at <= ?
		RETURNING holder`, name, holder, micros(now.Add(ttl)), micros(now))
	if err != nil {
		return false, fmt.Errorf("store: lease %s: %w", name, err)
	}
	defer rows.Close()
	taken := rows.Next()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("store: lease %s: %w", name, err)
	}
	return taken, nil
}

// PurgeFinished empties the bodies and deletes the recipient rows of the
// oldest finished messages created before before, in one transaction.
func (db *DB) PurgeFinished(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	defer tx.Rollback()
	ids, err := queryAll(ctx, tx, "purge", func(r rowScanner) (id string, err error) {
		err = r.Scan(&id)
		return id, err
	}, `SELECT id FROM messages WHERE state = ? AND purged_at IS NULL AND created_at < ? ORDER BY created_at, id LIMIT ?`,
		string(store.StateDone), micros(before), limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	in := `(?` + strings.Repeat(`, ?`, len(ids)-1) + `)`
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM message_recipients WHERE message_id IN `+in, args...); err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET body = ?, purged_at = ? WHERE id IN `+in,
		append([]any{[]byte{}, micros(time.Now())}, args...)...); err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: purge: commit: %w", err)
	}
	return len(ids), nil
}
