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
	// ID is the store's number for the domain, never reused (SendGrid's
	// integer domain id).
	ID          int64
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

	// BroughtKey is the kind of the DKIM key its owner brought (domain
	// add --dkim-key): KeyRSA or KeyEd25519, "" when Postern made both.
	// The brought key's record alone verifies the domain; the other key,
	// its generated companion, signs only once its record has been found
	// (CompanionPublished).
	BroughtKey string
	// CompanionPublished: the companion key's record was found at the
	// last verification.
	CompanionPublished bool
}

// The kinds of Domain.BroughtKey (the k= tag's names).
const (
	KeyRSA     = "rsa"
	KeyEd25519 = "ed25519"
)

// SignsWith reports which of the domain's keys mail is signed with:
// each key it has, except a brought key's companion whose record has not
// been found yet. Usable says whether it is signed at all.
func (d Domain) SignsWith() (rsa, ed bool) {
	rsa, ed = len(d.RSAKey) > 0, len(d.EdKey) > 0
	switch d.BroughtKey {
	case KeyRSA:
		ed = ed && d.CompanionPublished
	case KeyEd25519:
		rsa = rsa && d.CompanionPublished
	}
	return rsa, ed
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
	// DomainEventCompanion: the record of a brought key's companion
	// appeared or went away, and its signature with it.
	DomainEventCompanion DomainEventType = "companion-key"
)

// DomainEvent is one line of a domain's history.
type DomainEvent struct {
	Domain string
	Type   DomainEventType
	Detail string
	At     time.Time
}

// DomainKeys are a rotation's new keys.
type DomainKeys struct {
	RSASelector string
	RSAKey      []byte
	EdSelector  string
	EdKey       []byte
}

// DomainChange is one logical change of a domain, written with the
// events that tell it in one transaction. The zero value of each field
// leaves that part of the domain as it is.
type DomainChange struct {
	// State is the new state; a verified or trusted one is dated At.
	State DomainState
	At    time.Time
	// ReturnPath, Shared and CompanionPublished set those flags.
	ReturnPath         *bool
	Shared             *bool
	CompanionPublished *bool
	// Next stores a rotation's new keys (as SetNextKeys).
	Next *DomainKeys
	// Promote makes the next keys current (as PromoteNextKeys, dated At);
	// the domain then has no brought key any more.
	Promote bool
	Events  []DomainEvent
}

// DomainStore keeps sending domains.
type DomainStore interface {
	// AddDomain stores a new domain; store.ErrExists if any user has it.
	AddDomain(ctx context.Context, d Domain) error
	// CreateDomain stores a new domain and its first events in one
	// transaction, and returns its ID; store.ErrExists if any user has it.
	CreateDomain(ctx context.Context, d Domain, events []DomainEvent) (int64, error)
	Domain(ctx context.Context, name string) (Domain, error)
	// DomainByID returns the domain with that ID, or store.ErrNotFound.
	DomainByID(ctx context.Context, id int64) (Domain, error)
	// ChangeDomain makes one logical change of the domain in one
	// transaction: store.ErrNotFound when there is no such domain, or
	// Promote is asked without a rotation in progress (then nothing of
	// the change is written).
	ChangeDomain(ctx context.Context, name string, ch DomainChange) error
	// DeleteDomain removes the domain and its history; store.ErrNotFound
	// when there is none.
	DeleteDomain(ctx context.Context, name string) error
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
