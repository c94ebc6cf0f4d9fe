package store

import (
	"context"
	"time"
)

// NewUser is a user to create with its profile: what SendGrid's
// POST /v3/subusers takes, beside the name and the parent of CreateUser.
type NewUser struct {
	Name   string
	Parent string // the account's name; "" for an account
	Email  string // the user's contact address; "" for none
	// PasswordHash is a slow hash of the user's console password (a
	// bcrypt string), nil for none. Only PasswordHash reads it back.
	PasswordHash []byte
	CreatedAt    time.Time // zero: now
}

// UserSettings are the operator's per-user switches; a nil field is left
// as it is.
type UserSettings struct {
	HideOriginatingIP *bool
	SpamThreshold     *float64 // 0: the default
	ListUnsubscribe   *bool
}

// UserKeyStore is what the management of users and API keys needs beyond
// the basics of AccountStore.
type UserKeyStore interface {
	// AddUser creates the user u describes, as CreateUser does (the same
	// errors), with its profile.
	AddUser(ctx context.Context, u NewUser) (User, error)
	// Subusers lists the subusers of the account accountID, ordered by
	// name; none is an empty list, not an error.
	Subusers(ctx context.Context, accountID int64) ([]User, error)
	// PasswordHash returns the named user's password hash, nil for none.
	PasswordHash(ctx context.Context, name string) ([]byte, error)
	// DeleteUser deletes the named user and revokes its keys at at, in one
	// transaction. A deleted user is no longer found (UserByName, Users,
	// Subusers, APIKeys by name: store.ErrNotFound or absent), but its
	// name stays taken and what refers to it (messages, events) keeps
	// its name. An account with subusers is not deleted.
	DeleteUser(ctx context.Context, name string, at time.Time) error
	// UpdateUserSettings sets the settings s names, in one transaction.
	UpdateUserSettings(ctx context.Context, name string, s UserSettings) error

	// RenameAPIKey sets the key's label; store.ErrNotFound for an unknown
	// id.
	RenameAPIKey(ctx context.Context, id, name string) error
	// SetAPIKey sets the key's label and scopes at once; store.ErrNotFound
	// for an unknown id.
	SetAPIKey(ctx context.Context, id, name string, scopes []string) error
}
