package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
)

// Errors of every operation; test with errors.Is.
var (
	// ErrNotFound: no such object for this Actor, whether it does not
	// exist or belongs to another tenant.
	ErrNotFound = errors.New("admin: not found")
	// ErrForbidden: the Actor's key lacks the operation's scope, or the
	// operation is not for keys at all (creating top-level accounts).
	ErrForbidden = errors.New("admin: forbidden")
	// ErrConflict: the object exists already.
	ErrConflict = errors.New("admin: already exists")
	// ErrTooSoon: the operation was done a moment ago and may not be
	// repeated yet (a confirmation mail); the text says when.
	ErrTooSoon = errors.New("admin: too soon")
)

// InvalidError is a request that cannot be carried out as asked: Field
// names the input at fault (SendGrid's "field"), Message says why in words
// fit for the client.
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return "admin: " + e.Message
	}
	return "admin: " + e.Field + ": " + e.Message
}

// Invalid returns an *InvalidError.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Service carries out the operations. Store and Accounts are required.
type Service struct {
	Store    store.Store
	Accounts *account.Service
	// Config is the installation's: host name, public URL of the HTTP
	// listener (confirmation links), the domain records to advise.
	Config config.Config
	// Resolver answers domain validation's lookups.
	Resolver dnsres.Resolver
	// Queue takes Postern's own mail (sender confirmations), through
	// submit.Notices.
	Queue submit.Enqueuer
	// WebhookTester sends event webhooks' test POSTs; nil: TestWebhook
	// is ErrUnavailable.
	WebhookTester WebhookTester
	Now           func() time.Time // nil: time.Now
	Rand          io.Reader        // nil: crypto/rand
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Actor is who asks, and for whom.
type Actor struct {
	// Operator is the CLI: every scope, every tenant.
	Operator bool
	// Key is the API key that asked (zero for the operator).
	Key store.APIKey
	// User is the user acted for: the key's own, or the subuser named in
	// On-Behalf-Of; Account is User's top-level account.
	User    store.User
	Account store.User
}

// Can reports whether the Actor holds scope.
func (a Actor) Can(scope string) bool {
	return a.Operator || account.HasScope(a.Key, scope)
}

// need returns ErrForbidden when the Actor lacks scope.
func (a Actor) need(scope string) error {
	if !a.Can(scope) {
		return fmt.Errorf("%w: the API key lacks the %s scope", ErrForbidden, scope)
	}
	return nil
}

// Operator returns the operator acting for the user named name.
func (s *Service) Operator(ctx context.Context, name string) (Actor, error) {
	u, acct, err := s.userAndAccount(ctx, name)
	if err != nil {
		return Actor{}, err
	}
	return Actor{Operator: true, User: u, Account: acct}, nil
}

// KeyActor returns the Actor of an authenticated key. With onBehalfOf
// set (SendGrid's On-Behalf-Of header: a subuser's name), a top-level
// account's key acts for that subuser of its own; anyone else, and any
// name that is not such a subuser, is ErrNotFound.
func (s *Service) KeyActor(ctx context.Context, p account.Principal, onBehalfOf string) (Actor, error) {
	a := Actor{Key: p.Key, User: p.User, Account: p.Account}
	name := strings.TrimSpace(onBehalfOf)
	if name == "" {
		return a, nil
	}
	if p.User.ParentID != 0 {
		return Actor{}, fmt.Errorf("%w: a subuser's key cannot act on behalf of another user", ErrNotFound)
	}
	u, err := s.Store.UserByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Actor{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
	case err != nil:
		return Actor{}, fmt.Errorf("admin: on behalf of: %w", err)
	}
	if u.ParentID != p.User.ID {
		return Actor{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	a.User = u
	return a, nil
}

// userAndAccount loads a user and its top-level account.
func (s *Service) userAndAccount(ctx context.Context, name string) (store.User, store.User, error) {
	u, err := s.Store.UserByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, store.User{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
	case err != nil:
		return store.User{}, store.User{}, fmt.Errorf("admin: user %q: %w", name, err)
	}
	if u.ParentID == 0 {
		return u, u, nil
	}
	acct, err := s.Store.UserByName(ctx, u.ParentName)
	if err != nil {
		return store.User{}, store.User{}, fmt.Errorf("admin: account of %q: %w", name, err)
	}
	return u, acct, nil
}

// reaches reports whether the Actor may see and change what belongs to
// user: its own user, or, for the operator, anyone. A key acting for its
// account does not reach its subusers' objects without On-Behalf-Of, as
// SendGrid's do not.
func (a Actor) reaches(userID int64) bool {
	return a.Operator || a.User.ID == userID
}
