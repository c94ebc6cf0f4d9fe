package admin

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/store"
)

// The scopes of domain authentication (SendGrid's "whitelabel"); single
// senders use them too, as SendGrid's description names no scope of
// their own.
const (
	scopeWhitelabelCreate = "whitelabel.create"
	scopeWhitelabelRead   = "whitelabel.read"
	scopeWhitelabelUpdate = "whitelabel.update"
	scopeWhitelabelDelete = "whitelabel.delete"
)

// Domain is a sending domain as the operations show it: its state, its
// selectors and the records to publish, never its private keys.
type Domain struct {
	ID     int64
	Name   string
	UserID int64
	User   string // the owner's name
	State  store.DomainState
	// Shared: every user of the owner's account may send as it.
	Shared bool
	// ReturnPath: the MX of ReturnPathHost, the domain's return-path
	// subdomain, was found.
	ReturnPath     bool
	ReturnPathHost string
	RSASelector    string
	EdSelector     string
	// BroughtKey is the kind of the key its owner brought (store.KeyRSA
	// or store.KeyEd25519), "" when Postern made both; the generated
	// companion signs once its record is found (CompanionPublished).
	BroughtKey         string
	CompanionPublished bool
	// The selectors of a rotation in progress, "" when there is none.
	NextRSASelector string
	NextEdSelector  string
	CreatedAt       time.Time
	VerifiedAt      time.Time
	// Records are what to publish for the current keys; NextRecords the
	// DKIM records of a rotation in progress.
	Records     []domain.Record
	NextRecords []domain.Record
	// Events is the domain's history, oldest first: ShowDomain's alone.
	Events []store.DomainEvent
}

// Usable reports whether mail from the domain is signed: verified in
// DNS, or vouched for by the operator.
func (d Domain) Usable() bool {
	return d.State == store.DomainVerified || d.State == store.DomainTrusted
}

// Rotating reports whether a rotation waits for its records.
func (d Domain) Rotating() bool { return d.NextRSASelector != "" }

// DomainRef names a domain by its ID (the API's) or its name (the
// CLI's); the ID wins when both are set.
type DomainRef struct {
	ID   int64
	Name string
}

func (r DomainRef) String() string {
	if r.ID != 0 {
		return fmt.Sprintf("#%d", r.ID)
	}
	return r.Name
}

// NewDomain is what AddDomain makes.
type NewDomain struct {
	Name string
	// User owns the domain: "" for the Actor's user. A key names its own
	// user, or, for an account acting for itself, one of its subusers
	// (SendGrid's username).
	User string
	// Shared: every user of the owner's account may send as it.
	Shared bool
	// Key is a DKIM private key the owner brings (PEM: PKCS#1 or PKCS#8
	// RSA, PKCS#8 Ed25519), published at Selector. Its record alone
	// verifies the domain; Postern generates the other kind beside it,
	// which signs once its record is found. Nil: Postern generates both.
	Key      []byte
	Selector string
	// CustomSelector names generated keys (SendGrid's
	// custom_dkim_selector): the RSA key's selector, and with "2"
	// appended the Ed25519 key's. "": Postern's monthly names.
	CustomSelector string
}

// AddDomain adds a sending domain, pending until its records are
// published, and returns it with the records to publish.
func (s *Service) AddDomain(ctx context.Context, a Actor, req NewDomain) (Domain, error) {
	if err := a.need(scopeWhitelabelCreate); err != nil {
		return Domain{}, err
	}
	name, err := domain.CheckName(req.Name)
	if err != nil {
		return Domain{}, Invalid("domain", "%s", err.Error())
	}
	owner, err := s.identityOwner(ctx, a, req.User)
	if err != nil {
		return Domain{}, err
	}
	now := s.now()
	d := store.Domain{Name: name, UserID: owner.ID, State: store.DomainPending, CreatedAt: now, Shared: req.Shared}
	if err := s.domainKeys(&d, req, now); err != nil {
		return Domain{}, err
	}
	detail := "for " + owner.Name
	if req.Shared {
		detail += ", shared within the account"
	}
	detail += "; selectors " + d.RSASelector + ", " + d.EdSelector
	if d.BroughtKey != "" {
		detail += "; the " + d.BroughtKey + " key was brought by its owner"
	}
	id, err := s.Store.CreateDomain(ctx, d, []store.DomainEvent{{Domain: name, Type: store.DomainEventAdded, Detail: detail, At: now}})
	switch {
	case errors.Is(err, store.ErrExists):
		return Domain{}, fmt.Errorf("%w: domain %q", ErrConflict, name)
	case err != nil:
		return Domain{}, fmt.Errorf("admin: add domain %s: %w", name, err)
	}
	return s.domainByID(ctx, id)
}

// domainKeys gives d its keys and selectors: the brought key and a
// generated companion, or two generated keys.
func (s *Service) domainKeys(d *store.Domain, req NewDomain, now time.Time) error {
	rsaKey, edKey, err := domain.GenerateKeys(s.identityRand())
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	rsaSel, edSel := domain.SelectorNames(now)
	var rsaSigner, edSigner crypto.Signer = rsaKey, edKey
	switch {
	case req.Key != nil && req.CustomSelector != "":
		return Invalid("custom_dkim_selector", "names generated keys; a brought key has its own selector")
	case req.Key != nil:
		sel, err := domain.CheckSelector(req.Selector)
		if err != nil {
			return Invalid("selector", "%s", err.Error())
		}
		k, err := domain.ParsePrivateKey(req.Key)
		if err != nil {
			return Invalid("key", "%s", strings.TrimPrefix(err.Error(), "domain: "))
		}
		kind, err := domain.KindOf(k)
		if err != nil {
			return Invalid("key", "%s", strings.TrimPrefix(err.Error(), "domain: "))
		}
		if kind == domain.KeyRSA {
			rsaSigner, rsaSel, d.BroughtKey = k, sel, store.KeyRSA
		} else {
			edSigner, edSel, d.BroughtKey = k, sel, store.KeyEd25519
		}
		if rsaSel == edSel {
			// The companion's monthly name is the brought selector.
			if kind == domain.KeyRSA {
				edSel += "x"
			} else {
				rsaSel += "x"
			}
		}
	case req.CustomSelector != "":
		sel, err := domain.CheckSelector(req.CustomSelector)
		if err != nil || strings.Contains(sel, ".") {
			return Invalid("custom_dkim_selector", "must be one DNS label: letters, digits and hyphens")
		}
		rsaSel, edSel = sel, sel+"2"
	}
	if d.RSAKey, err = domain.MarshalPrivateKey(rsaSigner); err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	if d.EdKey, err = domain.MarshalPrivateKey(edSigner); err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	d.RSASelector, d.EdSelector = rsaSel, edSel
	return nil
}

// DomainFilter selects domains for ListDomains.
type DomainFilter struct {
	// User: only this user's. For the operator "" is everyone's; a key
	// lists its own user's alone, and nothing for another name.
	User string
	// Search: only names holding this text (SendGrid's domain).
	Search string
	// Limit (0: all) and Offset page the list, ordered by name.
	Limit, Offset int
}

// ListDomains lists domains by name.
func (s *Service) ListDomains(ctx context.Context, a Actor, f DomainFilter) ([]Domain, error) {
	if err := a.need(scopeWhitelabelRead); err != nil {
		return nil, err
	}
	user, none, err := s.listUser(ctx, a, f.User)
	if err != nil || none {
		return nil, err
	}
	list, err := s.Store.Domains(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("admin: list domains: %w", err)
	}
	var out []Domain
	for _, d := range list {
		if a.reaches(d.UserID) && strings.Contains(d.Name, strings.ToLower(f.Search)) {
			out = append(out, s.domainView(d))
		}
	}
	return identityPage(out, f.Limit, f.Offset), nil
}

// ShowDomain returns a domain with its history.
func (s *Service) ShowDomain(ctx context.Context, a Actor, ref DomainRef) (Domain, error) {
	if err := a.need(scopeWhitelabelRead); err != nil {
		return Domain{}, err
	}
	d, err := s.domainFor(ctx, a, ref)
	if err != nil {
		return Domain{}, err
	}
	view := s.domainView(d)
	if view.Events, err = s.Store.DomainEvents(ctx, d.Name); err != nil {
		return Domain{}, fmt.Errorf("admin: domain %s: %w", d.Name, err)
	}
	return view, nil
}

// ShareDomain lets every user of the owner's account send as the domain
// (shared false: only the owner again). It returns the domain and the
// history line that says so.
func (s *Service) ShareDomain(ctx context.Context, a Actor, ref DomainRef, shared bool) (Domain, string, error) {
	if err := a.need(scopeWhitelabelUpdate); err != nil {
		return Domain{}, "", err
	}
	d, err := s.domainFor(ctx, a, ref)
	if err != nil {
		return Domain{}, "", err
	}
	typ, detail := store.DomainEventShared, "every user of the owner's account may send as it"
	if !shared {
		typ, detail = store.DomainEventUnshared, "only "+d.UserName+" may send as it"
	}
	if err := s.Store.ChangeDomain(ctx, d.Name, store.DomainChange{Shared: &shared,
		Events: []store.DomainEvent{{Domain: d.Name, Type: typ, Detail: detail, At: s.now()}}}); err != nil {
		return Domain{}, "", fmt.Errorf("admin: share domain %s: %w", d.Name, err)
	}
	view, err := s.domainByID(ctx, d.ID)
	return view, detail, err
}

// RotateDKIM makes new keys for the domain; signing switches to them once
// their records verify (VerifyDomain). The result's NextRecords are
// what to publish beside the current records.
func (s *Service) RotateDKIM(ctx context.Context, a Actor, ref DomainRef) (Domain, error) {
	if err := a.need(scopeWhitelabelUpdate); err != nil {
		return Domain{}, err
	}
	d, err := s.domainFor(ctx, a, ref)
	if err != nil {
		return Domain{}, err
	}
	rsaKey, edKey, err := domain.GenerateKeys(s.identityRand())
	if err != nil {
		return Domain{}, fmt.Errorf("admin: %w", err)
	}
	rsaSel, edSel := domain.SelectorNames(s.now())
	for rsaSel == d.RSASelector || edSel == d.EdSelector || rsaSel == d.NextRSASelector || rsaSel == d.EdSelector || edSel == d.RSASelector {
		// A second rotation within a month: make the names new all the same.
		rsaSel, edSel = rsaSel+"x", edSel+"x"
	}
	next := store.DomainKeys{RSASelector: rsaSel, EdSelector: edSel}
	if next.RSAKey, err = domain.MarshalPrivateKey(rsaKey); err != nil {
		return Domain{}, fmt.Errorf("admin: %w", err)
	}
	if next.EdKey, err = domain.MarshalPrivateKey(edKey); err != nil {
		return Domain{}, fmt.Errorf("admin: %w", err)
	}
	if err := s.Store.ChangeDomain(ctx, d.Name, store.DomainChange{Next: &next}); err != nil {
		return Domain{}, fmt.Errorf("admin: rotate %s: %w", d.Name, err)
	}
	return s.domainByID(ctx, d.ID)
}

// DeleteDomain removes the domain and its history: mail from it is
// refused from then on, unless another of the user's identities covers
// it.
func (s *Service) DeleteDomain(ctx context.Context, a Actor, ref DomainRef) error {
	if err := a.need(scopeWhitelabelDelete); err != nil {
		return err
	}
	d, err := s.domainFor(ctx, a, ref)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteDomain(ctx, d.Name); err != nil {
		return identityErr(err, "domain", d.Name)
	}
	return nil
}

// domainFor loads the domain ref names, if the Actor reaches it: another
// tenant's is ErrNotFound, as a missing one.
func (s *Service) domainFor(ctx context.Context, a Actor, ref DomainRef) (store.Domain, error) {
	var (
		d   store.Domain
		err error
	)
	switch {
	case ref.ID != 0:
		d, err = s.Store.DomainByID(ctx, ref.ID)
	case ref.Name != "":
		d, err = s.Store.Domain(ctx, ref.Name)
	default:
		return store.Domain{}, fmt.Errorf("%w: no domain named", ErrNotFound)
	}
	if err != nil {
		return store.Domain{}, identityErr(err, "domain", ref.String())
	}
	if !a.reaches(d.UserID) {
		return store.Domain{}, fmt.Errorf("%w: domain %q", ErrNotFound, ref.String())
	}
	return d, nil
}

// domainByID returns the view of a domain just written.
func (s *Service) domainByID(ctx context.Context, id int64) (Domain, error) {
	d, err := s.Store.DomainByID(ctx, id)
	if err != nil {
		return Domain{}, fmt.Errorf("admin: domain #%d: %w", id, err)
	}
	return s.domainView(d), nil
}

// domainView is d as the operations show it.
func (s *Service) domainView(d store.Domain) Domain {
	cfg := domain.ConfigOf(s.Config)
	label := cfg.ReturnPathLabel
	if label == "" {
		label = domain.DefaultReturnPathLabel
	}
	v := Domain{ID: d.ID, Name: d.Name, UserID: d.UserID, User: d.UserName, State: d.State, Shared: d.Shared,
		ReturnPath: d.ReturnPath, ReturnPathHost: label + "." + d.Name, RSASelector: d.RSASelector, EdSelector: d.EdSelector,
		BroughtKey: d.BroughtKey, CompanionPublished: d.CompanionPublished, NextRSASelector: d.NextRSASelector,
		NextEdSelector: d.NextEdSelector, CreatedAt: d.CreatedAt, VerifiedAt: d.VerifiedAt,
		Records: identity.Records(d, cfg)}
	if d.NextRSASelector != "" {
		v.NextRecords = requiredOnly(identity.Records(nextKeys(d), cfg))
	}
	return v
}

// nextKeys is d with a rotation's keys in place of the current ones.
func nextKeys(d store.Domain) store.Domain {
	next := d
	next.RSASelector, next.RSAKey, next.EdSelector, next.EdKey = d.NextRSASelector, d.NextRSAKey, d.NextEdSelector, d.NextEdKey
	next.BroughtKey, next.CompanionPublished = "", false
	return next
}

// requiredOnly keeps the required records: a rotation's DKIM keys.
func requiredOnly(recs []domain.Record) []domain.Record {
	var out []domain.Record
	for _, r := range recs {
		if r.Required {
			out = append(out, r)
		}
	}
	return out
}

// identityOwner is the user a new domain or sender is for: name, or the
// Actor's user when name is "". The operator names anyone; a key its own
// user or, as an account acting for itself, one of its subusers; any
// other name is refused alike whether it exists or not.
func (s *Service) identityOwner(ctx context.Context, a Actor, name string) (store.User, error) {
	switch {
	case name == "" && a.User.ID == 0:
		return store.User{}, Invalid("username", "name the user it is for")
	case name == "" || name == a.User.Name:
		return a.User, nil
	}
	u, err := s.Store.UserByName(ctx, name)
	if a.Operator {
		if err != nil {
			return store.User{}, identityErr(err, "user", name)
		}
		return u, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("admin: user %q: %w", name, err)
	}
	if err != nil || a.User.ParentID != 0 || u.ParentID != a.User.ID {
		return store.User{}, Invalid("username", "not a user this API key acts for")
	}
	return u, nil
}

// identityErr turns the store's not-found and exists into the operations'.
func identityErr(err error, what, name string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %s %q", ErrNotFound, what, name)
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("%w: %s %q", ErrConflict, what, name)
	}
	return fmt.Errorf("admin: %s %q: %w", what, name, err)
}

// identityPage returns the part of list that limit (0: all) and offset select.
func identityPage[T any](list []T, limit, offset int) []T {
	if offset >= len(list) {
		return nil
	}
	list = list[offset:]
	if limit > 0 && limit < len(list) {
		list = list[:limit]
	}
	return list
}

// identityRand is the randomness of keys and codes.
func (s *Service) identityRand() io.Reader {
	if s.Rand != nil {
		return s.Rand
	}
	return rand.Reader
}

// VerifyOptions are VerifyDomain's choices.
type VerifyOptions struct {
	// Trust: the operator vouches for the domain without DNS (signing
	// still needs its keys); TrustReturnPath: its return-path MX too.
	// The operator's alone.
	Trust, TrustReturnPath bool
}

// Verification is what VerifyDomain found and did.
type Verification struct {
	// Domain is the domain after the verification; Before, as it was.
	Domain, Before Domain
	// Checks are the lookups of its records: a rotation's DKIM records
	// while one is in progress (Rotation), else every record. None for
	// Trust.
	Checks   []domain.Check
	Rotation bool
	// Verified: every required record was found (Trust: vouched for). For
	// a rotation, signing has switched to the new keys.
	Verified bool
	// Companion is the check of a brought key's companion; nil when the
	// domain has none or was not looked up.
	Companion *domain.Check
}

// VerifyDomain looks the domain's records up in DNS and, when the
// required ones are there, marks it verified, with what it found of the
// return-path MX and of a brought key's companion: one transaction with
// the events that tell it. A domain whose records are not all there is
// left as it was, and the result says what is missing; that is no error.
// During a rotation it checks the new keys' records instead and, once
// they are there, switches signing to them.
func (s *Service) VerifyDomain(ctx context.Context, a Actor, ref DomainRef, opts VerifyOptions) (Verification, error) {
	if err := a.need(scopeWhitelabelUpdate); err != nil {
		return Verification{}, err
	}
	if (opts.Trust || opts.TrustReturnPath) && !a.Operator {
		return Verification{}, fmt.Errorf("%w: only the operator vouches for a domain", ErrForbidden)
	}
	if opts.TrustReturnPath && !opts.Trust {
		return Verification{}, Invalid("return_path", "vouching for the return path goes with vouching for the domain")
	}
	d, err := s.domainFor(ctx, a, ref)
	if err != nil {
		return Verification{}, err
	}
	v := Verification{Before: s.domainView(d)}
	now := s.now()
	var ch store.DomainChange
	switch {
	case opts.Trust:
		detail := "vouched for by the operator, without DNS"
		if opts.TrustReturnPath {
			detail += ", its return-path MX too"
		}
		rp := opts.TrustReturnPath
		ch = store.DomainChange{State: store.DomainTrusted, At: now, ReturnPath: &rp,
			Events: []store.DomainEvent{{Domain: d.Name, Type: store.DomainEventTrusted, Detail: detail, At: now}}}
		v.Verified = true
	case d.NextRSASelector != "":
		if s.Resolver == nil {
			return Verification{}, errors.New("admin: verify domain: no resolver")
		}
		v.Rotation = true
		v.Checks, v.Verified = domain.Verify(ctx, s.Resolver, d.Name, v.Before.NextRecords)
		if v.Verified {
			ch = store.DomainChange{Promote: true, At: now, Events: []store.DomainEvent{{Domain: d.Name, Type: store.DomainEventRotated,
				Detail: "signing switched from " + d.RSASelector + ", " + d.EdSelector + " to " + d.NextRSASelector + ", " + d.NextEdSelector, At: now}}}
		}
	default:
		if s.Resolver == nil {
			return Verification{}, errors.New("admin: verify domain: no resolver")
		}
		v.Checks, v.Verified = domain.Verify(ctx, s.Resolver, d.Name, v.Before.Records)
		if c, ok := identity.CompanionCheck(d, v.Checks); ok {
			v.Companion = &c
		}
		if v.Verified {
			ch = verifiedChange(d, v, now)
		}
	}
	if !v.Verified {
		v.Domain = v.Before
		return v, nil
	}
	if err := s.Store.ChangeDomain(ctx, d.Name, ch); err != nil {
		return Verification{}, fmt.Errorf("admin: verify domain %s: %w", d.Name, err)
	}
	if v.Domain, err = s.domainByID(ctx, d.ID); err != nil {
		return Verification{}, err
	}
	return v, nil
}

// verifiedChange is the change of a domain whose records verified: its
// state, the return path and companion found or not, and the events of
// what changed.
func verifiedChange(d store.Domain, v Verification, now time.Time) store.DomainChange {
	rp := identity.ReturnPathPublished(v.Checks)
	ch := store.DomainChange{State: store.DomainVerified, At: now, ReturnPath: &rp}
	if d.State != store.DomainVerified {
		ch.Events = append(ch.Events, store.DomainEvent{Domain: d.Name, Type: store.DomainEventVerified, Detail: "DKIM records found in DNS", At: now})
	}
	if v.Companion != nil {
		found := v.Companion.OK
		ch.CompanionPublished = &found
		if found != d.CompanionPublished {
			ch.Events = append(ch.Events, store.DomainEvent{Domain: d.Name, Type: store.DomainEventCompanion,
				Detail: identity.CompanionDetail(d, found), At: now})
		}
	}
	return ch
}

// listUser is whose objects a list shows: for a key, its own user's (a
// filter naming anyone else shows nothing, none is true); for the
// operator, the user named (which must exist) or everyone's ("").
func (s *Service) listUser(ctx context.Context, a Actor, name string) (user string, none bool, err error) {
	if !a.Operator {
		if name != "" && name != a.User.Name {
			return "", true, nil
		}
		return a.User.Name, false, nil
	}
	if name != "" {
		if _, err := s.Store.UserByName(ctx, name); err != nil {
			return "", false, identityErr(err, "user", name)
		}
	}
	return name, false, nil
}
