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

// AddDomain stores a new sending domain.
func (db *DB) AddDomain(ctx context.Context, d store.Domain) error {
	_, err := db.CreateDomain(ctx, d, nil)
	return err
}

// CreateDomain stores a new sending domain and its first events in one
// transaction.
func (db *DB) CreateDomain(ctx context.Context, d store.Domain, events []store.DomainEvent) (int64, error) {
	// A domain the operator vouches for may have no keys; the driver binds
	// a nil slice as NULL.
	if d.RSAKey == nil {
		d.RSAKey = []byte{}
	}
	if d.EdKey == nil {
		d.EdKey = []byte{}
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: add domain %s: %w", d.Name, err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO domains (name, user_id, state, rsa_selector, rsa_key, ed_selector, ed_key, created_at, shared,
		brought_key, companion_published)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, strings.ToLower(d.Name), d.UserID, string(d.State),
		d.RSASelector, d.RSAKey, d.EdSelector, d.EdKey, micros(d.CreatedAt), boolInt(d.Shared), d.BroughtKey, boolInt(d.CompanionPublished)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: add domain %s: %w", d.Name, db.mapErr(err))
	}
	if err := addDomainEvents(ctx, tx, events); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: add domain %s: %w", d.Name, err)
	}
	return id, nil
}

const domainColumns = `d.id, d.name, d.user_id, u.name, d.state, d.rsa_selector, d.rsa_key, d.ed_selector, d.ed_key, d.created_at, d.verified_at,
	d.next_rsa_selector, d.next_rsa_key, d.next_ed_selector, d.next_ed_key, d.prev_selectors, d.rotated_at,
	COALESCE(u.parent_id, u.id), d.shared, d.return_path, d.brought_key, d.companion_published
	FROM domains d JOIN users u ON u.id = d.user_id`

func scanDomain(row rowScanner) (store.Domain, error) {
	var d store.Domain
	var state string
	var created int64
	var verified, rotated sql.NullInt64
	var shared, returnPath, companion int
	if err := row.Scan(&d.ID, &d.Name, &d.UserID, &d.UserName, &state, &d.RSASelector, &d.RSAKey, &d.EdSelector, &d.EdKey, &created, &verified,
		&d.NextRSASelector, &d.NextRSAKey, &d.NextEdSelector, &d.NextEdKey, &d.PrevSelectors, &rotated, &d.AccountID, &shared, &returnPath,
		&d.BroughtKey, &companion); err != nil {
		return d, err
	}
	d.Shared, d.ReturnPath, d.CompanionPublished = shared != 0, returnPath != 0, companion != 0
	if rotated.Valid {
		d.RotatedAt = fromMicros(rotated.Int64)
	}
	d.State, d.CreatedAt = store.DomainState(state), fromMicros(created)
	if verified.Valid {
		d.VerifiedAt = fromMicros(verified.Int64)
	}
	return d, nil
}

const domainQuery = `SELECT ` + domainColumns + ` WHERE d.name = ?`

// Domain returns the named domain or store.ErrNotFound.
func (db *DB) Domain(ctx context.Context, name string) (store.Domain, error) {
	d, err := scanDomain(db.st.domain.QueryRowContext(ctx, strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("store: domain %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("store: domain %s: %w", name, err)
	}
	return d, nil
}

// DomainByID returns the domain with that id or store.ErrNotFound.
func (db *DB) DomainByID(ctx context.Context, id int64) (store.Domain, error) {
	d, err := scanDomain(db.r.QueryRowContext(ctx, `SELECT `+domainColumns+` WHERE d.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("store: domain #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("store: domain #%d: %w", id, err)
	}
	return d, nil
}

// Domains lists domains by name, of one user when userName is set.
func (db *DB) Domains(ctx context.Context, userName string) ([]store.Domain, error) {
	q, args := `SELECT `+domainColumns, []any{}
	if userName != "" {
		q += ` WHERE u.name = ?`
		args = append(args, userName)
	}
	return queryAll(ctx, db.r, "domains", scanDomain, q+` ORDER BY d.name`, args...)
}

// SetDomainState records a verification outcome.
func (db *DB) SetDomainState(ctx context.Context, name string, state store.DomainState, at time.Time) error {
	var verified any
	if state != store.DomainPending {
		verified = micros(at)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE domains SET state = ?, verified_at = ? WHERE name = ?`, string(state), verified, strings.ToLower(name))
	if err != nil {
		return fmt.Errorf("store: domain %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: domain %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// SetNextKeys stores a rotation's new keys.
func (db *DB) SetNextKeys(ctx context.Context, name, rsaSel string, rsaKey []byte, edSel string, edKey []byte) error {
	res, err := db.w.ExecContext(ctx, `UPDATE domains SET next_rsa_selector = ?, next_rsa_key = ?, next_ed_selector = ?, next_ed_key = ?
		WHERE name = ?`, rsaSel, rsaKey, edSel, edKey, strings.ToLower(name))
	if err != nil {
		return fmt.Errorf("store: domain %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: domain %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// PromoteNextKeys switches signing to the next keys, remembering the old
// selectors.
func (db *DB) PromoteNextKeys(ctx context.Context, name string, at time.Time) error {
	res, err := db.w.ExecContext(ctx, promoteSQL, []byte{}, []byte{}, micros(at), strings.ToLower(name))
	if err != nil {
		return fmt.Errorf("store: domain %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: domain %s: no rotation in progress: %w", name, store.ErrNotFound)
	}
	return nil
}

// promoteSQL makes a domain's next keys current; its arguments are two
// empty byte slices (the emptied next keys), the time and the domain's
// name.
const promoteSQL = `UPDATE domains SET
	prev_selectors = rsa_selector || ',' || ed_selector,
	rsa_selector = next_rsa_selector, rsa_key = next_rsa_key,
	ed_selector = next_ed_selector, ed_key = next_ed_key,
	next_rsa_selector = '', next_rsa_key = ?, next_ed_selector = '', next_ed_key = ?,
	rotated_at = ?, brought_key = '', companion_published = 0
	WHERE name = ? AND next_rsa_selector <> ''`

// SetDomainShared shares the domain within its owner's account, or not.
func (db *DB) SetDomainShared(ctx context.Context, name string, shared bool) error {
	return db.setDomainFlag(ctx, "shared", name, shared)
}

// SetDomainReturnPath records whether the return-path MX is published.
func (db *DB) SetDomainReturnPath(ctx context.Context, name string, published bool) error {
	return db.setDomainFlag(ctx, "return_path", name, published)
}

// setDomainFlag sets one of the domains table's 0/1 columns (a constant
// of this file, never user input).
func (db *DB) setDomainFlag(ctx context.Context, column, name string, on bool) error {
	res, err := db.w.ExecContext(ctx, `UPDATE domains SET `+column+` = ? WHERE name = ?`, boolInt(on), strings.ToLower(name))
	if err != nil {
		return fmt.Errorf("store: domain %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: domain %s: %w", name, store.ErrNotFound)
	}
	return nil
}

// ChangeDomain makes one logical change of a domain in one transaction.
func (db *DB) ChangeDomain(ctx context.Context, name string, ch store.DomainChange) error {
	name = strings.ToLower(name)
	fail := func(err error) error { return fmt.Errorf("store: change domain %s: %w", name, err) }
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM domains WHERE name = ?`, name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fail(store.ErrNotFound)
	}
	if err != nil {
		return fail(err)
	}
	update := func(set string, args ...any) error {
		if _, err := tx.ExecContext(ctx, `UPDATE domains SET `+set+` WHERE name = ?`, append(args, name)...); err != nil {
			return fail(err)
		}
		return nil
	}
	if ch.State != "" {
		var verified any
		if ch.State != store.DomainPending {
			verified = micros(ch.At)
		}
		if err := update(`state = ?, verified_at = ?`, string(ch.State), verified); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		column string // a constant, never input
		value  *bool
	}{{"return_path", ch.ReturnPath}, {"shared", ch.Shared}, {"companion_published", ch.CompanionPublished}} {
		if f.value != nil {
			if err := update(f.column+` = ?`, boolInt(*f.value)); err != nil {
				return err
			}
		}
	}
	if k := ch.Next; k != nil {
		if err := update(`next_rsa_selector = ?, next_rsa_key = ?, next_ed_selector = ?, next_ed_key = ?`,
			k.RSASelector, nonNil(k.RSAKey), k.EdSelector, nonNil(k.EdKey)); err != nil {
			return err
		}
	}
	if ch.Promote {
		res, err := tx.ExecContext(ctx, promoteSQL, []byte{}, []byte{}, micros(ch.At), name)
		if err != nil {
			return fail(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fail(fmt.Errorf("no rotation in progress: %w", store.ErrNotFound))
		}
	}
	if err := addDomainEvents(ctx, tx, ch.Events); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

// nonNil binds a nil key as an empty blob, not NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// DeleteDomain removes a domain and its history in one transaction.
func (db *DB) DeleteDomain(ctx context.Context, name string) error {
	name = strings.ToLower(name)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete domain %s: %w", name, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("store: delete domain %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: delete domain %s: %w", name, store.ErrNotFound)
	}
	// The history goes too: a later owner of the name must not read it.
	if _, err := tx.ExecContext(ctx, `DELETE FROM domain_events WHERE domain = ?`, name); err != nil {
		return fmt.Errorf("store: delete domain %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete domain %s: %w", name, err)
	}
	return nil
}

// AddDomainEvent appends to a domain's history.
func (db *DB) AddDomainEvent(ctx context.Context, e store.DomainEvent) error {
	return addDomainEvents(ctx, db.w, []store.DomainEvent{e})
}

// domainExecer is a connection or a transaction.
type domainExecer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func addDomainEvents(ctx context.Context, x domainExecer, events []store.DomainEvent) error {
	for _, e := range events {
		if _, err := x.ExecContext(ctx, `INSERT INTO domain_events (domain, type, detail, at) VALUES (?, ?, ?, ?)`,
			strings.ToLower(e.Domain), string(e.Type), e.Detail, micros(e.At)); err != nil {
			return fmt.Errorf("store: domain %s: event: %w", e.Domain, err)
		}
	}
	return nil
}

// DomainEvents returns a domain's history, oldest first.
func (db *DB) DomainEvents(ctx context.Context, name string) ([]store.DomainEvent, error) {
	return queryAll(ctx, db.r, "domain events", func(row rowScanner) (store.DomainEvent, error) {
		var e store.DomainEvent
		var typ string
		var at int64
		err := row.Scan(&e.Domain, &typ, &e.Detail, &at)
		e.Type, e.At = store.DomainEventType(typ), fromMicros(at)
		return e, err
	}, `SELECT domain, type, detail, at FROM domain_events WHERE domain = ? ORDER BY id`, strings.ToLower(name))
}

// Secret returns the named secret, storing fresh first when it is new.
// The insert and the read are one transaction, so concurrent first
// callers all get the value that won.
func (db *DB) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, fresh, micros(time.Now())); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	var v []byte
	if err := tx.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	return v, nil
}
