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

// userColumns selects users; every query adds "AND …" or "ORDER BY": a
// deleted user is never selected.
const userColumns = `u.id, u.name, u.parent_id, p.name, u.created_at, u.suspended_at, u.suspend_reason, u.hide_originating_ip, u.spam_threshold, u.email, u.list_unsubscribe
	FROM users u LEFT JOIN users p ON p.id = u.parent_id WHERE u.deleted_at IS NULL`

func scanUser(row rowScanner) (store.User, error) {
	var (
		u          store.User
		parentID   sql.NullInt64
		parentName sql.NullString
		created    int64
		suspended  sql.NullInt64
		hide       int
		unsub      int
	)
	if err := row.Scan(&u.ID, &u.Name, &parentID, &parentName, &created, &suspended, &u.SuspendReason, &hide, &u.SpamThreshold, &u.Email, &unsub); err != nil {
		return store.User{}, err
	}
	if suspended.Valid {
		u.SuspendedAt = fromMicros(suspended.Int64)
	}
	u.HideOriginatingIP = hide != 0
	u.ListUnsubscribe = unsub != 0
	u.ParentID, u.ParentName = parentID.Int64, parentName.String
	u.CreatedAt = fromMicros(created)
	return u, nil
}

// CreateUser creates an account (parent == "") or a subuser of the account
// named parent: store.ErrNotFound if there is none, an error if parent is
// itself a subuser, store.ErrExists if name is taken.
func (db *DB) CreateUser(ctx context.Context, name, parent string) (store.User, error) {
	return db.AddUser(ctx, store.NewUser{Name: name, Parent: parent})
}

// AddUser creates the user n describes, as CreateUser does, with its
// profile.
func (db *DB) AddUser(ctx context.Context, n store.NewUser) (store.User, error) {
	name, parent := n.Name, n.Parent
	if name == "" {
		return store.User{}, errors.New("store: create user: empty name")
	}
	created := n.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	u := store.User{
		Name:       name,
		ParentName: parent,
		CreatedAt:  fromMicros(micros(created)),
		Email:      n.Email,
	}
	hash := n.PasswordHash
	if hash == nil {
		hash = []byte{}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return store.User{}, fmt.Errorf("store: create user %q: %w", name, err)
	}
	defer tx.Rollback()

	var parentID sql.NullInt64
	if parent != "" {
		var grandparent sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT id, parent_id FROM users WHERE name = ? AND deleted_at IS NULL`, parent).
			Scan(&parentID, &grandparent)
		if errors.Is(err, sql.ErrNoRows) {
			return store.User{}, fmt.Errorf("store: create user %q: parent %q: %w", name, parent, store.ErrNotFound)
		}
		if err != nil {
			return store.User{}, fmt.Errorf("store: create user %q: parent %q: %w", name, parent, err)
		}
		if grandparent.Valid {
			return store.User{}, fmt.Errorf("store: create user %q: parent %q is a subuser, and subusers cannot have subusers", name, parent)
		}
		u.ParentID = parentID.Int64
	}
	err = tx.QueryRowContext(ctx,
		`INSERT INTO users (name, parent_id, created_at, email, password_hash) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		name, parentID, micros(u.CreatedAt), n.Email, hash).Scan(&u.ID)
	if err != nil {
		return store.User{}, fmt.Errorf("store: create user %q: %w", name, db.mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return store.User{}, fmt.Errorf("store: create user %q: commit: %w", name, err)
	}
	return u, nil
}

const userByNameQuery = `SELECT ` + userColumns + ` AND u.name = ?`

// UserByName returns the user called name, or store.ErrNotFound.
func (db *DB) UserByName(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(db.st.userByName.QueryRowContext(ctx, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, fmt.Errorf("store: user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("store: user %q: %w", name, err)
	}
	return u, nil
}

// Users lists every user but the deleted, ordered by name.
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
		return errors.New("store: create api key: empty id")
	}
	scopes, err := joinScopes(k.Scopes)
	if err != nil {
		return fmt.Errorf("store: create api key %s: %w", k.ID, err)
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
		return fmt.Errorf("store: create api key %s for user %d: %w", k.ID, k.UserID, db.mapErr(err))
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

const apiKeyQuery = `SELECT ` + keyColumns + ` WHERE k.id = ?`

// APIKey returns the key with public id id, revoked or not, or
// store.ErrNotFound.
func (db *DB) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanKey(db.st.apiKey.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.APIKey{}, fmt.Errorf("store: api key %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("store: api key %s: %w", id, err)
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
	// A user deleted between the two reads has only revoked keys.
	var uid int64
	err := db.r.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ? AND deleted_at IS NULL`, userName).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: api keys of %q: %w", userName, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: api keys of %q: %w", userName, err)
	}
	return queryAll(ctx, db.r, "api keys", scanKey, `SELECT `+keyColumns+` WHERE k.user_id = ? ORDER BY k.created_at, k.id`, uid)
}

// RevokeAPIKey marks the key revoked at at. A key already revoked keeps its
// first revocation time; an unknown id is store.ErrNotFound.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("store: revoke api key %s: zero time", id)
	}
	// An UPDATE counts the rows it matched, changed or not, in SQLite as in
	// PostgreSQL: 0 means no such key.
	res, err := db.w.ExecContext(ctx,
		`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, micros(at), id)
	if err != nil {
		return fmt.Errorf("store: revoke api key %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: revoke api key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: revoke api key %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// Subusers lists the account's subusers, ordered by name.
func (db *DB) Subusers(ctx context.Context, accountID int64) ([]store.User, error) {
	users, err := queryAll(ctx, db.r, "subusers", scanUser, `SELECT `+userColumns+` AND u.parent_id = ? ORDER BY u.name`, accountID)
	if err != nil {
		return nil, err
	}
	if users == nil {
		users = []store.User{}
	}
	return users, nil
}

// PasswordHash returns the named user's password hash, nil for none.
func (db *DB) PasswordHash(ctx context.Context, name string) ([]byte, error) {
	var h []byte
	err := db.r.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE name = ? AND deleted_at IS NULL`, name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: password of %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: password of %q: %w", name, err)
	}
	if len(h) == 0 {
		return nil, nil
	}
	return h, nil
}

// DeleteUser marks the named user deleted and revokes its keys at at, in
// one transaction. An account with subusers that are not deleted is
// refused.
func (db *DB) DeleteUser(ctx context.Context, name string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("store: delete user %q: zero time", name)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete user %q: %w", name, err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM users WHERE name = ? AND deleted_at IS NULL`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: delete user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: delete user %q: %w", name, err)
	}
	var subs int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE parent_id = ? AND deleted_at IS NULL`, id).Scan(&subs); err != nil {
		return fmt.Errorf("store: delete user %q: %w", name, err)
	}
	if subs > 0 {
		return fmt.Errorf("store: delete user %q: the account has %d subusers", name, subs)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE user_id = ?`, micros(at), id); err != nil {
		return fmt.Errorf("store: delete user %q: revoke keys: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET deleted_at = ? WHERE id = ?`, micros(at), id); err != nil {
		return fmt.Errorf("store: delete user %q: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete user %q: commit: %w", name, err)
	}
	return nil
}

// UpdateUserSettings sets the settings s names in one statement.
func (db *DB) UpdateUserSettings(ctx context.Context, name string, s store.UserSettings) error {
	var sets []string
	var args []any
	if s.HideOriginatingIP != nil {
		v := 0
		if *s.HideOriginatingIP {
			v = 1
		}
		sets, args = append(sets, "hide_originating_ip = ?"), append(args, v)
	}
	if s.SpamThreshold != nil {
		sets, args = append(sets, "spam_threshold = ?"), append(args, *s.SpamThreshold)
	}
	if s.ListUnsubscribe != nil {
		v := 0
		if *s.ListUnsubscribe {
			v = 1
		}
		sets, args = append(sets, "list_unsubscribe = ?"), append(args, v)
	}
	if len(sets) == 0 {
		return fmt.Errorf("store: update user %q: no settings given", name)
	}
	return db.updateUser(ctx, name, `UPDATE users SET `+strings.Join(sets, ", ")+` WHERE name = ? AND deleted_at IS NULL`, append(args, name)...)
}
