// Package store defines Postern's storage interface: users, API keys and
// the message queue. Callers depend only on this package; the drivers
// (store/sqlite, and later store/postgres for cluster mode) implement it.
//
// Durability contract: when EnqueueBatch returns nil, every message of the
// batch — envelope and body — is committed and synced to stable storage
// (DESIGN.md, "Storage"). Nothing is acknowledged before that.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors returned by every implementation; test with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// User is an account (ParentID == 0) or a subuser of one.
type User struct {
	ID         int64
	Name       string
	ParentID   int64
	ParentName string
	CreatedAt  time.Time

	SuspendedAt   time.Time // zero unless suspended
	SuspendReason string
	// HideOriginatingIP is the user's opt-out of X-Originating-IP.
	HideOriginatingIP bool
	// SpamThreshold is the user's own spam score limit; 0: the default.
	SpamThreshold float64
	// Email is the user's contact address (SendGrid's subuser email); ""
	// for none.
	Email string
	// ListUnsubscribe: the funnel adds one-click List-Unsubscribe
	// headers (RFC 8058) to the user's single-recipient messages
	// (internal/unsub). Off by default.
	ListUnsubscribe bool
}

// AccountID is the user's top-level account: itself, or its parent.
func (u User) AccountID() int64 {
	if u.ParentID != 0 {
		return u.ParentID
	}
	return u.ID
}

// Suspended reports whether the user is suspended.
func (u User) Suspended() bool { return !u.SuspendedAt.IsZero() }

// APIKey is the stored form of an API key: never the secret, only its hash.
type APIKey struct {
	ID        string // public id, part of the key itself
	UserID    int64
	UserName  string
	Name      string // label chosen by the operator
	Scopes    []string
	Hash      []byte
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key is valid
	// AllowIPs restricts where the key may be used from: CIDR prefixes in
	// canonical form. Empty: anywhere (the account's list still applies).
	AllowIPs []string
}

// Revoked reports whether the key has been revoked.
func (k APIKey) Revoked() bool { return !k.RevokedAt.IsZero() }

// Message states.
type MessageState string

const (
	StateQueued MessageState = "queued"
)

// NewMessage is a message accepted for the queue.
type NewMessage struct {
	ID         string
	UserID     int64
	KeyID      string
	From       string // envelope sender; "" is the null sender
	Recipients []string
	Body       []byte // the full message as stored: headers added by Postern included
	CreatedAt  time.Time
	// NotBefore holds the message in the queue until then (rate-limit
	// "hold" mode, or a scheduled send); zero: due at once.
	NotBefore time.Time
	// Meta is the message's metadata as JSON (categories, custom args,
	// batch id: compose.Meta), "" for none. The store keeps it opaque.
	Meta string
}

// Message is a queued message's record, without its body.
type Message struct {
	ID         string
	UserID     int64
	UserName   string
	KeyID      string
	From       string
	Recipients []string
	Size       int64
	State      MessageState
	CreatedAt  time.Time
	Meta       string // as given to EnqueueBatch
	// Attempts counts the delivery attempts begun so far.
	Attempts int
	// NextAttempt is when a queued message is next due (its first
	// attempt, a retry, or the end of a hold); zero once it is done.
	NextAttempt time.Time
}

// AccountStore keeps users and their API keys: the basics that
// authentication and account creation need. UserKeyStore has the rest of
// their management.
type AccountStore interface {
	// CreateUser creates an account (parent == "") or a subuser of the
	// account named parent. Subusers cannot have subusers.
	CreateUser(ctx context.Context, name, parent string) (User, error)
	UserByName(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)

	CreateAPIKey(ctx context.Context, k APIKey) error
	// APIKey returns the key with the given public id, revoked or not.
	APIKey(ctx context.Context, id string) (APIKey, error)
	// APIKeys lists keys, of one user when userName != "".
	APIKeys(ctx context.Context, userName string) ([]APIKey, error)
	// RevokeAPIKey marks a key revoked; revoking twice is not an error.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
}

// QueueStore takes messages into the queue, durably (the package's
// contract), and reads them back. DeliveryStore has their delivery state.
type QueueStore interface {
	// EnqueueBatch commits all messages in one transaction and returns only
	// once they are on stable storage.
	EnqueueBatch(ctx context.Context, msgs []NewMessage) error
	Messages(ctx context.Context) ([]Message, error)
	Message(ctx context.Context, id string) (Message, error)
	MessageBody(ctx context.Context, id string) ([]byte, error)
}

// Store is what Postern needs from its database: every part below, which
// a driver implements together. Only the places that know everything (app,
// admin) hold a whole Store; a service takes the parts it uses, as a small
// interface of its own.
type Store interface {
	AccountStore
	UserKeyStore
	QueueStore
	DeliveryStore
	AbuseStore
	LimitStore
	CounterStore
	LeaseStore
	RetentionStore
	WebhookStore
	DomainStore
	SenderStore
	StatsStore
	GaugeStore

	Close() error
}
