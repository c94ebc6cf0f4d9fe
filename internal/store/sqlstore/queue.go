package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/postern/postern/internal/store"
)

// ListMessages returns the messages f selects, ordered by creation time
// then id. The page is chosen in a subquery over messages alone (indexes
// messages_created and messages_user_created), then read with its
// recipients in one statement, so from one snapshot.
func (db *DB) ListMessages(ctx context.Context, f store.MessageFilter) ([]store.Message, error) {
	var where []string
	var args []any
	if f.UserID != 0 {
		where, args = append(where, `user_id = ?`), append(args, f.UserID)
	}
	if f.State != "" {
		where, args = append(where, `state = ?`), append(args, string(f.State))
	}
	if f.Retried {
		where = append(where, `attempts > 0`)
	}
	if f.Recipient != "" {
		where = append(where, `EXISTS (SELECT 1 FROM message_recipients x WHERE x.message_id = messages.id AND x.state = ?)`)
		args = append(args, string(f.Recipient))
	}
	if !f.Since.IsZero() {
		where, args = append(where, `created_at >= ?`), append(args, micros(f.Since))
	}
	if f.After != "" {
		var created int64
		err := db.r.QueryRowContext(ctx, `SELECT created_at FROM messages WHERE id = ?`, f.After).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("store: list messages after %s: %w", f.After, store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("store: list messages after %s: %w", f.After, err)
		}
		where = append(where, `(created_at > ? OR (created_at = ? AND id > ?))`)
		args = append(args, created, created, f.After)
	}
	page := `SELECT id FROM messages`
	if len(where) > 0 {
		page += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := db.d.NoLimit
	if f.Limit > 0 {
		limit = int64(f.Limit)
	}
	page += ` ORDER BY created_at, id LIMIT ? OFFSET ?`
	args = append(args, limit, max(f.Offset, 0))
	rows, err := db.r.QueryContext(ctx, messageQuery+` WHERE m.id IN (`+page+`) ORDER BY m.created_at, m.id, r.idx`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	return msgs, nil
}
