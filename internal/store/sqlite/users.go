package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

const userColumns = `u.id, u.name, u.parent_id, p.name, u.created_at, u.suspended_at, u.suspend_reason, u.hide_originating_ip, u.spam_threshold
	FROM users u LEFT JOIN users p ON p.id = u.parent_id`

// rowScanner is what *sql.Row and *sql.Rows share.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanUser(row rowScanner) (store.User, error) {
	var (
		u          store.User
		parentID   sql.NullInt64
		parentName sql.NullString
		created    int64
		suspended  sql.NullInt64
		hide       int
	)
	if err := row.Scan(&u.ID, &u.Name, &parentID, &parentName, &created, &suspended, &u.SuspendReason, &hide, &u.SpamThreshold); err != nil {
		return store.User{}, err
	}
	if suspended.Valid {
		u.SuspendedAt = fromMicros(suspended.Int64)
	}
	u.HideOriginatingIP = hide != 0
	u.ParentID, u.ParentName = parentID.Int64, parentName.String
	u.CreatedAt = fromMicros(created)
	return u, nil
}

// CreateUser creates an account (parent == "") or a subuser of the account
// named parent: store.ErrNotFound if there is none, an error if parent is
// itself a subuser, store.ErrExists if name is taken.
func (db *DB) CreateUser(ctx context.Context, name, parent string) (store.User, error) {
	if name == "" {
		return store.User{}, errors.New("sqlite: create user: empty name")
	}
	u := store.User{
		Name:       name,
		ParentName: parent,
		CreatedAt:  fromMicros(micros(time.Now())),
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: create user %q: %w", name, err)
	}
	defer tx.Rollback()

	var parentID sql.NullInt64
	if parent != "" {
		var grandparent sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT id, parent_id FROM users WHERE name = ?`, parent).
			Scan(&parentID, &grandparent)
		if errors.Is(err, sql.ErrNoRows) {
			return store.User{}, fmt.Errorf("sqlite: create user %q: parent %q: %w", name, parent, store.ErrNotFound)
		}
		if err != nil {
			return store.User{}, fmt.Errorf("sqlite: create user %q: parent %q: %w", name, parent, err)
		}
		if grandparent.Valid {
			return store.User{}, fmt.Errorf("sqlite: create user %q: parent %q is a subuser, and subusers cannot have subusers", name, parent)
		}
		u.ParentID = parentID.Int64
	}
	err = tx.QueryRowContext(ctx,
		`INSERT INTO users (name, parent_id, created_at) VALUES (?, ?, ?) RETURNING id`,
		name, parentID, micros(u.CreatedAt)).Scan(&u.ID)
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: create user %q: %w", name, mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return store.User{}, fmt.Errorf("sqlite: create user %q: commit: %w", name, err)
	}
	return u, nil
}

// UserByName returns the user called name, or store.ErrNotFound.
func (db *DB) UserByName(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` WHERE u.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, fmt.Errorf("sqlite: user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user %q: %w", name, err)
	}
	return u, nil
}

// Users lists every user, ordered by name.
func (db *DB) Users(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, db.r, "users", scanUser, `SELECT `+userColumns+` ORDER BY u.name`)
}

// joinScopes is the stored form of a key's scopes: comma-joined, so a scope
// may be neither empty nor contain a comma.
func joinScopes(scopes []string) (string, error) {
	for _, s := range scopes {
		if s == "" || strings.Contains(s, ",") {
			return "", fmt.Errorf("invalid scope %q: empty or containing a comma", s)
		}
	}
	return strings.Join(scopes, ","), nil
}

func splitScopes(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// CreateAPIKey stores k. k.UserName is ignored: the key belongs to
// k.UserID, store.ErrNotFound if there is no such user. A taken id is
// store.ErrExists.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	if k.ID == "" {
		return errors.New("sqlite: create api key: empty id")
	}
	scopes, err := joinScopes(k.Scopes)
	if err != nil {
		return fmt.Errorf("sqlite: create api key %s: %w", k.ID, err)
	}
	hash := k.Hash
	if hash == nil {
		hash = []byte{}
	}
	var revoked sql.NullInt64
	if !k.RevokedAt.IsZero() {
		revoked = sql.NullInt64{Int64: micros(k.RevokedAt), Valid: true}
	}
	_, err = db.w.ExecContext(ctx,
		`INSERT INTO api_keys (id, user_id, name, scopes, hash, created_at, revoked_at, allow_ips)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.UserID, k.Name, scopes, hash, micros(k.CreatedAt), revoked, strings.Join(k.AllowIPs, ","))
	if err != nil {
		return fmt.Errorf("sqlite: create api key %s for user %d: %w", k.ID, k.UserID, mapErr(err))
	}
	return nil
}

const keyColumns = `k.id, k.user_id, u.name, k.name, k.scopes, k.hash, k.created_at, k.revoked_at, k.allow_ips
	FROM api_keys k JOIN users u ON u.id = k.user_id`

func scanKey(row rowScanner) (store.APIKey, error) {
	var (
		k       store.APIKey
		scopes  string
		created int64
		revoked sql.NullInt64
		allow   string
	)
	if err := row.Scan(&k.ID, &k.UserID, &k.UserName, &k.Name, &scopes, &k.Hash, &created, &revoked, &allow); err != nil {
		return store.APIKey{}, err
	}
	k.Scopes = splitScopes(scopes)
	k.AllowIPs = splitScopes(allow)
	k.CreatedAt = fromMicros(created)
	if revoked.Valid {
		k.RevokedAt = fromMicros(revoked.Int64)
	}
	return k, nil
}

// APIKey returns the key with public id id, revoked or not, or
// store.ErrNotFound.
func (db *DB) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanKey(db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` WHERE k.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIKey{}, fmt.Errorf("sqlite: api key %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("sqlite: api key %s: %w", id, err)
	}
	return k, nil
}

// APIKeys lists keys ordered by creation time then id: all of them when
// userName is "", else those of that user (store.ErrNotFound if there is no
// such user).
func (db *DB) APIKeys(ctx context.Context, userName string) ([]store.APIKey, error) {
	if userName == "" {
		return queryAll(ctx, db.r, "api keys", scanKey, `SELECT `+keyColumns+` ORDER BY k.created_at, k.id`)
	}
	// Users are never deleted, so the user found here still exists when
	// the keys are read.
	var uid int64
	err := db.r.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ?`, userName).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: api keys of %q: %w", userName, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: api keys of %q: %w", userName, err)
	}
	return queryAll(ctx, db.r, "api keys", scanKey, `SELECT `+keyColumns+` WHERE k.user_id = ? ORDER BY k.created_at, k.id`, uid)
}

// RevokeAPIKey marks the key revoked at at. A key already revoked keeps its
// first revocation time; an unknown id is store.ErrNotFound.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("sqlite: revoke api key %s: zero time", id)
	}
	// An UPDATE counts the rows it matched, changed or not, in SQLite as in
	// PostgreSQL: 0 means no such key.
	res, err := db.w.ExecContext(ctx,
		`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, micros(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: revoke api key %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: revoke api key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: revoke api key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
