package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

const webhookColumns = `id, user_id, url, enabled, friendly_name, events, signed, private_key, created_at, updated_at,
	last_success_at, last_error, last_error_at FROM webhooks`

func scanWebhook(r rowScanner) (store.Webhook, error) {
	var (
		w                 store.Webhook
		enabled, signed   int
		events            string
		created, updated  int64
		success, failedAt sql.NullInt64
	)
	if err := r.Scan(&w.ID, &w.UserID, &w.URL, &enabled, &w.FriendlyName, &events, &signed, &w.PrivateKey,
		&created, &updated, &success, &w.LastError, &failedAt); err != nil {
		return w, err
	}
	w.Enabled, w.Signed = enabled != 0, signed != 0
	for _, e := range splitScopes(events) {
		w.Events = append(w.Events, store.EventType(e))
	}
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	if success.Valid {
		w.LastSuccessAt = fromMicros(success.Int64)
	}
	if failedAt.Valid {
		w.LastErrorAt = fromMicros(failedAt.Int64)
	}
	return w, nil
}

func joinEvents(types []store.EventType) (string, error) {
	s := make([]string, len(types))
	for i, t := range types {
		s[i] = string(t)
	}
	return joinScopes(s)
}

// CreateWebhook stores a new webhook.
func (db *DB) CreateWebhook(ctx context.Context, w store.Webhook) error {
	if w.ID == "" {
		return errors.New("store: create webhook: empty id")
	}
	events, err := joinEvents(w.Events)
	if err != nil {
		return fmt.Errorf("store: create webhook: %w", err)
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO webhooks (id, user_id, url, enabled, friendly_name, events, signed, private_key, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.ID, w.UserID, w.URL, boolInt(w.Enabled), w.FriendlyName, events,
		boolInt(w.Signed), nonNil(w.PrivateKey), micros(w.CreatedAt), micros(w.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: create webhook: %w", db.mapErr(err))
	}
	return nil
}

// Webhook returns the webhook with that id or store.ErrNotFound.
func (db *DB) Webhook(ctx context.Context, id string) (store.Webhook, error) {
	w, err := scanWebhook(db.r.QueryRowContext(ctx, `SELECT `+webhookColumns+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("store: webhook %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("store: webhook %s: %w", id, err)
	}
	return w, nil
}

// Webhooks lists a user's webhooks, oldest first.
func (db *DB) Webhooks(ctx context.Context, userID int64) ([]store.Webhook, error) {
	return queryAll(ctx, db.r, "webhooks", scanWebhook, `SELECT `+webhookColumns+` WHERE user_id = ? ORDER BY created_at, id`, userID)
}

// UpdateWebhook replaces a webhook's settings.
func (db *DB) UpdateWebhook(ctx context.Context, w store.Webhook) error {
	events, err := joinEvents(w.Events)
	if err != nil {
		return fmt.Errorf("store: update webhook %s: %w", w.ID, err)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE webhooks SET url = ?, enabled = ?, friendly_name = ?, events = ?, signed = ?,
		private_key = ?, updated_at = ? WHERE id = ?`, w.URL, boolInt(w.Enabled), w.FriendlyName, events, boolInt(w.Signed),
		nonNil(w.PrivateKey), micros(w.UpdatedAt), w.ID)
	if err != nil {
		return fmt.Errorf("store: update webhook %s: %w", w.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: update webhook %s: %w", w.ID, store.ErrNotFound)
	}
	return nil
}

// DeleteWebhook removes a webhook and what its outbox holds.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete webhook %s: %w", id, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_outbox WHERE webhook_id = ?`, id); err != nil {
		return fmt.Errorf("store: delete webhook %s: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: delete webhook %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: delete webhook %s: %w", id, store.ErrNotFound)
	}
	return tx.Commit()
}

// outboxEnqueue puts the events with these ids in the outbox of every
// enabled webhook of their message's user that takes their type, inside
// the transaction that inserted them. Postern's own mail (DSNs, from the
// null sender) has no webhook events.
//
// The ids go in pieces of the outboxSizes, with statements prepared at
// Open: a piece shorter than its statement repeats its last id (IN is a
// set), so no list of ids costs a compilation of its own.
func (db *DB) outboxEnqueue(ctx context.Context, tx *Tx, eventIDs []int64) error {
	for len(eventIDs) > 0 {
		j := 0
		for j < len(outboxSizes)-1 && outboxSizes[j] < len(eventIDs) {
			j++
		}
		n := outboxSizes[j]
		piece := eventIDs[:min(n, len(eventIDs))]
		eventIDs = eventIDs[len(piece):]
		args := make([]any, n)
		for i := range args {
			args[i] = piece[min(i, len(piece)-1)]
		}
		if _, err := tx.StmtContext(ctx, db.st.outbox[j]).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
	}
	return nil
}

// outboxSizes are the numbers of event ids of the prepared outbox inserts.
var outboxSizes = [...]int{1, 8, 64}

// outboxQuery is the outbox insert for n event ids.
func outboxQuery(n int) string {
	// The type names have no LIKE wildcards (letters only).
	return `INSERT INTO webhook_outbox (webhook_id, event_id, next_attempt_at, attempts, created_at)
		SELECT w.id, e.id, e.at, 0, e.at
		FROM events e
		JOIN messages m ON m.id = e.message_id
		JOIN webhooks w ON w.user_id = m.user_id
		WHERE w.enabled = 1 AND m.mail_from <> '' AND (',' || w.events || ',') LIKE ('%,' || e.type || ',%')
		AND e.id IN (?` + strings.Repeat(`, ?`, n-1) + `)`
}

// ClaimOutbox leases due outbox items: the SELECT and the UPDATE of their
// next attempt in one write transaction, skipping rows another node holds
// (PostgreSQL).
func (db *DB) ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.OutboxItem, error) {
	if due, err := db.anyDue(ctx, `SELECT 1 FROM webhook_outbox WHERE next_attempt_at <= ? LIMIT 1`, micros(now)); err != nil || !due {
		return nil, err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", err)
	}
	defer tx.Rollback()
	items, err := queryAll(ctx, tx, "claim outbox", func(r rowScanner) (store.OutboxItem, error) {
		var it store.OutboxItem
		var queued, at int64
		var typ string
		err := r.Scan(&it.ID, &it.WebhookID, &it.Attempts, &queued, &it.Event.MessageID, &it.Event.Recipient, &typ, &it.Event.Detail, &at)
		it.QueuedAt, it.Event.At, it.Event.Type = fromMicros(queued), fromMicros(at), store.EventType(typ)
		return it, err
	}, `SELECT o.id, o.webhook_id, o.attempts, o.created_at, e.message_id, e.recipient, e.type, e.detail, e.at
		FROM webhook_outbox o JOIN events e ON e.id = o.event_id
		WHERE o.next_attempt_at <= ? ORDER BY o.next_attempt_at, o.id LIMIT ?`+db.d.skipLocked("o"), micros(now), limit)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	if err := db.outboxUpdate(ctx, tx, `UPDATE webhook_outbox SET next_attempt_at = ?`, []any{micros(now.Add(lease))}, ids); err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: claim outbox: commit: %w", err)
	}
	return items, nil
}

// outboxUpdate runs stmt (an UPDATE or DELETE of webhook_outbox, with
// args) on the rows with these ids.
func (db *DB) outboxUpdate(ctx context.Context, tx *Tx, stmt string, args []any, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		args = append(args, id)
	}
	_, err := tx.ExecContext(ctx, stmt+` WHERE id IN (?`+strings.Repeat(`, ?`, len(ids)-1)+`)`, args...)
	return err
}

// outboxFinish changes the items and the webhook's record together.
func (db *DB) outboxFinish(ctx context.Context, what, webhookID string, ids []int64, stmt string, args []any, hook string, hookArgs ...any) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: outbox %s: %w", what, err)
	}
	defer tx.Rollback()
	if err := db.outboxUpdate(ctx, tx, stmt, args, ids); err != nil {
		return fmt.Errorf("store: outbox %s: %w", what, err)
	}
	if _, err := tx.ExecContext(ctx, hook+` WHERE id = ?`, append(hookArgs, webhookID)...); err != nil {
		return fmt.Errorf("store: outbox %s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: outbox %s: commit: %w", what, err)
	}
	return nil
}

// OutboxDelivered removes delivered items and records the success.
func (db *DB) OutboxDelivered(ctx context.Context, webhookID string, ids []int64, at time.Time) error {
	return db.outboxFinish(ctx, "delivered", webhookID, ids, `DELETE FROM webhook_outbox`, nil,
		`UPDATE webhooks SET last_success_at = ?`, micros(at))
}

// OutboxFailed counts a failed attempt of the items and records the error.
func (db *DB) OutboxFailed(ctx context.Context, webhookID string, ids []int64, next time.Time, errText string, at time.Time) error {
	return db.outboxFinish(ctx, "failed", webhookID, ids, `UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?`,
		[]any{micros(next)}, `UPDATE webhooks SET last_error = ?, last_error_at = ?`, errText, micros(at))
}

// OutboxDiscard removes items given up on and records why.
func (db *DB) OutboxDiscard(ctx context.Context, webhookID string, ids []int64, errText string, at time.Time) error {
	return db.outboxFinish(ctx, "discard", webhookID, ids, `DELETE FROM webhook_outbox`, nil,
		`UPDATE webhooks SET last_error = ?, last_error_at = ?`, errText, micros(at))
}

// OutboxBacklog counts a webhook's waiting items.
func (db *DB) OutboxBacklog(ctx context.Context, webhookID string) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_outbox WHERE webhook_id = ?`, webhookID).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox backlog %s: %w", webhookID, err)
	}
	return n, nil
}
