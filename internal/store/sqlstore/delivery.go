package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

const (
	insertEventQuery = `INSERT INTO events (message_id, recipient, type, detail, at) VALUES (?, ?, ?, ?, ?) RETURNING id`
	claimSelectQuery = `SELECT m.id, m.user_id, u.name, m.mail_from, m.created_at, m.attempts, m.delay_notified
		FROM messages m JOIN users u ON u.id = m.user_id WHERE m.state = ? AND m.next_attempt_at <= ?
		ORDER BY m.next_attempt_at, m.id LIMIT ?`
	claimUpdateQuery       = `UPDATE messages SET attempts = ?, next_attempt_at = ? WHERE id = ?`
	recipientsQuery        = `SELECT idx, address, state, last_result, updated_at FROM message_recipients WHERE message_id = ?`
	pendingRecipientsQuery = recipientsQuery + ` AND state = ? ORDER BY idx`
	// Only a pending recipient changes, except to bounced: a bounce that
	// arrives after delivery wins, and a delivery recorded after an early
	// bounce (or an operator's drop) does not undo it.
	updateRecipientQuery = `UPDATE message_recipients SET state = ?, last_result = ?, updated_at = ?
		WHERE message_id = ? AND idx = ? AND (state = ? OR ? = ?)`
	delayNotifiedQuery = `UPDATE messages SET delay_notified = 1 WHERE id = ?`
	finishIfDoneQuery  = `UPDATE messages SET state = ? WHERE id = ? AND NOT EXISTS
		(SELECT 1 FROM message_recipients WHERE message_id = ? AND state = ?)`
)

// ClaimDue leases due messages. The SELECT and the UPDATEs run in one
// write transaction (BEGIN IMMEDIATE), so two workers — or two processes —
// never claim the same message; PostgreSQL will use FOR UPDATE SKIP LOCKED.
func (db *DB) ClaimDue(ctx context.Context, now time.Time, limit int, next func(attempt int) time.Time) ([]store.Claim, error) {
	// Asked on every commit's wake-up: when nothing is due, a read says so
	// without the write transaction (on SQLite, the one writer's lock).
	if due, err := db.anyDue(ctx, `SELECT 1 FROM messages WHERE state = ? AND next_attempt_at <= ? LIMIT 1`,
		string(store.StateQueued), micros(now)); err != nil || !due {
		return nil, err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.StmtContext(ctx, db.st.claimSelect).QueryContext(ctx, string(store.StateQueued), micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	var claims []store.Claim
	for rows.Next() {
		var c store.Claim
		var created int64
		var notified int
		if err := rows.Scan(&c.ID, &c.UserID, &c.UserName, &c.From, &created, &c.Attempts, &notified); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: claim: %w", err)
		}
		c.CreatedAt, c.DelayNotified = fromMicros(created), notified != 0
		claims = append(claims, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	if len(claims) == 0 {
		return nil, nil // nothing written: the deferred Rollback ends the transaction
	}
	update := tx.StmtContext(ctx, db.st.claimUpdate)
	pending := tx.StmtContext(ctx, db.st.pendingRecipients)
	for i := range claims {
		c := &claims[i]
		c.Attempts++
		c.NextAttempt = next(c.Attempts).UTC().Truncate(time.Microsecond)
		if _, err := update.ExecContext(ctx, c.Attempts, micros(c.NextAttempt), c.ID); err != nil {
			return nil, fmt.Errorf("store: claim %s: %w", c.ID, err)
		}
		if c.Recipients, err = scanRecipients(pending.QueryContext(ctx, c.ID, string(store.RcptPending))); err != nil {
			return nil, fmt.Errorf("store: claim %s: %w", c.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: claim: commit: %w", err)
	}
	return claims, nil
}

func recipients(ctx context.Context, q querier, id string, pendingOnly bool) ([]store.Recipient, error) {
	if pendingOnly {
		return scanRecipients(q.QueryContext(ctx, pendingRecipientsQuery, id, string(store.RcptPending)))
	}
	return scanRecipients(q.QueryContext(ctx, recipientsQuery+` ORDER BY idx`, id))
}

// scanRecipients reads the rows of a recipients query that failed with
// err if not nil.
func scanRecipients(rows *sql.Rows, err error) ([]store.Recipient, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Recipient
	for rows.Next() {
		var r store.Recipient
		var state string
		var updated int64
		if err := rows.Scan(&r.Idx, &r.Address, &state, &r.LastResult, &updated); err != nil {
			return nil, err
		}
		r.State = store.RecipientState(state)
		if updated != 0 {
			r.UpdatedAt = fromMicros(updated)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// anyDue runs query, a SELECT 1 … LIMIT 1, on the read pool and reports
// whether it found a row.
func (db *DB) anyDue(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := db.r.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: claim: %w", err)
	}
	return true, nil
}

// RecordAttempt commits an attempt's outcome, its events, suppressions and
// DSNs together.
func (db *DB) RecordAttempt(ctx context.Context, a store.Attempt) error {
	return db.RecordAttempts(ctx, []store.Attempt{a})
}

// RecordAttempts commits several attempts' outcomes in one transaction,
// each as RecordAttempt would: all of them, or none (group commit, one
// sync for all). They are applied in message id order, attempts of one
// message in the order given, so that two transactions recording some of
// the same messages lock them in the same order (PostgreSQL).
func (db *DB) RecordAttempts(ctx context.Context, as []store.Attempt) error {
	if len(as) == 0 {
		return nil
	}
	if len(as) > 1 && !slices.IsSortedFunc(as, byMessageID) {
		as = slices.Clone(as)
		slices.SortStableFunc(as, byMessageID)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: record %s: %w", as[0].MessageID, err)
	}
	defer tx.Rollback()
	// The batch's events go to the webhook outbox in one statement (one
	// compilation of its IN list) rather than one per attempt.
	var outbox []int64
	st := attemptStmts{ // bound to tx once for the batch
		update: tx.StmtContext(ctx, db.st.updateRecipient),
		event:  tx.StmtContext(ctx, db.st.insertEvent),
		finish: tx.StmtContext(ctx, db.st.finishIfDone),
	}
	for i := range as {
		if err := db.recordAttempt(ctx, tx, &st, &as[i], &outbox); err != nil {
			return err
		}
	}
	if err := db.outboxEnqueue(ctx, tx, outbox); err != nil {
		return fmt.Errorf("store: record %s: %w", as[len(as)-1].MessageID, err)
	}
	if err := tx.Commit(); err != nil {
		if len(as) == 1 {
			return fmt.Errorf("store: record %s: commit: %w", as[0].MessageID, err)
		}
		return fmt.Errorf("store: record %d attempts: commit: %w", len(as), err)
	}
	return nil
}

// maxOutboxBatch bounds the event ids RecordAttempts gathers for one
// outbox statement: a statement's parameters are bounded (PostgreSQL:
// 65535), and no attempt's events are more than its recipients.
const maxOutboxBatch = 1000

func byMessageID(a, b store.Attempt) int { return strings.Compare(a.MessageID, b.MessageID) }

// attemptStmts are the statements of recordAttempt, bound to its
// transaction.
type attemptStmts struct{ update, event, finish *sql.Stmt }

// recordAttempt applies one attempt's outcome in tx, and adds the ids of
// the events it inserts to outbox, for the webhook outbox.
func (db *DB) recordAttempt(ctx context.Context, tx *Tx, st *attemptStmts, a *store.Attempt, outbox *[]int64) error {
	for _, u := range a.Updates {
		if _, err := st.update.ExecContext(ctx, string(u.State), u.Result, micros(a.At), a.MessageID, u.Idx,
			string(store.RcptPending), string(u.State), string(store.RcptBounced)); err != nil {
			return fmt.Errorf("store: record %s: %w", a.MessageID, err)
		}
	}
	ids, err := db.insertEventRows(ctx, st.event, a.Events)
	if err != nil {
		return fmt.Errorf("store: record %s: %w", a.MessageID, err)
	}
	*outbox = append(*outbox, ids...)
	if len(*outbox) >= maxOutboxBatch {
		if err := db.outboxEnqueue(ctx, tx, *outbox); err != nil {
			return fmt.Errorf("store: record %s: %w", a.MessageID, err)
		}
		*outbox = (*outbox)[:0]
	}
	for _, s := range a.Suppress {
		if _, err := db.insertSuppression(ctx, tx, s, true); err != nil {
			return fmt.Errorf("store: record %s: %w", a.MessageID, err)
		}
	}
	if len(a.Notices) > 0 {
		// The attempt's events reach the outbox before its DSNs' own.
		if err := db.outboxEnqueue(ctx, tx, *outbox); err != nil {
			return fmt.Errorf("store: record %s: %w", a.MessageID, err)
		}
		*outbox = (*outbox)[:0]
		if err := db.insertMessages(ctx, tx, a.Notices); err != nil {
			return err
		}
	}
	if a.DelayNotified {
		if _, err := tx.StmtContext(ctx, db.st.delayNotified).ExecContext(ctx, a.MessageID); err != nil {
			return fmt.Errorf("store: record %s: %w", a.MessageID, err)
		}
	}
	if _, err := st.finish.ExecContext(ctx, string(store.StateDone), a.MessageID, a.MessageID, string(store.RcptPending)); err != nil {
		return fmt.Errorf("store: record %s: %w", a.MessageID, err)
	}
	if !a.NextAttempt.IsZero() {
		if _, err := tx.ExecContext(ctx, `UPDATE messages SET next_attempt_at = ? WHERE id = ? AND state = ?`,
			micros(a.NextAttempt), a.MessageID, string(store.StateQueued)); err != nil {
			return fmt.Errorf("store: record %s: %w", a.MessageID, err)
		}
	}
	return nil
}

func (db *DB) insertEvents(ctx context.Context, tx *Tx, events []store.Event) error {
	ids, err := db.insertEventRows(ctx, tx.StmtContext(ctx, db.st.insertEvent), events)
	if err != nil {
		return err
	}
	return db.outboxEnqueue(ctx, tx, ids)
}

// insertEventRows inserts events with ins, the event insert bound to a
// transaction, and returns their ids, without putting them in the webhook
// outbox.
func (db *DB) insertEventRows(ctx context.Context, ins *sql.Stmt, events []store.Event) ([]int64, error) {
	if len(events) == 0 {
		return nil, nil
	}
	ids := make([]int64, 0, len(events))
	for _, e := range events {
		var id int64
		if err := ins.QueryRowContext(ctx, e.MessageID, e.Recipient, string(e.Type), e.Detail, micros(e.At)).Scan(&id); err != nil {
			return nil, db.mapErr(err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// finishIfDone marks the message done when no recipient is pending.
func (db *DB) finishIfDone(ctx context.Context, tx *Tx, id string) error {
	_, err := tx.StmtContext(ctx, db.st.finishIfDone).ExecContext(ctx, string(store.StateDone), id, id, string(store.RcptPending))
	return err
}

// Recipients lists all recipients of a message with their state.
func (db *DB) Recipients(ctx context.Context, id string) ([]store.Recipient, error) {
	if err := db.exists(ctx, id); err != nil {
		return nil, err
	}
	rs, err := recipients(ctx, db.r, id, false)
	if err != nil {
		return nil, fmt.Errorf("store: recipients %s: %w", id, err)
	}
	return rs, nil
}

func (db *DB) exists(ctx context.Context, id string) error {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("store: message %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: message %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Events returns a message's history, oldest first.
func (db *DB) Events(ctx context.Context, id string) ([]store.Event, error) {
	if err := db.exists(ctx, id); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT recipient, type, detail, at FROM events WHERE message_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: events %s: %w", id, err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		e := store.Event{MessageID: id}
		var typ string
		var at int64
		if err := rows.Scan(&e.Recipient, &typ, &e.Detail, &at); err != nil {
			return nil, fmt.Errorf("store: events %s: %w", id, err)
		}
		e.Type, e.At = store.EventType(typ), fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// RetryNow makes a queued message due now.
func (db *DB) RetryNow(ctx context.Context, id string, now time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE messages SET next_attempt_at = ? WHERE id = ? AND state = ?`,
		micros(now), id, string(store.StateQueued))
	if err != nil {
		return fmt.Errorf("store: retry %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: retry %s: no queued message: %w", id, store.ErrNotFound)
	}
	return nil
}

// Drop drops every pending recipient of a queued message.
func (db *DB) Drop(ctx context.Context, id, reason string, now time.Time) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: drop %s: %w", id, err)
	}
	defer tx.Rollback()
	pending, err := recipients(ctx, tx, id, true)
	if err != nil {
		return fmt.Errorf("store: drop %s: %w", id, err)
	}
	if len(pending) == 0 {
		return fmt.Errorf("store: drop %s: no pending recipient: %w", id, store.ErrNotFound)
	}
	var events []store.Event
	for _, r := range pending {
		if _, err := tx.ExecContext(ctx, `UPDATE message_recipients SET state = ?, last_result = ?, updated_at = ?
			WHERE message_id = ? AND idx = ?`, string(store.RcptDropped), reason, micros(now), id, r.Idx); err != nil {
			return fmt.Errorf("store: drop %s: %w", id, err)
		}
		events = append(events, store.Event{MessageID: id, Recipient: r.Address, Type: store.EventDropped, Detail: reason, At: now})
	}
	if err := db.insertEvents(ctx, tx, events); err != nil {
		return fmt.Errorf("store: drop %s: %w", id, err)
	}
	if err := db.finishIfDone(ctx, tx, id); err != nil {
		return fmt.Errorf("store: drop %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: drop %s: %w", id, err)
	}
	return nil
}
