package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/postern/postern/internal/store"
)

// SetSuspended suspends (at non-zero) or resumes (at zero) the named user.
func (db *DB) SetSuspended(ctx context.Context, name string, at time.Time, reason string) error {
	var v any
	if !at.IsZero() {
		v = micros(at)
	} else {
		reason = ""
	}
	return db.updateUser(ctx, name, `UPDATE users SET suspended_at = ?, suspend_reason = ? WHERE name = ?`, v, reason, name)
}

// SetHideOriginatingIP sets the user's X-Originating-IP opt-out.
func (db *DB) SetHideOriginatingIP(ctx context.Context, name string, hide bool) error {
	v := 0
	if hide {
		v = 1
	}
	return db.updateUser(ctx, name, `UPDATE users SET hide_originating_ip = ? WHERE name = ?`, v, name)
}

// SetSpamThreshold sets the user's spam score limit.
func (db *DB) SetSpamThreshold(ctx context.Context, name string, threshold float64) error {
	return db.updateUser(ctx, name, `UPDATE users SET spam_threshold = ? WHERE name = ?`, threshold, name)
}

func (db *DB) updateUser(ctx context.Context, name, query string, args ...any) error {
	res, err := db.w.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: update user %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: update user %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// BounceStats counts a user's delivered and bounced recipients since a time.
func (db *DB) BounceStats(ctx context.Context, userName string, since time.Time) (delivered, bounced int, err error) {
	err = db.r.QueryRowContext(ctx, `SELECT
			COALESCE(SUM(CASE WHEN r.state = ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN r.state = ? THEN 1 ELSE 0 END), 0)
		FROM message_recipients r
		JOIN messages m ON m.id = r.message_id
		JOIN users u ON u.id = m.user_id
		WHERE u.name = ? AND m.mail_from <> '' AND r.updated_at >= ?`,
		string(store.RcptDelivered), string(store.RcptBounced), userName, micros(since)).Scan(&delivered, &bounced)
	if err != nil {
		return 0, 0, fmt.Errorf("store: bounce stats of %q: %w", userName, err)
	}
	return delivered, bounced, nil
}
