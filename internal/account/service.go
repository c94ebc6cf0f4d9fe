package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/internal/store"
)

// Errors of Authenticate and Recheck; test with errors.Is. None of them,
// wrapped or not, contains key text.
var (
	// ErrUsername: the SMTP username is not "apikey".
	ErrUsername = errors.New(`account: username must be "apikey"`)
	// ErrInvalidKey: the key is malformed, its id unknown, or its secret
	// wrong. One error for all three, so that a guesser learns nothing.
	ErrInvalidKey = errors.New("account: invalid API key")
	// ErrRevoked: the key was valid and has been revoked.
	ErrRevoked = errors.New("account: API key revoked")
	// ErrScope: the key lacks the scope the operation needs.
	ErrScope = errors.New("account: API key lacks the required scope")
)

// maxLabel is the longest key label, in bytes (SendGrid's limit on a key
// name is 100 characters).
const maxLabel = 100

// keyAttempts bounds the retries when a fresh key id already exists, which
// with 80 random bits happens only with a broken random source.
const keyAttempts = 3

// Service creates users and keys and checks credentials against Store.
type Service struct {
	Store accountStore
	Rand  io.Reader        // crypto/rand.Reader when nil
	Now   func() time.Time // time.Now when nil
}

// accountStore is what the service needs of the store: users and keys,
// and an account's allowed IPs (store.AbuseStore) for Admit.
type accountStore interface {
	store.AccountStore
	AllowedIPs(ctx context.Context, accountID int64) ([]string, error)
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// CreateUser creates an account (parent == "") or a subuser of the account
// named parent. Store errors (store.ErrExists, store.ErrNotFound for a
// missing parent) are wrapped.
func (s *Service) CreateUser(ctx context.Context, name, parent string) (store.User, error) {
	if err := ValidUserName(name); err != nil {
		return store.User{}, err
	}
	if parent != "" {
		if err := ValidUserName(parent); err != nil {
			return store.User{}, fmt.Errorf("account: parent: %w", err)
		}
	}
	u, err := s.Store.CreateUser(ctx, name, parent)
	if err != nil {
		if parent != "" {
			return store.User{}, fmt.Errorf("account: create user %q under %q: %w", name, parent, err)
		}
		return store.User{}, fmt.Errorf("account: create user %q: %w", name, err)
	}
	return u, nil
}

// CreateKey makes a new API key for the user userName, stores its hash and
// returns the key — to be shown once, never stored or logged — with its
// record. scopes are checked and deduplicated; none means mail.send.
func (s *Service) CreateKey(ctx context.Context, userName, label string, scopes []string, allowIPs ...netip.Prefix) (key string, rec store.APIKey, err error) {
	if err := validLabel(label); err != nil {
		return "", store.APIKey{}, err
	}
	scopes, err = normalizeScopes(scopes)
	if err != nil {
		return "", store.APIKey{}, err
	}
	u, err := s.Store.UserByName(ctx, userName)
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("account: create key for user %q: %w", userName, err)
	}
	for range keyAttempts {
		key, id, err := GenerateKey(s.rand())
		if err != nil {
			return "", store.APIKey{}, err
		}
		rec = store.APIKey{
			ID:        id,
			UserID:    u.ID,
			UserName:  u.Name,
			Name:      label,
			Scopes:    scopes,
			Hash:      HashKey(key),
			CreatedAt: s.now(),
			AllowIPs:  prefixStrings(allowIPs),
		}
		err = s.Store.CreateAPIKey(ctx, rec)
		if errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			return "", store.APIKey{}, fmt.Errorf("account: store key %s: %w", id, err)
		}
		return key, rec, nil
	}
	return "", store.APIKey{}, fmt.Errorf("account: create key: %d fresh ids already taken: %w", keyAttempts, store.ErrExists)
}

// validLabel checks a key's label: optional, at most maxLabel bytes of
// UTF-8 without control characters, since it is printed in lists and logs.
func validLabel(label string) error {
	if len(label) > maxLabel {
		return fmt.Errorf("account: key label longer than %d bytes", maxLabel)
	}
	if !utf8.ValidString(label) {
		return errors.New("account: key label is not valid UTF-8")
	}
	for _, r := range label {
		if unicode.IsControl(r) {
			return errors.New("account: key label contains a control character")
		}
	}
	return nil
}

// Revoke revokes the key with public id id, at once. Revoking a revoked key
// is not an error; an unknown id is store.ErrNotFound. A malformed id is not
// echoed, in case an operator pasted a whole key.
func (s *Service) Revoke(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("account: revoke: malformed key id (want the %d-character id, not the key): %w", idLen, store.ErrNotFound)
	}
	if _, err := s.Store.APIKey(ctx, id); err != nil {
		return fmt.Errorf("account: revoke key %s: %w", id, err)
	}
	if err := s.Store.RevokeAPIKey(ctx, id, s.now()); err != nil {
		return fmt.Errorf("account: revoke key %s: %w", id, err)
	}
	return nil
}

// Authenticate checks SMTP AUTH credentials and returns the key's record.
//
// Errors, to test with errors.Is: ErrUsername when username is not
// "apikey"; ErrInvalidKey, the same bare error, when the key is malformed,
// its id unknown or its secret wrong; ErrRevoked; ErrScope when the key
// lacks mail.send (the last two name the key id, which is public, and are
// returned only to a client that presented the right secret). Any other
// error is the store's, wrapped, and has no SMTP meaning.
//
// The hashes are compared in constant time, and an unknown id is compared
// against a fixed dummy hash, so that the work is the same either way.
func (s *Service) Authenticate(ctx context.Context, username, password string) (store.APIKey, error) {
	return s.AuthenticateFor(ctx, username, password, ScopeMailSend)
}

// AuthenticateFor is Authenticate for a key that needs scope, or, with
// scope "", any scope at all: the management API authenticates every valid
// key and checks each endpoint's scope itself.
func (s *Service) AuthenticateFor(ctx context.Context, username, password, scope string) (store.APIKey, error) {
	if username != Username {
		return store.APIKey{}, ErrUsername
	}
	id, err := ParseKey(password)
	if err != nil {
		return store.APIKey{}, ErrInvalidKey
	}
	h := HashKey(password)

	// A SHA-256 output of all zeros will not be met: comparing against it
	// fails like a wrong secret, after the same work.
	var dummy [sha256.Size]byte
	want := dummy[:]
	k, err := s.Store.APIKey(ctx, id)
	switch {
	case err == nil:
		want = k.Hash
	case !errors.Is(err, store.ErrNotFound):
		return store.APIKey{}, fmt.Errorf("account: authenticate: look up key %s: %w", id, err)
	}
	if subtle.ConstantTimeCompare(h, want) != 1 || err != nil {
		return store.APIKey{}, ErrInvalidKey
	}
	if err := check(k, scope); err != nil {
		return store.APIKey{}, err
	}
	return k, nil
}

// Recheck reloads the key with public id keyID and returns it if it may
// still send. It is called at every MAIL FROM of an authenticated session,
// so a key revoked or stripped of mail.send mid-session cannot start
// another transaction. A key that no longer exists counts as revoked: the
// error matches both ErrRevoked and store.ErrNotFound.
func (s *Service) Recheck(ctx context.Context, keyID string) (store.APIKey, error) {
	k, err := s.Store.APIKey(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return store.APIKey{}, fmt.Errorf("%w (key %s): %w", ErrRevoked, keyID, err)
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("account: recheck key %s: %w", keyID, err)
	}
	if err := check(k, ScopeMailSend); err != nil {
		return store.APIKey{}, err
	}
	return k, nil
}

// check says whether an authenticated key may be used, for scope when it
// is not "".
func check(k store.APIKey, scope string) error {
	if k.Revoked() {
		return fmt.Errorf("%w (key %s)", ErrRevoked, k.ID)
	}
	if scope != "" && !HasScope(k, scope) {
		return fmt.Errorf("%w %q (key %s)", ErrScope, scope, k.ID)
	}
	return nil
}
