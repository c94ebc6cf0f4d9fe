package admin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/store"
)

// The API key scopes (SendGrid's names).
const (
	ScopeKeysCreate = "api_keys.create"
	ScopeKeysRead   = "api_keys.read"
	ScopeKeysUpdate = "api_keys.update"
	ScopeKeysDelete = "api_keys.delete"
)

// FullAccess, given as the scope list, is every scope: SendGrid's "Full
// Access" key.
const FullAccess = "full"

// MaxKeys is how many keys a user may hold that are not revoked
// (SendGrid's limit); creating one more is ErrForbidden.
const MaxKeys = 100

// maxKeyName is the longest key name, in bytes (SendGrid's limit is 100
// characters).
const maxKeyName = 100

// ParseScopes reads a comma-separated scope list as the CLI takes it:
// FullAccess for every scope, "" for mail.send alone, else the names
// (account.ParseScopes).
func ParseScopes(s string) ([]string, error) {
	if strings.TrimSpace(s) == FullAccess {
		return account.KnownScopes(), nil
	}
	return account.ParseScopes(s)
}

// NewKey is a key to create.
type NewKey struct {
	Name string
	// Scopes the key grants. None means, as for SendGrid, a key with
	// "Full Access": every scope the Actor may grant (the operator: all;
	// a key: its own).
	Scopes []string
	// AllowIPs pins the key to these client addresses; none: anywhere
	// (the account's rules still apply).
	AllowIPs []netip.Prefix
}

// CreatedKey is a new key: Secret is the key itself, to be shown once and
// never stored or logged.
type CreatedKey struct {
	Secret string
	store.APIKey
}

// CreateKey makes a key for the Actor's user (with On-Behalf-Of: the
// subuser's). A key can never grant a scope it does not hold itself:
// asking for one is ErrForbidden, as is a user's MaxKeys+1st key; an
// unknown scope or a bad name is an *InvalidError.
func (s *Service) CreateKey(ctx context.Context, a Actor, k NewKey) (CreatedKey, error) {
	if err := a.need(ScopeKeysCreate); err != nil {
		return CreatedKey{}, err
	}
	if a.User.ID == 0 {
		return CreatedKey{}, Invalid("user", "name the user the key is for")
	}
	if err := checkKeyName(k.Name); err != nil {
		return CreatedKey{}, err
	}
	scopes := k.Scopes
	if len(scopes) == 0 {
		scopes = grantable(a)
	}
	scopes, err := checkScopes(a, scopes)
	if err != nil {
		return CreatedKey{}, err
	}
	keys, err := s.Store.APIKeys(ctx, a.User.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return CreatedKey{}, fmt.Errorf("%w: user %q", ErrNotFound, a.User.Name)
	case err != nil:
		return CreatedKey{}, fmt.Errorf("admin: create key for %q: %w", a.User.Name, err)
	}
	active := 0
	for _, key := range keys {
		if !key.Revoked() {
			active++
		}
	}
	if active >= MaxKeys {
		return CreatedKey{}, fmt.Errorf("%w: user %q holds %d keys already, the most there may be", ErrForbidden, a.User.Name, active)
	}
	secret, rec, err := s.Accounts.CreateKey(ctx, a.User.Name, k.Name, scopes, k.AllowIPs...)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return CreatedKey{}, fmt.Errorf("%w: user %q", ErrNotFound, a.User.Name)
	case err != nil:
		return CreatedKey{}, fmt.Errorf("admin: create key for %q: %w", a.User.Name, err)
	}
	return CreatedKey{Secret: secret, APIKey: rec}, nil
}

// KeyFilter selects keys for ListKeys.
type KeyFilter struct {
	// User names the user whose keys to list; "": every user the Actor
	// reaches (the operator: all; a key: its user's).
	User string
	// Limit: at most that many keys; 0: no limit. Offset skips that many.
	Limit, Offset int
}

// ListKeys lists the keys f selects that the Actor reaches, oldest
// first. Revoked keys are listed for the operator only: for a key, as for
// SendGrid, a revoked key is gone.
func (s *Service) ListKeys(ctx context.Context, a Actor, f KeyFilter) ([]store.APIKey, error) {
	if err := a.need(ScopeKeysRead); err != nil {
		return nil, err
	}
	if f.Limit < 0 || f.Offset < 0 {
		return nil, Invalid("limit", "limit and offset must not be negative")
	}
	name := f.User
	if name != "" {
		u, err := s.Store.UserByName(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound) || err == nil && !a.reaches(u.ID):
			return nil, fmt.Errorf("%w: user %q", ErrNotFound, name)
		case err != nil:
			return nil, fmt.Errorf("admin: keys of %q: %w", name, err)
		}
	} else if !a.Operator {
		name = a.User.Name
	}
	keys, err := s.Store.APIKeys(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%w: user %q", ErrNotFound, name)
	case err != nil:
		return nil, fmt.Errorf("admin: list keys: %w", err)
	}
	if !a.Operator {
		keys = slices.DeleteFunc(keys, store.APIKey.Revoked)
	}
	return pageOf(keys, f.Limit, f.Offset), nil
}

// GetKey returns the key with public id id.
func (s *Service) GetKey(ctx context.Context, a Actor, id string) (store.APIKey, error) {
	if err := a.need(ScopeKeysRead); err != nil {
		return store.APIKey{}, err
	}
	return s.key(ctx, a, id)
}

// RenameKey sets the key's name and returns the key.
func (s *Service) RenameKey(ctx context.Context, a Actor, id, name string) (store.APIKey, error) {
	if err := a.need(ScopeKeysUpdate); err != nil {
		return store.APIKey{}, err
	}
	if err := checkKeyName(name); err != nil {
		return store.APIKey{}, err
	}
	k, err := s.key(ctx, a, id)
	if err != nil {
		return store.APIKey{}, err
	}
	if err := s.Store.RenameAPIKey(ctx, k.ID, name); err != nil {
		return store.APIKey{}, s.keyErr(k.ID, "rename", err)
	}
	k.Name = name
	return k, nil
}

// UpdateKey sets the key's name and scopes at once (SendGrid's PUT) and
// returns the key. The scopes take effect at the key's next request and
// next SMTP MAIL. As at creation, a key can grant only scopes it holds.
func (s *Service) UpdateKey(ctx context.Context, a Actor, id, name string, scopes []string) (store.APIKey, error) {
	if err := a.need(ScopeKeysUpdate); err != nil {
		return store.APIKey{}, err
	}
	if err := checkKeyName(name); err != nil {
		return store.APIKey{}, err
	}
	if len(scopes) == 0 {
		return store.APIKey{}, Invalid("scopes", "name at least one scope")
	}
	scopes, err := checkScopes(a, scopes)
	if err != nil {
		return store.APIKey{}, err
	}
	k, err := s.key(ctx, a, id)
	if err != nil {
		return store.APIKey{}, err
	}
	if err := s.Store.SetAPIKey(ctx, k.ID, name, scopes); err != nil {
		return store.APIKey{}, s.keyErr(k.ID, "update", err)
	}
	k.Name, k.Scopes = name, scopes
	return k, nil
}

// RevokeKey revokes the key at once. For the operator, revoking a revoked
// key is no error; for a key, it is gone (ErrNotFound).
func (s *Service) RevokeKey(ctx context.Context, a Actor, id string) error {
	if err := a.need(ScopeKeysDelete); err != nil {
		return err
	}
	k, err := s.key(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.Store.RevokeAPIKey(ctx, k.ID, s.now()); err != nil {
		return s.keyErr(k.ID, "revoke", err)
	}
	return nil
}

// key loads the key id if the Actor reaches it: its user's, not revoked
// (but for the operator). Anything else is ErrNotFound.
func (s *Service) key(ctx context.Context, a Actor, id string) (store.APIKey, error) {
	k, err := s.Store.APIKey(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && (!a.reaches(k.UserID) || k.Revoked() && !a.Operator):
		return store.APIKey{}, fmt.Errorf("%w: API key %s", ErrNotFound, keyRef(id))
	case err != nil:
		return store.APIKey{}, fmt.Errorf("admin: API key %s: %w", keyRef(id), err)
	}
	return k, nil
}

// keyErr words a store error of a change to a key found a moment ago.
func (s *Service) keyErr(id, what string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: API key %s", ErrNotFound, id)
	}
	return fmt.Errorf("admin: %s API key %s: %w", what, id, err)
}

// keyRef is id as an error may name it: a key id is public, but what was
// given may be a whole key, pasted by mistake, which must not reach a log.
func keyRef(id string) string {
	if len(id) > 32 || strings.ContainsFunc(id, func(r rune) bool { return !('a' <= r && r <= 'z' || '0' <= r && r <= '9') }) {
		return "(malformed id)"
	}
	return id
}

// grantable is every scope the Actor holds, in KnownScopes order.
func grantable(a Actor) []string {
	var out []string
	for _, sc := range account.KnownScopes() {
		if a.Can(sc) {
			out = append(out, sc)
		}
	}
	return out
}

// checkScopes checks that every scope is known and held by the Actor,
// and returns them without repeats, in the order given.
func checkScopes(a Actor, scopes []string) ([]string, error) {
	known := account.KnownScopes()
	var out []string
	for _, sc := range scopes {
		if !slices.Contains(known, sc) {
			return nil, Invalid("scopes", "unknown scope %q", sc)
		}
		if !a.Can(sc) {
			return nil, fmt.Errorf("%w: a key cannot grant the %s scope, which it does not hold", ErrForbidden, sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// checkKeyName checks a key's name: at most maxKeyName bytes of UTF-8
// without control characters, since it is printed in lists and logs.
func checkKeyName(name string) error {
	switch {
	case len(name) > maxKeyName:
		return Invalid("name", "longer than %d bytes", maxKeyName)
	case !utf8.ValidString(name):
		return Invalid("name", "not valid UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return Invalid("name", "contains a control character")
	}
	return nil
}

// pageOf is the page of list that limit (0: no limit) and offset select.
func pageOf[T any](list []T, limit, offset int) []T {
	if offset >= len(list) {
		return list[:0]
	}
	list = list[offset:]
	if limit > 0 && limit < len(list) {
		list = list[:limit]
	}
	return list
}
