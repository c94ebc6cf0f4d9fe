package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/postern/postern/internal/store"
)

// SetLimit upserts an override.
func (db *DB) SetLimit(ctx context.Context, l store.LimitRow) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO limits (kind, subject, period, messages, recipients, mode)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (kind, subject, period) DO UPDATE SET messages = excluded.messages,
			recipients = excluded.recipients, mode = excluded.mode`,
		l.Kind, l.Subject, l.Period, l.Messages, l.Recipients, l.Mode)
	if err != nil {
		return fmt.Errorf("store: set limit: %w", db.mapErr(err))
	}
	return nil
}

const limitsOfQuery = `SELECT kind, subject, period, messages, recipients, mode FROM limits
	WHERE kind = ? AND subject = ? ORDER BY kind, subject, period`

// Limits lists overrides, of one subject when kind and subject are set.
func (db *DB) Limits(ctx context.Context, kind, subject string) ([]store.LimitRow, error) {
	scan := func(r rowScanner) (l store.LimitRow, err error) {
		err = r.Scan(&l.Kind, &l.Subject, &l.Period, &l.Messages, &l.Recipients, &l.Mode)
		return l, err
	}
	if kind != "" {
		return queryStmt(ctx, db.st.limitsOf, "limits", scan, kind, subject) // every message's quota check
	}
	return queryAll(ctx, db.r, "limits", scan, `SELECT kind, subject, period, messages, recipients, mode FROM limits
		ORDER BY kind, subject, period`)
}

// UsageSince counts accepted messages and their recipients per user and
// key since a time, leaving out DSNs (null sender).
func (db *DB) UsageSince(ctx context.Context, since time.Time) ([]store.UsageRow, error) {
	return queryAll(ctx, db.r, "usage", func(r rowScanner) (u store.UsageRow, err error) {
		err = r.Scan(&u.UserName, &u.ParentName, &u.KeyID, &u.Messages, &u.Recipients)
		return u, err
	}, `SELECT u.name, COALESCE(p.name, ''), m.key_id, COUNT(*), CAST(COALESCE(SUM(m.rcpt_count), 0) AS BIGINT)
		FROM messages m
		JOIN users u ON u.id = m.user_id
		LEFT JOIN users p ON p.id = u.parent_id
		WHERE m.created_at >= ? AND m.mail_from <> '' AND m.rcpt_count > 0
		GROUP BY u.name, p.name, m.key_id
		ORDER BY u.name, m.key_id`, micros(since))
}
