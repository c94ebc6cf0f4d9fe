package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/postern/postern/internal/store"
)

// kindOf is the kind an entry is stored with: SuppressBounce when unset.
func kindOf(s store.Suppression) store.SuppressionKind {
	if s.Kind == "" {
		return store.SuppressBounce
	}
	return s.Kind
}

const (
	insertSuppressionQuery    = `INSERT INTO suppressions (user_id, address, kind, reason, created_at) VALUES (?, ?, ?, ?, ?)`
	ignoreExistingSuppression = ` ON CONFLICT (user_id, address, kind) DO NOTHING`
)

// insertSuppression adds s (address lower-cased) and reports whether it
// was new. With ignoreExisting, an entry already there is left as it is;
// without, it is store.ErrExists.
func (db *DB) insertSuppression(ctx context.Context, tx *Tx, s store.Suppression, ignoreExisting bool) (bool, error) {
	args := []any{s.UserID, strings.ToLower(s.Address), string(kindOf(s)), s.Reason, micros(s.CreatedAt)}
	var res sql.Result
	var err error
	if ignoreExisting {
		res, err = tx.StmtContext(ctx, db.st.insertSuppression).ExecContext(ctx, args...)
	} else {
		res, err = tx.ExecContext(ctx, insertSuppressionQuery, args...)
	}
	if err != nil {
		return false, fmt.Errorf("suppress: %w", db.mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("suppress: %w", err)
	}
	return n > 0, nil
}

// AddSuppression adds one entry; store.ErrExists when it is there
// already.
func (db *DB) AddSuppression(ctx context.Context, s store.Suppression) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: suppress: %w", err)
	}
	defer tx.Rollback()
	if _, err := db.insertSuppression(ctx, tx, s, false); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: suppress: commit: %w", err)
	}
	return nil
}

// AddSuppressions adds entries in one transaction and returns the new
// ones, as stored.
func (db *DB) AddSuppressions(ctx context.Context, list []store.Suppression) ([]store.Suppression, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: suppress: %w", err)
	}
	defer tx.Rollback()
	var added []store.Suppression
	for _, s := range list {
		ok, err := db.insertSuppression(ctx, tx, s, true)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		if ok {
			s.Address, s.Kind, s.CreatedAt = strings.ToLower(s.Address), kindOf(s), fromMicros(micros(s.CreatedAt))
			added = append(added, s)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: suppress: commit: %w", err)
	}
	return added, nil
}

// RemoveSuppression removes an address from every list of the user;
// store.ErrNotFound when it is on none.
func (db *DB) RemoveSuppression(ctx context.Context, userID int64, address string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM suppressions WHERE user_id = ? AND address = ?`, userID, strings.ToLower(address))
	if err != nil {
		return fmt.Errorf("store: unsuppress: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: unsuppress %s: %w", address, store.ErrNotFound)
	}
	return nil
}

// DeleteSuppressions removes the user's entries of kind ("": all) for
// addresses (nil: all) in one transaction and counts them.
func (db *DB) DeleteSuppressions(ctx context.Context, userID int64, kind store.SuppressionKind, addresses []string) (int, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: unsuppress: %w", err)
	}
	defer tx.Rollback()
	del := func(extra string, args ...any) (int64, error) {
		q := `DELETE FROM suppressions WHERE user_id = ?` + extra
		args = append([]any{userID}, args...)
		if kind != "" {
			q += ` AND kind = ?`
			args = append(args, string(kind))
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("store: unsuppress: %w", err)
		}
		return res.RowsAffected()
	}
	var n int64
	if addresses == nil {
		if n, err = del(""); err != nil {
			return 0, err
		}
	}
	for _, a := range addresses {
		m, err := del(` AND address = ?`, strings.ToLower(a))
		if err != nil {
			return 0, err
		}
		n += m
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: unsuppress: commit: %w", err)
	}
	return int(n), nil
}

// Suppressions lists every entry of the user, by address then kind.
func (db *DB) Suppressions(ctx context.Context, userID int64) ([]store.Suppression, error) {
	return db.FindSuppressions(ctx, store.SuppressionFilter{UserID: userID})
}

// FindSuppressions lists the entries f selects, by address then kind.
func (db *DB) FindSuppressions(ctx context.Context, f store.SuppressionFilter) ([]store.Suppression, error) {
	q := `SELECT user_id, address, kind, reason, created_at FROM suppressions WHERE user_id = ?`
	args := []any{f.UserID}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if f.Address != "" {
		q += ` AND address = ?`
		args = append(args, strings.ToLower(f.Address))
	}
	if f.AddressPrefix != "" {
		q += ` AND address LIKE ? ESCAPE '\'`
		args = append(args, likePrefix(f.AddressPrefix))
	}
	if !f.Since.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND created_at <= ?`
		args = append(args, micros(f.Until))
	}
	q += ` ORDER BY address, kind`
	if f.Limit > 0 || f.Offset > 0 {
		limit := db.d.NoLimit
		if f.Limit > 0 {
			limit = int64(f.Limit)
		}
		q += ` LIMIT ? OFFSET ?`
		args = append(args, limit, max(f.Offset, 0))
	}
	return queryAll(ctx, db.r, "suppressions", scanSuppression, q, args...)
}

// likePrefix is a LIKE pattern for addresses starting with p, in which
// "%" keeps its meaning and nothing else is special.
func likePrefix(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `_`, `\_`)
	return r.Replace(strings.ToLower(p)) + "%"
}

func scanSuppression(r rowScanner) (store.Suppression, error) {
	var (
		s    store.Suppression
		kind string
		at   int64
	)
	err := r.Scan(&s.UserID, &s.Address, &kind, &s.Reason, &at)
	s.Kind, s.CreatedAt = store.SuppressionKind(kind), fromMicros(at)
	return s, err
}

const suppressedQuery = `SELECT user_id, address, kind, reason, created_at FROM suppressions
	WHERE user_id = ? AND address = ? ORDER BY created_at, kind LIMIT 1`

// Suppressed returns the entries among addresses (compared lower-cased),
// keyed by the address as given; an address on several lists has its
// oldest entry.
func (db *DB) Suppressed(ctx context.Context, userID int64, addresses []string) (map[string]store.Suppression, error) {
	out := map[string]store.Suppression{}
	for _, a := range addresses {
		s, err := scanSuppression(db.st.suppressed.QueryRowContext(ctx, userID, strings.ToLower(a)))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: suppressed: %w", err)
		}
		out[a] = s
	}
	return out, nil
}
