package sqlstore

import (
	"context"
	"fmt"

	"github.com/postern/postern/internal/store"
)

// RenameAPIKey sets the key's label.
func (db *DB) RenameAPIKey(ctx context.Context, id, name string) error {
	return db.updateKey(ctx, id, `UPDATE api_keys SET name = ? WHERE id = ?`, name, id)
}

// SetAPIKey sets the key's label and scopes in one statement.
func (db *DB) SetAPIKey(ctx context.Context, id, name string, scopes []string) error {
	joined, err := joinScopes(scopes)
	if err != nil {
		return fmt.Errorf("store: update api key %s: %w", id, err)
	}
	return db.updateKey(ctx, id, `UPDATE api_keys SET name = ?, scopes = ? WHERE id = ?`, name, joined, id)
}

// updateKey runs an UPDATE of one key: store.ErrNotFound when it matched
// no row.
func (db *DB) updateKey(ctx context.Context, id, query string, args ...any) error {
	res, err := db.w.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: update api key %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: update api key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: update api key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
