package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/postern/postern/internal/store"
)

// AddAllowedIP adds prefix to the account's allow-list.
func (db *DB) AddAllowedIP(ctx context.Context, accountID int64, prefix string, at time.Time) error {
	_, err := db.AddIPRules(ctx, accountID, []string{prefix}, at)
	return err
}

// RemoveAllowedIP removes prefix; store.ErrNotFound if it is not listed.
func (db *DB) RemoveAllowedIP(ctx context.Context, accountID int64, prefix string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM ip_allowlist WHERE account_id = ? AND prefix = ?`, accountID, prefix)
	if err != nil {
		return fmt.Errorf("store: disallow %s: %w", prefix, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: disallow %s: %w", prefix, store.ErrNotFound)
	}
	return nil
}

const allowedIPsQuery = `SELECT prefix FROM ip_allowlist WHERE account_id = ? ORDER BY id`

// AllowedIPs lists the account's prefixes in the order they were added.
func (db *DB) AllowedIPs(ctx context.Context, accountID int64) ([]string, error) {
	return queryStmt(ctx, db.st.allowedIPs, "allowed ips", func(r rowScanner) (p string, err error) {
		err = r.Scan(&p)
		return p, err
	}, accountID)
}

// AddIPRules adds prefixes to the account's list, all or none.
func (db *DB) AddIPRules(ctx context.Context, accountID int64, prefixes []string, at time.Time) ([]store.IPRule, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: add ip rules: %w", err)
	}
	defer tx.Rollback()
	out := make([]store.IPRule, 0, len(prefixes))
	for _, p := range prefixes {
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO ip_allowlist (account_id, prefix, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id`,
			accountID, p, micros(at), micros(at)).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("store: allow %s: %w", p, db.mapErr(err))
		}
		out = append(out, store.IPRule{ID: id, AccountID: accountID, Prefix: p,
			CreatedAt: fromMicros(micros(at)), UpdatedAt: fromMicros(micros(at))})
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: add ip rules: commit: %w", err)
	}
	return out, nil
}

// IPRules lists the account's rules in the order they were added.
func (db *DB) IPRules(ctx context.Context, accountID int64) ([]store.IPRule, error) {
	return queryAll(ctx, db.r, "ip rules", func(r rowScanner) (store.IPRule, error) {
		var (
			ru               store.IPRule
			created, updated int64
		)
		err := r.Scan(&ru.ID, &ru.AccountID, &ru.Prefix, &created, &updated)
		ru.CreatedAt, ru.UpdatedAt = fromMicros(created), fromMicros(updated)
		return ru, err
	}, `SELECT id, account_id, prefix, created_at, updated_at FROM ip_allowlist WHERE account_id = ? ORDER BY id`, accountID)
}

// DeleteIPRules removes the account's rules by id, all or none.
func (db *DB) DeleteIPRules(ctx context.Context, accountID int64, ids []int64) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete ip rules: %w", err)
	}
	defer tx.Rollback()
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		res, err := tx.ExecContext(ctx, `DELETE FROM ip_allowlist WHERE account_id = ? AND id = ?`, accountID, id)
		if err != nil {
			return fmt.Errorf("store: delete ip rule %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("store: delete ip rule %d: %w", id, store.ErrNotFound)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete ip rules: commit: %w", err)
	}
	return nil
}
