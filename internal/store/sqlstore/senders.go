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

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AddSender adds a sender or replaces its pending code.
func (db *DB) AddSender(ctx context.Context, s store.Sender) error {
	var verified any
	if s.Verified {
		verified = micros(s.VerifiedAt)
	}
	code := s.CodeHash
	if code == nil {
		code = []byte{}
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO senders (user_id, address, verified, by_operator, code_hash, expires_at, created_at, verified_at, shared,
			nickname, from_name, reply_to, reply_to_name)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, address) DO UPDATE SET verified = excluded.verified, by_operator = excluded.by_operator,
			code_hash = excluded.code_hash, expires_at = excluded.expires_at, verified_at = excluded.verified_at,
			nickname = COALESCE(NULLIF(excluded.nickname, ''), senders.nickname),
			from_name = COALESCE(NULLIF(excluded.from_name, ''), senders.from_name),
			reply_to = COALESCE(NULLIF(excluded.reply_to, ''), senders.reply_to),
			reply_to_name = COALESCE(NULLIF(excluded.reply_to_name, ''), senders.reply_to_name)`,
		s.UserID, strings.ToLower(s.Address), boolInt(s.Verified), boolInt(s.ByOperator), code, micros(s.ExpiresAt), micros(s.CreatedAt), verified,
		boolInt(s.Shared), s.Nickname, s.FromName, s.ReplyTo, s.ReplyToName)
	if err != nil {
		return fmt.Errorf("store: add sender: %w", db.mapErr(err))
	}
	return nil
}

const senderColumns = `s.id, s.address, s.user_id, u.name, s.verified, s.by_operator, s.code_hash, s.expires_at, s.created_at, s.verified_at,
	COALESCE(u.parent_id, u.id), s.shared, s.nickname, s.from_name, s.reply_to, s.reply_to_name
	FROM senders s JOIN users u ON u.id = s.user_id`

func scanSender(row rowScanner) (store.Sender, error) {
	var s store.Sender
	var verified, byOp, shared int
	var expires, created int64
	var vat sql.NullInt64
	if err := row.Scan(&s.ID, &s.Address, &s.UserID, &s.UserName, &verified, &byOp, &s.CodeHash, &expires, &created, &vat,
		&s.AccountID, &shared, &s.Nickname, &s.FromName, &s.ReplyTo, &s.ReplyToName); err != nil {
		return s, err
	}
	s.Verified, s.ByOperator, s.Shared = verified != 0, byOp != 0, shared != 0
	s.ExpiresAt, s.CreatedAt = fromMicros(expires), fromMicros(created)
	if vat.Valid {
		s.VerifiedAt = fromMicros(vat.Int64)
	}
	return s, nil
}

// ConfirmSender verifies the pending sender with this code hash.
func (db *DB) ConfirmSender(ctx context.Context, codeHash []byte, now time.Time) (store.Sender, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Sender{}, fmt.Errorf("store: confirm sender: %w", err)
	}
	defer tx.Rollback()
	s, err := scanSender(tx.QueryRowContext(ctx, `SELECT `+senderColumns+` WHERE s.code_hash = ? AND s.verified = 0 AND s.expires_at > ?`,
		codeHash, micros(now)))
	if errors.Is(err, sql.ErrNoRows) || len(codeHash) == 0 {
		return store.Sender{}, fmt.Errorf("store: confirm sender: unknown or expired code: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Sender{}, fmt.Errorf("store: confirm sender: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE senders SET verified = 1, code_hash = ?, verified_at = ? WHERE user_id = ? AND address = ?`,
		[]byte{}, micros(now), s.UserID, s.Address); err != nil {
		return store.Sender{}, fmt.Errorf("store: confirm sender: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return store.Sender{}, fmt.Errorf("store: confirm sender: %w", err)
	}
	s.Verified, s.VerifiedAt, s.CodeHash = true, fromMicros(micros(now)), nil
	return s, nil
}

// SenderByID returns the sender with that id or store.ErrNotFound.
func (db *DB) SenderByID(ctx context.Context, id int64) (store.Sender, error) {
	s, err := scanSender(db.r.QueryRowContext(ctx, `SELECT `+senderColumns+` WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("store: sender #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("store: sender #%d: %w", id, err)
	}
	return s, nil
}

// DeleteSender removes a user's sender.
func (db *DB) DeleteSender(ctx context.Context, userID int64, address string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM senders WHERE user_id = ? AND address = ?`, userID, strings.ToLower(address))
	if err != nil {
		return fmt.Errorf("store: delete sender %s: %w", address, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: delete sender %s: %w", address, store.ErrNotFound)
	}
	return nil
}

// Senders lists senders by address, of one user when userName is set.
func (db *DB) Senders(ctx context.Context, userName string) ([]store.Sender, error) {
	q, args := `SELECT `+senderColumns, []any{}
	if userName != "" {
		q += ` WHERE u.name = ?`
		args = append(args, userName)
	}
	return queryAll(ctx, db.r, "senders", scanSender, q+` ORDER BY s.address, u.name`, args...)
}

const sendersByAddressQuery = `SELECT ` + senderColumns + ` WHERE s.address = ? ORDER BY u.name`

// SendersByAddress returns every user's sender of address.
func (db *DB) SendersByAddress(ctx context.Context, address string) ([]store.Sender, error) {
	return queryStmt(ctx, db.st.sendersByAddress, "senders by address", scanSender, strings.ToLower(address))
}

// SetSenderShared shares the user's sender within its account, or not.
func (db *DB) SetSenderShared(ctx context.Context, userID int64, address string, shared bool) error {
	res, err := db.w.ExecContext(ctx, `UPDATE senders SET shared = ? WHERE user_id = ? AND address = ?`,
		boolInt(shared), userID, strings.ToLower(address))
	if err != nil {
		return fmt.Errorf("store: sender %s: %w", address, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: sender %s: %w", address, store.ErrNotFound)
	}
	return nil
}
