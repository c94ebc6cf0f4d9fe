package store

import (
	"context"
	"time"
)

// Sender is a single sender address of a user, proven by a code mailed to
// it or vouched for by the operator.
type Sender struct {
	Address    string // lower-case
	UserID     int64
	UserName   string
	Verified   bool
	ByOperator bool
	CodeHash   []byte // of the pending confirmation code
	ExpiresAt  time.Time
	CreatedAt  time.Time
	VerifiedAt time.Time
}

// SenderStore keeps single senders.
type SenderStore interface {
	// AddSender adds or replaces (a new code) a user's sender address.
	AddSender(ctx context.Context, s Sender) error
	// ConfirmSender verifies the pending sender whose code hash matches and
	// has not expired at now; store.ErrNotFound otherwise.
	ConfirmSender(ctx context.Context, codeHash []byte, now time.Time) (Sender, error)
	Senders(ctx context.Context, userName string) ([]Sender, error)
	// SenderVerified reports whether address is a verified sender of any
	// of the users.
	SenderVerified(ctx context.Context, address string, userIDs ...int64) (bool, error)
}
