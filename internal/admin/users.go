package admin

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/store"
)

// The subuser scopes (SendGrid's names), and the profile's, which
// ShowUser needs of a key.
const (
	ScopeSubusersCreate = "subusers.create"
	ScopeSubusersRead   = "subusers.read"
	ScopeSubusersUpdate = "subusers.update"
	ScopeSubusersDelete = "subusers.delete"
	ScopeProfileRead    = "user.profile.read"
)

// DisabledReason is the suspension reason of a subuser its account
// disabled (SetSubuserDisabled). Only such a suspension may the account
// lift: one by the operator, or by the abuse controls, stays until the
// operator resumes the user.
const DisabledReason = "disabled by its account"

// Password bounds: SendGrid's minimum, and bcrypt's input limit (longer
// passwords would be cut silently by other implementations; this one
// refuses them, and so do we, in words).
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

// passwordCost is the bcrypt cost of a stored password: 2^12 rounds, a
// quarter of a second or so on a server core.
const passwordCost = 12

// maxEmail is the longest contact address (RFC 5321's path limit).
const maxEmail = 254

// CreateUser creates an account (parent == "") or a subuser of the
// account parent. It is the operator's alone: top-level accounts are not
// made through the API, and a key gets ErrForbidden.
func (s *Service) CreateUser(ctx context.Context, a Actor, name, parent string) (store.User, error) {
	if !a.Operator {
		return store.User{}, fmt.Errorf("%w: accounts are created by the operator", ErrForbidden)
	}
	if err := checkUserName("username", name); err != nil {
		return store.User{}, err
	}
	if parent != "" {
		p, err := s.Store.UserByName(ctx, parent)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return store.User{}, fmt.Errorf("%w: account %q", ErrNotFound, parent)
		case err != nil:
			return store.User{}, fmt.Errorf("admin: create user %q: parent %q: %w", name, parent, err)
		case p.ParentID != 0:
			return store.User{}, Invalid("parent", "%s is a subuser of %s, and subusers cannot have subusers", p.Name, p.ParentName)
		}
	}
	return s.addUser(ctx, store.NewUser{Name: name, Parent: parent})
}

// NewSubuser is a subuser to create, as SendGrid's POST /v3/subusers
// takes it.
type NewSubuser struct {
	Name  string
	Email string
	// Password is kept only as a slow hash (bcrypt), for the console; it
	// is never returned or logged.
	Password string
}

// CreateSubuser creates a subuser of the Actor's user, which must be a
// top-level account (a subuser, or an account acting on behalf of one,
// gets ErrForbidden).
func (s *Service) CreateSubuser(ctx context.Context, a Actor, n NewSubuser) (store.User, error) {
	if err := a.need(ScopeSubusersCreate); err != nil {
		return store.User{}, err
	}
	switch {
	case a.User.ID == 0:
		return store.User{}, Invalid("parent", "name the account the subuser is for")
	case a.User.ParentID != 0:
		return store.User{}, fmt.Errorf("%w: %s is a subuser, and subusers cannot have subusers", ErrForbidden, a.User.Name)
	}
	if err := checkUserName("username", n.Name); err != nil {
		return store.User{}, err
	}
	if err := checkEmail(n.Email); err != nil {
		return store.User{}, err
	}
	// A taken name is refused before the slow hash, which would be work
	// for nothing (the store refuses it again, should it be taken
	// between the two).
	switch _, err := s.Store.UserByName(ctx, n.Name); {
	case err == nil:
		return store.User{}, fmt.Errorf("%w: user %q", ErrConflict, n.Name)
	case !errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("admin: create subuser %q: %w", n.Name, err)
	}
	hash, err := hashPassword(n.Password)
	if err != nil {
		return store.User{}, err
	}
	return s.addUser(ctx, store.NewUser{Name: n.Name, Parent: a.User.Name, Email: n.Email, PasswordHash: hash})
}

// addUser stores n, created now.
func (s *Service) addUser(ctx context.Context, n store.NewUser) (store.User, error) {
	n.CreatedAt = s.now()
	u, err := s.Store.AddUser(ctx, n)
	switch {
	case errors.Is(err, store.ErrExists):
		return store.User{}, fmt.Errorf("%w: user %q", ErrConflict, n.Name)
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, fmt.Errorf("%w: account %q", ErrNotFound, n.Parent)
	case err != nil:
		return store.User{}, fmt.Errorf("admin: create user %q: %w", n.Name, err)
	}
	return u, nil
}

// SubuserFilter selects subusers for ListSubusers.
type SubuserFilter struct {
	Name string // only the subuser of that name; "": all
	// Limit: at most that many; 0: no limit. Offset skips that many.
	Limit, Offset int
}

// ListSubusers lists the subusers of the Actor's user, ordered by name: a
// subuser has none. The operator acting for no user lists every
// subuser of every account.
func (s *Service) ListSubusers(ctx context.Context, a Actor, f SubuserFilter) ([]store.User, error) {
	if err := a.need(ScopeSubusersRead); err != nil {
		return nil, err
	}
	if f.Limit < 0 || f.Offset < 0 {
		return nil, Invalid("limit", "limit and offset must not be negative")
	}
	var subs []store.User
	var err error
	switch {
	case a.Operator && a.User.ID == 0:
		var all []store.User
		all, err = s.Store.Users(ctx)
		for _, u := range all {
			if u.ParentID != 0 {
				subs = append(subs, u)
			}
		}
	case a.User.ParentID == 0:
		subs, err = s.Store.Subusers(ctx, a.User.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("admin: list subusers: %w", err)
	}
	if f.Name != "" {
		var one []store.User
		for _, u := range subs {
			if u.Name == f.Name {
				one = append(one, u)
			}
		}
		subs = one
	}
	return pageOf(subs, f.Limit, f.Offset), nil
}

// GetSubuser returns the named subuser of the Actor's user.
func (s *Service) GetSubuser(ctx context.Context, a Actor, name string) (store.User, error) {
	if err := a.need(ScopeSubusersRead); err != nil {
		return store.User{}, err
	}
	return s.subuser(ctx, a, name)
}

// DeleteSubuser deletes the named subuser of the Actor's user and revokes
// its keys, in one transaction. Its queued mail is still delivered; its
// name stays taken, so that nothing of it (suppressions, limits, history)
// passes to a newcomer of the same name.
func (s *Service) DeleteSubuser(ctx context.Context, a Actor, name string) error {
	if err := a.need(ScopeSubusersDelete); err != nil {
		return err
	}
	u, err := s.subuser(ctx, a, name)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteUser(ctx, u.Name, s.now()); err != nil {
		return s.userErr(u.Name, "delete", err)
	}
	return nil
}

// SetSubuserDisabled disables (suspends, its keys refused at once) or
// enables the named subuser of the Actor's user: SendGrid's PATCH
// {"disabled": …}. Disabling a suspended subuser keeps the first
// suspension's reason. A key may enable only a subuser its account
// disabled (DisabledReason): a suspension by the operator or the abuse
// controls is ErrForbidden to lift, but for the operator.
func (s *Service) SetSubuserDisabled(ctx context.Context, a Actor, name string, disabled bool) error {
	if err := a.need(ScopeSubusersUpdate); err != nil {
		return err
	}
	u, err := s.subuser(ctx, a, name)
	if err != nil {
		return err
	}
	switch {
	case disabled == u.Suspended():
		return nil
	case disabled:
		err = s.Store.SetSuspended(ctx, u.Name, s.now(), DisabledReason)
	case u.SuspendReason != DisabledReason && !a.Operator:
		return fmt.Errorf("%w: %s was suspended by the operator or the abuse controls", ErrForbidden, u.Name)
	default:
		err = s.Store.SetSuspended(ctx, u.Name, time.Time{}, "")
	}
	if err != nil {
		return s.userErr(u.Name, "disable", err)
	}
	return nil
}

// ListUsers lists every user, ordered by name: the operator's alone.
func (s *Service) ListUsers(ctx context.Context, a Actor) ([]store.User, error) {
	if !a.Operator {
		return nil, fmt.Errorf("%w: listing every user is the operator's", ErrForbidden)
	}
	users, err := s.Store.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: list users: %w", err)
	}
	return users, nil
}

// UserInfo is what ShowUser tells of a user.
type UserInfo struct {
	store.User
	// AllowedIPs is the account's IP allow-list (a subuser's is its
	// account's); empty: any address.
	AllowedIPs              []string
	ActiveKeys, RevokedKeys int
}

// ShowUser returns the named user, its account's allow-list and how many
// keys it holds. A key needs user.profile.read, and reaches only its own
// user.
func (s *Service) ShowUser(ctx context.Context, a Actor, name string) (UserInfo, error) {
	if err := a.need(ScopeProfileRead); err != nil {
		return UserInfo{}, err
	}
	u, err := s.reachedUser(ctx, a, name)
	if err != nil {
		return UserInfo{}, err
	}
	info := UserInfo{User: u}
	if info.AllowedIPs, err = s.Store.AllowedIPs(ctx, u.AccountID()); err != nil {
		return UserInfo{}, fmt.Errorf("admin: show user %q: %w", name, err)
	}
	keys, err := s.Store.APIKeys(ctx, u.Name)
	if err != nil {
		return UserInfo{}, s.userErr(u.Name, "show", err)
	}
	for _, k := range keys {
		if k.Revoked() {
			info.RevokedKeys++
		} else {
			info.ActiveKeys++
		}
	}
	return info, nil
}

// SuspendUser suspends the named user: its keys, and its subusers', are
// refused from now on. The operator's alone (an account disables its
// subusers with SetSubuserDisabled).
func (s *Service) SuspendUser(ctx context.Context, a Actor, name, reason string) error {
	return s.setSuspended(ctx, a, name, s.now(), reason)
}

// ResumeUser lifts the named user's suspension, whoever made it: the
// operator's alone.
func (s *Service) ResumeUser(ctx context.Context, a Actor, name string) error {
	return s.setSuspended(ctx, a, name, time.Time{}, "")
}

func (s *Service) setSuspended(ctx context.Context, a Actor, name string, at time.Time, reason string) error {
	if !a.Operator {
		return fmt.Errorf("%w: suspending and resuming users is the operator's", ErrForbidden)
	}
	u, err := s.reachedUser(ctx, a, name)
	if err != nil {
		return err
	}
	if err := s.Store.SetSuspended(ctx, u.Name, at, reason); err != nil {
		return s.userErr(u.Name, "suspend", err)
	}
	return nil
}

// UserSettings are a user's switches; a nil field is left as it is.
type UserSettings struct {
	// HideOriginatingIP leaves X-Originating-IP out of the user's mail.
	HideOriginatingIP *bool
	// SpamThreshold is the user's own spam score limit; 0: the default.
	SpamThreshold *float64
	// ListUnsubscribe adds one-click List-Unsubscribe headers to the
	// user's single-recipient messages (internal/unsub).
	ListUnsubscribe *bool
}

// SetUserSettings changes the named user's settings in one transaction:
// the operator's alone, since the spam threshold is an abuse control.
func (s *Service) SetUserSettings(ctx context.Context, a Actor, name string, set UserSettings) error {
	if !a.Operator {
		return fmt.Errorf("%w: user settings are the operator's", ErrForbidden)
	}
	switch {
	case set.HideOriginatingIP == nil && set.SpamThreshold == nil && set.ListUnsubscribe == nil:
		return Invalid("", "no setting given")
	case set.SpamThreshold != nil && !(*set.SpamThreshold >= 0):
		return Invalid("spam_threshold", "must be 0 (the default) or more")
	}
	u, err := s.reachedUser(ctx, a, name)
	if err != nil {
		return err
	}
	err = s.Store.UpdateUserSettings(ctx, u.Name, store.UserSettings{HideOriginatingIP: set.HideOriginatingIP,
		SpamThreshold: set.SpamThreshold, ListUnsubscribe: set.ListUnsubscribe})
	if err != nil {
		return s.userErr(u.Name, "set", err)
	}
	return nil
}

// reachedUser loads the named user if the Actor reaches it.
func (s *Service) reachedUser(ctx context.Context, a Actor, name string) (store.User, error) {
	u, err := s.Store.UserByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !a.reaches(u.ID):
		return store.User{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
	case err != nil:
		return store.User{}, fmt.Errorf("admin: user %q: %w", name, err)
	}
	return u, nil
}

// subuser loads the named subuser if the Actor reaches it: one of the
// Actor's user's (the operator acting for no user: anyone's). Anything
// else, an account included, is ErrNotFound.
func (s *Service) subuser(ctx context.Context, a Actor, name string) (store.User, error) {
	u, err := s.Store.UserByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && (u.ParentID == 0 || !(a.Operator && a.User.ID == 0) && u.ParentID != a.User.ID):
		return store.User{}, fmt.Errorf("%w: subuser %q", ErrNotFound, name)
	case err != nil:
		return store.User{}, fmt.Errorf("admin: subuser %q: %w", name, err)
	}
	return u, nil
}

// userErr words a store error of a change to a user found a moment ago.
func (s *Service) userErr(name, what string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	return fmt.Errorf("admin: %s user %q: %w", what, name, err)
}

// checkUserName is account.ValidUserName as an *InvalidError of field.
func checkUserName(field, name string) error {
	if err := account.ValidUserName(name); err != nil {
		return Invalid(field, "%s", strings.TrimPrefix(err.Error(), "account: "))
	}
	return nil
}

// checkEmail checks a contact address: one bare address, addr-spec only.
func checkEmail(email string) error {
	if email == "" {
		return Invalid("email", "required")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email || len(email) > maxEmail || !strings.Contains(email, "@") {
		return Invalid("email", "must be an email address (local@domain)")
	}
	return nil
}

// hashPassword checks a password's length and returns its bcrypt hash.
// Errors never contain it.
func hashPassword(pw string) ([]byte, error) {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return nil, Invalid("password", "must be at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return nil, Invalid("password", "must be at most %d bytes", MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), passwordCost)
	if err != nil {
		return nil, fmt.Errorf("admin: hash password: %w", err)
	}
	return h, nil
}
