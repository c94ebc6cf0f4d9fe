package store

import (
	"context"
	"time"
)

// Message states beyond StateQueued.
const (
	// StateDone: no recipient is pending any more (each is delivered,
	// bounced or dropped).
	StateDone MessageState = "done"
)

// RecipientState is where one recipient of a message stands.
type RecipientState string

const (
	RcptPending   RecipientState = "pending"   // not yet delivered; retried
	RcptDelivered RecipientState = "delivered" // the receiver accepted it
	RcptBounced   RecipientState = "bounced"   // permanent failure or given up; a DSN went to the sender
	RcptDropped   RecipientState = "dropped"   // not sent: suppressed, or dropped by the operator
)

// EventType names what happened to a message or recipient.
type EventType string

const (
	EventProcessed EventType = "processed" // accepted into the queue
	EventDeferred  EventType = "deferred"  // temporary failure; will retry
	EventDelivered EventType = "delivered"
	EventBounced   EventType = "bounced"
	EventDropped   EventType = "dropped"
	EventDelayed   EventType = "delayed" // a delay notice went to the sender
	EventInbound   EventType = "inbound" // mail to the return path that reports no failure
	// A recipient's complaint (a feedback report, recorded by
	// internal/bounce) and unsubscription (a one-click List-Unsubscribe
	// POST, recorded by internal/unsub): SendGrid's spam_report and
	// unsubscribe.
	EventSpamReport  EventType = "spamreport"
	EventUnsubscribe EventType = "unsubscribe"
)

// Event is one line of a message's history. Recipient is "" for events
// about the whole message.
type Event struct {
	MessageID string
	Recipient string
	Type      EventType
	Detail    string
	At        time.Time
}

// Recipient is a recipient with its delivery state.
type Recipient struct {
	Idx        int
	Address    string
	State      RecipientState
	LastResult string
	UpdatedAt  time.Time
}

// Claim is a due message leased to a delivery worker: the store has
// already moved its next attempt time to Claim.NextAttempt (saved before
// any dialing, so a crash never causes a hot retry loop) and counted the
// attempt.
type Claim struct {
	ID            string
	UserID        int64
	UserName      string
	From          string
	CreatedAt     time.Time
	Attempts      int // including this one
	NextAttempt   time.Time
	DelayNotified bool
	Recipients    []Recipient // the pending ones
}

// RecipientUpdate sets the outcome of one recipient after an attempt.
type RecipientUpdate struct {
	Idx    int
	State  RecipientState
	Result string // the remote reply or reason, for queue show
}

// Attempt is what a delivery attempt changed, committed atomically.
type Attempt struct {
	MessageID     string
	At            time.Time
	Updates       []RecipientUpdate
	Events        []Event
	DelayNotified bool
	// NextAttempt, when not zero, is when the message is next due if
	// recipients are still pending after this attempt; zero keeps the
	// time its claim saved.
	NextAttempt time.Time
	// Suppress adds addresses to the message owner's suppression list.
	Suppress []Suppression
	// Notices are DSNs (bounces, delay notices) to enqueue in the same
	// transaction, so a crash can neither lose nor repeat them.
	Notices []NewMessage
}

// Suppression is an address a user no longer sends to. An address may
// be on several of the user's lists, one entry per kind; an entry of any
// kind suppresses delivery.
type Suppression struct {
	UserID  int64
	Address string // lower-cased
	// Kind is the list the entry is on (SendGrid's bounces, blocks,
	// invalid emails, spam reports, global unsubscribes). Empty when
	// adding means SuppressBounce, which is what delivery and bounce
	// processing add.
	Kind      SuppressionKind
	Reason    string
	CreatedAt time.Time
}

// DeliveryStore is what the delivery worker and the queue administration
// need from the store.
type DeliveryStore interface {
	// ClaimDue leases up to limit messages whose next attempt is due at
	// now: each gets Attempts+1 and NextAttempt = next(Attempts+1), saved
	// before the call returns.
	ClaimDue(ctx context.Context, now time.Time, limit int, next func(attempt int) time.Time) ([]Claim, error)
	// RecordAttempt applies an attempt's outcome in one transaction; the
	// message becomes StateDone when no recipient is pending. An update
	// changes only a pending recipient, except one to RcptBounced, which
	// also applies to a delivered one (a bounce after acceptance).
	RecordAttempt(ctx context.Context, a Attempt) error
	// RecordAttempts applies several attempts' outcomes, each as
	// RecordAttempt does, in one transaction: all or none.
	RecordAttempts(ctx context.Context, as []Attempt) error
	Recipients(ctx context.Context, messageID string) ([]Recipient, error)
	Events(ctx context.Context, messageID string) ([]Event, error)
	// RetryNow makes a queued message due at once.
	RetryNow(ctx context.Context, messageID string, now time.Time) error
	// Drop marks every pending recipient dropped and the message done.
	Drop(ctx context.Context, messageID, reason string, now time.Time) error
	// ListMessages returns the messages f selects, without their bodies,
	// in listing order: by creation time, then id (the order of
	// Messages), so that a page's last id is the next page's After.
	ListMessages(ctx context.Context, f MessageFilter) ([]Message, error)

	// AddSuppression adds one entry; store.ErrExists when the address is
	// on the list of that kind already.
	AddSuppression(ctx context.Context, s Suppression) error
	// AddSuppressions adds entries in one transaction and returns those
	// that were new; an address already on the list of its kind is left
	// as it is.
	AddSuppressions(ctx context.Context, s []Suppression) ([]Suppression, error)
	// RemoveSuppression removes an address from every list of the user;
	// store.ErrNotFound when it is on none.
	RemoveSuppression(ctx context.Context, userID int64, address string) error
	// DeleteSuppressions removes, in one transaction, the user's entries
	// of kind ("": every kind) for addresses (nil: every address) and
	// returns how many went.
	DeleteSuppressions(ctx context.Context, userID int64, kind SuppressionKind, addresses []string) (int, error)
	// Suppressions lists every entry of the user, by address then kind.
	Suppressions(ctx context.Context, userID int64) ([]Suppression, error)
	// FindSuppressions lists the entries f selects, by address then kind.
	FindSuppressions(ctx context.Context, f SuppressionFilter) ([]Suppression, error)
	// Suppressed returns which of addresses are on the user's lists (an
	// address on several: its oldest entry).
	Suppressed(ctx context.Context, userID int64, addresses []string) (map[string]Suppression, error)
}
