package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/postern/postern/internal/store"
)

// EnqueueBatch stores msgs in one transaction: all of them or, on any error,
// none. It returns nil only once the commit is synced (synchronous=FULL). A
// message id already taken, in the store or earlier in the batch, is
// store.ErrExists; an unknown UserID is store.ErrNotFound.
func (db *DB) EnqueueBatch(ctx context.Context, msgs []store.NewMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		if m.ID == "" {
			return errors.New("store: enqueue: message with empty id")
		}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: enqueue: %w", err)
	}
	defer tx.Rollback()
	if err := db.insertMessages(ctx, tx, msgs); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: enqueue: commit: %w", err)
	}
	return nil
}

// messageQuery reads messages with their recipients, one row per recipient
// (one row with a NULL address for a message without any), in one
// statement and so from one snapshot.
const messageQuery = `SELECT m.id, m.user_id, u.name, m.key_id, m.mail_from, m.size, m.state, m.created_at, m.meta,
	m.attempts, m.next_attempt_at, r.address
	FROM messages m
	JOIN users u ON u.id = m.user_id
	LEFT JOIN message_recipients r ON r.message_id = m.id`

// scanMessages gathers the rows of messageQuery, ordered by message then
// recipient index, into messages.
func scanMessages(rows *sql.Rows) ([]store.Message, error) {
	defer rows.Close()
	var msgs []store.Message
	for rows.Next() {
		var (
			m       store.Message
			state   string
			created int64
			next    int64
			addr    sql.NullString
		)
		if err := rows.Scan(&m.ID, &m.UserID, &m.UserName, &m.KeyID, &m.From,
			&m.Size, &state, &created, &m.Meta, &m.Attempts, &next, &addr); err != nil {
			return nil, err
		}
		if n := len(msgs); n == 0 || msgs[n-1].ID != m.ID {
			m.State = store.MessageState(state)
			m.CreatedAt = fromMicros(created)
			if m.State == store.StateQueued {
				m.NextAttempt = fromMicros(next)
			}
			msgs = append(msgs, m)
		}
		if addr.Valid {
			last := &msgs[len(msgs)-1]
			last.Recipients = append(last.Recipients, addr.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return msgs, nil
}

// Messages lists every message without its body, ordered by creation time
// then id.
func (db *DB) Messages(ctx context.Context) ([]store.Message, error) {
	rows, err := db.r.QueryContext(ctx, messageQuery+` ORDER BY m.created_at, m.id, r.idx`)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, fmt.Errorf("store: messages: %w", err)
	}
	return msgs, nil
}

// Message returns the message id without its body, or store.ErrNotFound.
func (db *DB) Message(ctx context.Context, id string) (store.Message, error) {
	rows, err := db.r.QueryContext(ctx, messageQuery+` WHERE m.id = ? ORDER BY r.idx`, id)
	if err != nil {
		return store.Message{}, fmt.Errorf("store: message %s: %w", id, err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return store.Message{}, fmt.Errorf("store: message %s: %w", id, err)
	}
	if len(msgs) == 0 {
		return store.Message{}, fmt.Errorf("store: message %s: %w", id, store.ErrNotFound)
	}
	return msgs[0], nil
}

const messageBodyQuery = `SELECT body FROM messages WHERE id = ?`

// MessageBody returns the stored message id, byte for byte, or
// store.ErrNotFound.
func (db *DB) MessageBody(ctx context.Context, id string) ([]byte, error) {
	var body []byte
	err := db.st.messageBody.QueryRowContext(ctx, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: message body %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: message body %s: %w", id, err)
	}
	if body == nil {
		body = []byte{}
	}
	return body, nil
}

const (
	insertMessageQuery = `INSERT INTO messages (id, user_id, key_id, mail_from, size, state, created_at, body, next_attempt_at, meta, rcpt_count)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertRecipientQuery = `INSERT INTO message_recipients (message_id, idx, address) VALUES (?, ?, ?)`
)

// insertMessages adds msgs, their recipients and their "processed" events
// inside tx. A new message is due at once.
func (db *DB) insertMessages(ctx context.Context, tx *Tx, msgs []store.NewMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	insMsg := tx.StmtContext(ctx, db.st.insertMessage)
	insRcpt := tx.StmtContext(ctx, db.st.insertRecipient)
	insEvent := tx.StmtContext(ctx, db.st.insertEvent)
	var eventIDs []int64
	for _, m := range msgs {
		body := m.Body
		if body == nil {
			body = []byte{} // the driver binds a nil slice as NULL
		}
		if _, err := insMsg.ExecContext(ctx, m.ID, m.UserID, m.KeyID, m.From,
			int64(len(body)), string(store.StateQueued), micros(m.CreatedAt), body, micros(due(m)), m.Meta, len(m.Recipients)); err != nil {
			return fmt.Errorf("store: enqueue %s: %w", m.ID, db.mapErr(err))
		}
		for i, addr := range m.Recipients {
			if _, err := insRcpt.ExecContext(ctx, m.ID, i, addr); err != nil {
				return fmt.Errorf("store: enqueue %s: recipient %d: %w", m.ID, i, db.mapErr(err))
			}
			var id int64
			if err := insEvent.QueryRowContext(ctx, m.ID, addr, string(store.EventProcessed), "", micros(m.CreatedAt)).Scan(&id); err != nil {
				return fmt.Errorf("store: enqueue %s: event: %w", m.ID, db.mapErr(err))
			}
			eventIDs = append(eventIDs, id)
		}
	}
	return db.outboxEnqueue(ctx, tx, eventIDs)
}

// due is when a new message is first due: at once, or when its hold ends.
func due(m store.NewMessage) time.Time {
	if m.NotBefore.After(m.CreatedAt) {
		return m.NotBefore
	}
	return m.CreatedAt
}
