// Package identity connects a submitted message to the sender identities
// its user has proven. It enforces them (the envelope sender, the single
// From and any Sender must be on a domain the user owns, or one shared
// within its account, verified in DNS or vouched for by the operator, or
// be a verified single sender of the user, or one shared within its
// account), DKIM-signs mail from such a domain with both of its keys
// (RFC 6376, RFC 8463; beside a key its owner brought, the generated
// companion only once its record is found), and re-checks verified
// domains in DNS, recording a lapse in the domain's history.
//
// Single senders and domains: a domain, once authenticated (verified or
// vouched for), decides alone who may send as its addresses. A single
// sender on a domain another tenant has authenticated, or a sibling that
// has not shared it, counts for nothing when mail is sent, and
// CheckSingleSender refuses to make one; on a domain only claimed
// (pending), or nobody's, the mailbox proof stands. On a domain the user
// may send as already, a single sender is allowed but changes nothing
// while the domain stays usable. Sharing follows one rule for both
// (store.Domain.UsableBy, store.Sender.UsableBy): the owner's alone, or,
// shared, every user's of the owner's account; a subuser inherits
// nothing of its account's without it.
package identity

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/mailauth"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/store"
)

// Signer signs messages for verified domains. It keeps the domains'
// parsed keys between messages (at most MaxCachedKeys of them), and
// still asks the store for each message's domain, so that what the store
// holds now decides; see keyCache. It is safe for concurrent use, and
// must not be copied once used.
type Signer struct {
	Store signerStore
	Now   func() time.Time
	// MaxCachedKeys bounds the parsed keys kept (two per domain);
	// 0 means DefaultMaxCachedKeys.
	MaxCachedKeys int

	keys keyCache
}

// signerStore is what a Signer needs of the store: domains by name, and
// the single senders of an address.
type signerStore interface {
	domainGetter
	SendersByAddress(ctx context.Context, address string) ([]store.Sender, error)
}

// FromDomain returns the domain of the message's single From address, or
// "" when there is not exactly one From field with exactly one address.
func FromDomain(msg []byte) string {
	h, err := message.ParseHeader(msg)
	if err != nil {
		return ""
	}
	return fromDomain(h)
}

func fromDomain(h message.Header) string {
	froms := h.Values("From")
	if len(froms) != 1 {
		return ""
	}
	list, err := mail.ParseAddressList(froms[0])
	if err != nil || len(list) != 1 {
		return ""
	}
	addr := list[0].Address
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// Sign returns msg signed with the keys of its From domain when that
// domain is usable by p (its user's, or shared within its account;
// verified or vouched for by the operator); otherwise msg unchanged and
// "" for the domain. h is msg's parsed header.
func (s *Signer) Sign(ctx context.Context, p account.Principal, msg []byte, h message.Header) ([]byte, string, error) {
	name := fromDomain(h)
	if name == "" {
		return msg, "", nil
	}
	d, err := lookupDomain(ctx, s.Store, name)
	if errors.Is(err, store.ErrNotFound) {
		return msg, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("identity: domain %s: %w", name, err)
	}
	if !d.UsableBy(p.User.ID, p.Account.ID) {
		return msg, "", nil
	}
	// Each key it has, but a brought key's companion until its record is
	// found (store.Domain.SignsWith).
	withRSA, withEd := d.SignsWith()
	max := s.MaxCachedKeys
	if max <= 0 {
		max = DefaultMaxCachedKeys
	}
	keys := make([]mailauth.Key, 0, 2)
	for _, k := range [...]struct {
		use bool
		ed  bool
		sel string
		pem []byte
	}{{withRSA, false, d.RSASelector, d.RSAKey}, {withEd, true, d.EdSelector, d.EdKey}} {
		if !k.use {
			continue
		}
		signer, err := s.keys.signer(keyID{domain: name, ed: k.ed}, k.pem, max)
		if err != nil {
			return nil, "", fmt.Errorf("identity: domain %s key %s: %w", name, k.sel, err)
		}
		keys = append(keys, mailauth.Key{Domain: name, Selector: k.sel, Signer: signer})
	}
	if len(keys) == 0 {
		// Vouched for by the operator without keys.
		return msg, "", nil
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	signed, err := mailauth.Sign(msg, keys, now)
	if err != nil {
		return nil, "", fmt.Errorf("identity: sign for %s: %w", name, err)
	}
	return signed, name, nil
}

// ErrUnverified is returned (wrapped) for an identity the user has not
// proven; its text names the identity and is safe to show the client.
var ErrUnverified = errors.New("not a verified sender identity")

// Unverified is the error for one identity.
type Unverified struct {
	What, Address string // e.g. "envelope sender", "From"
	// Unshared is the address's domain when another user of the same
	// account has authenticated it and not shared it: the text then says
	// how to share it. Never set for another tenant's domain, whose
	// existence the text must not confirm.
	Unshared string
}

func (u *Unverified) Error() string {
	s := u.What + " <" + u.Address + "> is neither on a verified domain nor a verified sender of this API key's user"
	if u.Unshared != "" {
		s += ": " + u.Unshared + " belongs to another user of its account and is not shared" +
			" (postern domain share " + u.Unshared + " shares it within the account)"
	}
	return s
}

func (u *Unverified) Unwrap() error { return ErrUnverified }

// CheckAddress reports whether addr is on a domain the principal may send
// as (its user's, or shared within its account; verified or vouched for),
// or, when no other user has authenticated its domain, is a verified
// single sender of its user, or one shared within its account.
func (s *Signer) CheckAddress(ctx context.Context, p account.Principal, what, addr string) error {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return &Unverified{What: what, Address: addr}
	}
	d, err := lookupDomain(ctx, s.Store, strings.ToLower(addr[at+1:]))
	switch {
	case err == nil && d.UsableBy(p.User.ID, p.Account.ID):
		return nil
	case err == nil && d.Usable() && d.AccountID == p.Account.ID:
		// Another user of the account has it and has not shared it.
		return &Unverified{What: what, Address: addr, Unshared: d.Name}
	case err == nil && d.Usable():
		// Authenticated by another: the domain's rule alone decides.
		return &Unverified{What: what, Address: addr}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("identity: domain of %s: %w", what, err)
	}
	// Not an authenticated domain (looked up above): a verified single
	// sender will do, unless a domain above it is another's.
	if _, found, err := othersDomain(ctx, s.Store, p.User.ID, p.Account.ID, strings.ToLower(addr[at+1:]), false); err != nil {
		return fmt.Errorf("identity: domains above %s: %w", what, err)
	} else if found {
		return &Unverified{What: what, Address: addr}
	}
	senders, err := s.Store.SendersByAddress(ctx, addr)
	if err != nil {
		return fmt.Errorf("identity: sender %s: %w", what, err)
	}
	for _, sd := range senders {
		if sd.UsableBy(p.User.ID, p.Account.ID) {
			return nil
		}
	}
	return &Unverified{What: what, Address: addr}
}

// ErrOthersDomain is returned (wrapped, as *OthersDomain) for a single
// sender on a domain the requesting user may not send as.
var ErrOthersDomain = errors.New("the domain is authenticated by another user")

// OthersDomain is the refusal of a single sender on a domain another
// user has authenticated. Its text names the address and its domain, not
// the domain's owner.
type OthersDomain struct {
	Address, Domain string
}

func (e *OthersDomain) Error() string {
	return "a single sender " + e.Address + " is refused: its domain " + e.Domain +
		" is authenticated by another user (its owner can share the domain within its account instead)"
}

func (e *OthersDomain) Unwrap() error { return ErrOthersDomain }

// domainGetter is what CheckSingleSender needs of the store.
type domainGetter interface {
	Domain(ctx context.Context, name string) (store.Domain, error)
}

// CheckSingleSender decides whether u may ask for addr as a single
// sender, before the confirmation is mailed or the operator vouches for
// it: refused (*OthersDomain) when addr's domain is authenticated and u
// may not send as it, the rule CheckAddress applies when mail is sent.
func CheckSingleSender(ctx context.Context, domains domainGetter, u store.User, addr string) error {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return fmt.Errorf("identity: %q is not an email address", addr)
	}
	name := strings.ToLower(addr[at+1:])
	d, found, err := othersDomain(ctx, domains, u.ID, u.AccountID(), name, true)
	if err != nil {
		return fmt.Errorf("identity: domain of sender %s: %w", addr, err)
	}
	if found {
		return &OthersDomain{Address: strings.ToLower(addr), Domain: d.Name}
	}
	return nil
}

// othersDomain finds an authenticated domain at (when self) or above
// name, up to its registrable domain (the public suffix list's eTLD+1),
// that the user may not send as: a single sender on it, or on any name
// below it, would let one tenant send as another's domain.
func othersDomain(ctx context.Context, domains domainGetter, userID, accountID int64, name string, self bool) (store.Domain, bool, error) {
	top, err := publicsuffix.EffectiveTLDPlusOne(name)
	if err != nil {
		top = name
	}
	for n := name; ; {
		if self || n != name {
			d, err := lookupDomain(ctx, domains, n)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return store.Domain{}, false, err
			case d.Usable() && !d.UsableBy(userID, accountID):
				return d, true, nil
			}
		}
		dot := strings.IndexByte(n, '.')
		if n == top || dot < 0 {
			return store.Domain{}, false, nil
		}
		n = n[dot+1:]
	}
}

// CheckHeaders enforces the message's author identities: exactly one From
// address, and it and any Sender on the user's verified domains. h is the
// message's parsed header.
func (s *Signer) CheckHeaders(ctx context.Context, p account.Principal, h message.Header) error {
	froms := h.Values("From")
	var addrs []*mail.Address
	if len(froms) == 1 {
		addrs, _ = mail.ParseAddressList(froms[0])
	}
	if len(addrs) != 1 {
		return ErrOneFrom
	}
	if err := s.CheckAddress(ctx, p, "From", addrs[0].Address); err != nil {
		return err
	}
	for _, v := range h.Values("Sender") {
		a, err := mail.ParseAddress(v)
		if err != nil {
			return &Unverified{What: "Sender", Address: "unparseable"}
		}
		if err := s.CheckAddress(ctx, p, "Sender", a.Address); err != nil {
			return err
		}
	}
	return nil
}

// ErrOneFrom: the message must have exactly one From field with one address.
var ErrOneFrom = errors.New("the message must have exactly one From address")
