package store

import (
	"context"
	"time"
)

// Domain states.
type DomainState string

const (
	DomainPending  DomainState = "pending"  // records published? not yet seen
	DomainVerified DomainState = "verified" // DKIM records found in DNS
	DomainTrusted  DomainState = "trusted"  // vouched for by the operator
)

// Domain is a sending domain of a user, with its DKIM keys (PKCS#8 PEM).
type Domain struct {
	Name        string // lower-case
	UserID      int64
	UserName    string
	State       DomainState
	RSASelector string
	RSAKey      []byte
	EdSelector  string
	EdKey       []byte
	CreatedAt   time.Time
	VerifiedAt  time.Time

	// Next keys wait for their records during a rotation; Prev selectors
	// are the ones signing switched away from.
	NextRSASelector string
	NextRSAKey      []byte
	NextEdSelector  string
	NextEdKey       []byte
	PrevSelectors   string // "rsa,ed" of the previous keys, "" if none
	RotatedAt       time.Time

	// AccountID is the owner's account: the owner itself, or its parent.
	AccountID int64
	// Shared: every user of the owner's account (the account and its
	// subusers) may send as the domain, not only the owner.
	Shared bool
	// ReturnPath: the return-path subdomain's MX was found in DNS, so
	// mail from the domain leaves with a VERP envelope sender on it.
	ReturnPath bool
}

// Usable reports whether mail from the domain may be signed.
func (d Domain) Usable() bool { return d.State == DomainVerified || d.State == DomainTrusted }

// UsableBy reports whether the user (of the given account) may send as
// the domain: it is usable, and the user's own or shared within the
// user's account.
func (d Domain) UsableBy(userID, accountID int64) bool {
	return d.Usable() && ownOrShared(d.UserID, d.AccountID, d.Shared, userID, accountID)
}

// ownOrShared is the sharing rule of domains and single senders: what
// belongs to owner (of ownerAccount) is the owner's alone, or, when
// shared, every user's of the owner's account (the account and its
// subusers). Never another account's.
func ownOrShared(owner, ownerAccount int64, shared bool, userID, accountID int64) bool {
	return owner == userID || shared && ownerAccount == accountID
}

// Domain event types: what happened to a domain, for its user to see.
type DomainEventType string

const (
	DomainEventAdded    DomainEventType = "added"
	DomainEventVerified DomainEventType = "verified"
	DomainEventTrusted  DomainEventType = "trusted"
	DomainEventLapsed   DomainEventType = "lapsed" // a re-check found its records gone
	DomainEventRotated  DomainEventType = "rotated"
	DomainEventShared   DomainEventType = "shared"
	DomainEventUnshared DomainEventType = "unshared"
	// DomainEventReturnPath: the return-path MX appeared or went away.
	DomainEventReturnPath DomainEventType = "return-path"
)

// DomainEvent is one line of a domain's history.
type DomainEvent struct {
	Domain string
	Type   DomainEventType
	Detail string
	At     time.Time
}

// DomainStore keeps sending domains.
type DomainStore interface {
	// AddDomain stores a new domain; store.ErrExists if any user has it.
	AddDomain(ctx context.Context, d Domain) error
	Domain(ctx context.Context, name string) (Domain, error)
	// Domains lists domains by name; of one user when userName != "".
	Domains(ctx context.Context, userName string) ([]Domain, error)
	SetDomainState(ctx context.Context, name string, state DomainState, at time.Time) error
	// SetNextKeys stores the keys of a rotation in progress.
	SetNextKeys(ctx context.Context, name, rsaSel string, rsaKey []byte, edSel string, edKey []byte) error
	// PromoteNextKeys makes the next keys current (their records verified).
	PromoteNextKeys(ctx context.Context, name string, at time.Time) error
	// SetDomainShared shares the domain with its owner's account, or not.
	SetDomainShared(ctx context.Context, name string, shared bool) error
	// SetDomainReturnPath records whether the return-path MX is published.
	SetDomainReturnPath(ctx context.Context, name string, published bool) error

	AddDomainEvent(ctx context.Context, e DomainEvent) error
	// DomainEvents returns the domain's history, oldest first.
	DomainEvents(ctx context.Context, name string) ([]DomainEvent, error)

	// Secret returns the installation secret called name, storing fresh
	// as that secret when there is none yet; every node of a cluster gets
	// the same value.
	Secret(ctx context.Context, name string, fresh []byte) ([]byte, error)
}
