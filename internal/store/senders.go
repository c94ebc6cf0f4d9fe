package store

import (
	"context"
	"time"
)

// Sender is a single sender address of a user, proven by a code mailed to
// it or vouched for by the operator.
type Sender struct {
	// ID is the store's number for the sender, never reused (SendGrid's
	// verified sender id); AddSender keeps it for an address the user has.
	ID         int64
	Address    string // lower-case
	UserID     int64
	UserName   string
	Verified   bool
	ByOperator bool
	CodeHash   []byte // of the pending confirmation code
	ExpiresAt  time.Time
	CreatedAt  time.Time
	VerifiedAt time.Time

	// AccountID is the owner's account: the owner itself, or its parent.
	AccountID int64
	// Shared: every user of the owner's account may send as the address,
	// not only the owner (as Domain.Shared).
	Shared bool

	// The sender's profile, SendGrid's fields: a label for people, the
	// display name to send with, and where replies should go. Postern
	// keeps them for its users; it does not enforce them.
	Nickname    string
	FromName    string
	ReplyTo     string
	ReplyToName string
}

// UsableBy reports whether the user (of the given account) may send as
// the address: it is verified, and the user's own or shared within the
// user's account, by the rule of Domain.UsableBy.
func (s Sender) UsableBy(userID, accountID int64) bool {
	return s.Verified && ownOrShared(s.UserID, s.AccountID, s.Shared, userID, accountID)
}

// SenderStore keeps single senders.
type SenderStore interface {
	// AddSender adds or replaces (a new code) a user's sender address;
	// an empty profile field leaves the stored one as it was.
	AddSender(ctx context.Context, s Sender) error
	// SenderByID returns the sender with that ID, or store.ErrNotFound.
	SenderByID(ctx context.Context, id int64) (Sender, error)
	// DeleteSender removes the user's sender; store.ErrNotFound when the
	// user has no such sender.
	DeleteSender(ctx context.Context, userID int64, address string) error
	// ConfirmSender verifies the pending sender whose code hash matches and
	// has not expired at now; store.ErrNotFound otherwise.
	ConfirmSender(ctx context.Context, codeHash []byte, now time.Time) (Sender, error)
	Senders(ctx context.Context, userName string) ([]Sender, error)
	// SendersByAddress returns every user's sender of that address,
	// pending or verified, by user name.
	SendersByAddress(ctx context.Context, address string) ([]Sender, error)
	// SetSenderShared shares the user's sender with the user's account, or
	// not; store.ErrNotFound when the user has no such sender. AddSender
	// leaves the sharing of an address the user has already as it was.
	SetSenderShared(ctx context.Context, userID int64, address string, shared bool) error
}
