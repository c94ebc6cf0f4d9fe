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
}

// Usable reports whether mail from the domain may be signed.
func (d Domain) Usable() bool { return d.State == DomainVerified || d.State == DomainTrusted }

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
}
