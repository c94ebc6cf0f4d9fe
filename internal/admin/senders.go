package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/mailaddr"
	"github.com/postern/postern/internal/sendercode"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
)

// Sender is a single sender as the operations show it: never its code.
type Sender struct {
	ID      int64
	Address string
	UserID  int64
	User    string // the owner's name
	// Verified by its confirmation mail, or ByOperator without one.
	Verified   bool
	ByOperator bool
	// Shared: every user of the owner's account may send as it.
	Shared bool
	// ExpiresAt is when a pending sender's code expires.
	ExpiresAt  time.Time
	CreatedAt  time.Time
	VerifiedAt time.Time
	// SendGrid's profile of the sender, kept for its users.
	Nickname    string
	FromName    string
	ReplyTo     string
	ReplyToName string
}

// SenderRef names a single sender: by its ID (the API's), or by its
// owner's name and its address (the CLI's); the ID wins when set.
type SenderRef struct {
	ID      int64
	User    string
	Address string
}

func (r SenderRef) String() string {
	if r.ID != 0 {
		return fmt.Sprintf("#%d", r.ID)
	}
	return r.Address
}

// NewSender is what AddSender makes.
type NewSender struct {
	Address string
	// User owns it: "" for the Actor's user (as NewDomain.User).
	User string
	// Vouch: the operator vouches for the address, verified without a
	// confirmation mail. The operator's alone.
	Vouch bool
	// SendGrid's profile: optional, at most MaxProfileLen bytes each;
	// ReplyTo, when set, must be an address.
	Nickname    string
	FromName    string
	ReplyTo     string
	ReplyToName string
}

// MaxProfileLen bounds each of a sender's profile fields (SendGrid's
// longest, 256).
const MaxProfileLen = 256

// SenderMail is a sender and the confirmation mailed to it.
type SenderMail struct {
	Sender Sender
	// MessageID is the confirmation's queue id; "" when the operator
	// vouched for the sender.
	MessageID string
}

// AddSender adds a single sender for the owner and mails the address a
// confirmation code through the funnel's door for Postern's own mail
// (submit.Notices); with Vouch it is verified at once, and nothing is
// mailed. An address on a domain another tenant has authenticated is
// refused (identity.CheckSingleSender), and so is one the owner has
// verified already (ErrConflict); a pending one gets a new code.
//
// The sender is stored before its mail is queued, in two steps: if
// queuing fails, the sender waits, pending, for ResendSender.
func (s *Service) AddSender(ctx context.Context, a Actor, req NewSender) (SenderMail, error) {
	if err := a.need(scopeWhitelabelCreate); err != nil {
		return SenderMail{}, err
	}
	if req.Vouch && !a.Operator {
		return SenderMail{}, fmt.Errorf("%w: only the operator vouches for a sender", ErrForbidden)
	}
	addr, err := senderAddress("from_email", req.Address)
	if err != nil {
		return SenderMail{}, err
	}
	if err := checkProfile(&req); err != nil {
		return SenderMail{}, err
	}
	owner, err := s.identityOwner(ctx, a, req.User)
	if err != nil {
		return SenderMail{}, err
	}
	// On a domain another tenant has authenticated, no single sender:
	// neither mailed nor vouched for.
	if err := identity.CheckSingleSender(ctx, s.Store, owner, addr); err != nil {
		var others *identity.OthersDomain
		if errors.As(err, &others) {
			return SenderMail{}, Invalid("from_email", "%s", err.Error())
		}
		return SenderMail{}, fmt.Errorf("admin: add sender: %w", err)
	}
	old, err := s.senderOf(ctx, owner.ID, addr)
	switch {
	case err == nil && old.Verified && !req.Vouch:
		return SenderMail{}, fmt.Errorf("%w: %s is a verified sender of %s already", ErrConflict, addr, owner.Name)
	case err != nil && !errors.Is(err, ErrNotFound):
		return SenderMail{}, err
	}
	now := s.now()
	if err == nil && !req.Vouch {
		if err := s.confirmAgainAt(a, old.Address, old.ExpiresAt, now); err != nil {
			return SenderMail{}, err
		}
	}
	sd := store.Sender{Address: addr, UserID: owner.ID, CreatedAt: now, Nickname: req.Nickname, FromName: req.FromName,
		ReplyTo: req.ReplyTo, ReplyToName: req.ReplyToName}
	if req.Vouch {
		sd.Verified, sd.ByOperator, sd.VerifiedAt = true, true, now
		if err := s.Store.AddSender(ctx, sd); err != nil {
			return SenderMail{}, fmt.Errorf("admin: add sender %s: %w", addr, err)
		}
		view, err := s.senderOf(ctx, owner.ID, addr)
		return SenderMail{Sender: view}, err
	}
	return s.mailCode(ctx, owner, sd, now)
}

// ResendSender mails a pending sender a new code; the old one no longer
// confirms anything.
func (s *Service) ResendSender(ctx context.Context, a Actor, ref SenderRef) (SenderMail, error) {
	if err := a.need(scopeWhitelabelUpdate); err != nil {
		return SenderMail{}, err
	}
	sd, err := s.senderFor(ctx, a, ref)
	if err != nil {
		return SenderMail{}, err
	}
	if sd.Verified {
		return SenderMail{}, Invalid("id", "the sender is verified already")
	}
	if err := s.confirmAgainAt(a, sd.Address, sd.ExpiresAt, s.now()); err != nil {
		return SenderMail{}, err
	}
	owner, _, err := s.userAndAccount(ctx, sd.UserName)
	if err != nil {
		return SenderMail{}, err
	}
	// The domain may have been authenticated by another since.
	if err := identity.CheckSingleSender(ctx, s.Store, owner, sd.Address); err != nil {
		var others *identity.OthersDomain
		if errors.As(err, &others) {
			return SenderMail{}, Invalid("from_email", "%s", err.Error())
		}
		return SenderMail{}, fmt.Errorf("admin: resend sender: %w", err)
	}
	return s.mailCode(ctx, owner, store.Sender{Address: sd.Address, UserID: sd.UserID, CreatedAt: sd.CreatedAt}, s.now())
}

// confirmAgainAt refuses, with ErrTooSoon, a key's new confirmation of a
// pending sender whose last one went out less than
// domains.sender_resend_interval ago: without the bound a tenant could
// make Postern mail any address as often as it liked. The operator is not
// bound by it. expires is the pending code's expiry, TTL after it was
// mailed.
func (s *Service) confirmAgainAt(a Actor, addr string, expires, now time.Time) error {
	every := s.Config.Domains.SenderResendInterval.Duration
	if a.Operator || expires.IsZero() || every <= 0 {
		return nil
	}
	next := expires.Add(-sendercode.TTL).Add(every)
	if now.Before(next) {
		return fmt.Errorf("%w: a confirmation went to %s less than %s ago; try again after %s",
			ErrTooSoon, addr, every, next.UTC().Format(time.RFC3339))
	}
	return nil
}

// mailCode stores sd pending with a new code and mails the code.
func (s *Service) mailCode(ctx context.Context, owner store.User, sd store.Sender, now time.Time) (SenderMail, error) {
	if s.Queue == nil {
		return SenderMail{}, errors.New("admin: sender confirmation: no queue")
	}
	code, err := sendercode.New(s.identityRand())
	if err != nil {
		return SenderMail{}, fmt.Errorf("admin: %w", err)
	}
	expires := now.Add(sendercode.TTL)
	sd.CodeHash, sd.ExpiresAt = sendercode.Hash(code), expires
	if err := s.Store.AddSender(ctx, sd); err != nil {
		return SenderMail{}, fmt.Errorf("admin: add sender %s: %w", sd.Address, err)
	}
	host := s.Config.Hostname
	body := confirmationMail(host, sd.Address, owner, s.Config.PublicURL(), code, expires)
	// Through the funnel's door for Postern's own mail, from the null
	// sender: a confirmation that cannot be delivered bounces to no one.
	notices := submit.Notices{Hostname: host, Queue: s.Queue, Now: func() time.Time { return now }, Rand: s.Rand}
	id, err := notices.Send(ctx, submit.Notice{UserID: owner.ID, To: sd.Address, Body: []byte(body)})
	if err != nil {
		return SenderMail{}, fmt.Errorf("admin: sender confirmation: %w", err)
	}
	view, err := s.senderOf(ctx, owner.ID, sd.Address)
	return SenderMail{Sender: view, MessageID: id}, err
}

// confirmationMail is the message that asks addr to confirm that u may
// send as it. It names the account that asked (and, for a subuser, its
// account), so that whoever reads the mailbox knows whom they would let
// send as them. User names are letters, digits and a few marks
// (account.ValidUserName), safe in a mail body; addr passed
// senderAddress.
func confirmationMail(host, addr string, u store.User, publicURL, code string, expires time.Time) string {
	requester := "account " + u.Name
	if u.ParentName != "" {
		requester += " (a subuser of " + u.ParentName + ")"
	}
	return fmt.Sprintf("From: Postern <no-reply@%s>\r\nTo: <%s>\r\nSubject: Confirm your sender address\r\n"+
		"Auto-Submitted: auto-generated\r\n\r\n"+
		"Someone asked to send mail as %s through %s:\r\n\r\n"+
		"    requested by %s\r\n\r\n"+
		"Confirming lets that account send mail as %s.\r\n\r\n"+
		"If it was you, open this link; the page asks you to click a button\r\n"+
		"to confirm:\r\n\r\n    %s/verify?code=%s\r\n\r\n"+
		"Or give this code to the operator, or run on the server:\r\n\r\n    postern sender confirm %s\r\n\r\n"+
		"The code expires at %s. If it was not you, ignore this message.\r\n",
		host, addr, addr, host, requester, addr, publicURL, code, code, expires.UTC().Format(time.RFC3339))
}

// ErrUnknownCode is a confirmation code that confirms nothing
// (malformed, unknown, expired or used); the cases are not told apart.
// It is an ErrNotFound.
var ErrUnknownCode = fmt.Errorf("%w: unknown or expired code", ErrNotFound)

// ConfirmSender verifies the pending sender whose code this is. It is
// the operator's, for a code the mailbox's holder handed over; the
// holder redeems it on the /verify page.
func (s *Service) ConfirmSender(ctx context.Context, a Actor, code string) (Sender, error) {
	if !a.Operator {
		return Sender{}, fmt.Errorf("%w: codes are confirmed by the operator or on the /verify page", ErrForbidden)
	}
	sd, err := sendercode.Confirm(ctx, s.Store, code, s.now())
	switch {
	case errors.Is(err, sendercode.ErrUnknownCode):
		return Sender{}, ErrUnknownCode
	case err != nil:
		return Sender{}, fmt.Errorf("admin: confirm sender: %w", err)
	}
	return senderView(sd), nil
}

// SenderFilter selects senders for ListSenders.
type SenderFilter struct {
	// User: only this user's. For the operator "" is everyone's; a key
	// lists its own user's alone.
	User string
}

// ListSenders lists single senders by address, pending and verified.
func (s *Service) ListSenders(ctx context.Context, a Actor, f SenderFilter) ([]Sender, error) {
	if err := a.need(scopeWhitelabelRead); err != nil {
		return nil, err
	}
	user, none, err := s.listUser(ctx, a, f.User)
	if err != nil || none {
		return nil, err
	}
	list, err := s.Store.Senders(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("admin: list senders: %w", err)
	}
	var out []Sender
	for _, sd := range list {
		if a.reaches(sd.UserID) {
			out = append(out, senderView(sd))
		}
	}
	return out, nil
}

// DeleteSender removes a single sender: mail from it is refused from
// then on, unless another of the user's identities covers it.
func (s *Service) DeleteSender(ctx context.Context, a Actor, ref SenderRef) error {
	if err := a.need(scopeWhitelabelDelete); err != nil {
		return err
	}
	sd, err := s.senderFor(ctx, a, ref)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteSender(ctx, sd.UserID, sd.Address); err != nil {
		return identityErr(err, "sender", sd.Address)
	}
	return nil
}

// ShareSender lets every user of the owner's account send as the sender
// (shared false: only the owner again), as ShareDomain does for a
// domain.
func (s *Service) ShareSender(ctx context.Context, a Actor, ref SenderRef, shared bool) (Sender, error) {
	if err := a.need(scopeWhitelabelUpdate); err != nil {
		return Sender{}, err
	}
	sd, err := s.senderFor(ctx, a, ref)
	if err != nil {
		return Sender{}, err
	}
	if err := s.Store.SetSenderShared(ctx, sd.UserID, sd.Address, shared); err != nil {
		return Sender{}, identityErr(err, "sender", sd.Address)
	}
	return s.senderOf(ctx, sd.UserID, sd.Address)
}

// senderFor loads the sender ref names, if the Actor reaches it: another
// tenant's is ErrNotFound, as a missing one.
func (s *Service) senderFor(ctx context.Context, a Actor, ref SenderRef) (store.Sender, error) {
	if ref.ID != 0 {
		sd, err := s.Store.SenderByID(ctx, ref.ID)
		if err != nil {
			return store.Sender{}, identityErr(err, "sender", ref.String())
		}
		if !a.reaches(sd.UserID) {
			return store.Sender{}, fmt.Errorf("%w: sender %s", ErrNotFound, ref)
		}
		return sd, nil
	}
	owner := a.User
	if ref.User != "" && ref.User != a.User.Name {
		if !a.Operator {
			return store.Sender{}, fmt.Errorf("%w: sender %s", ErrNotFound, ref)
		}
		u, err := s.Store.UserByName(ctx, ref.User)
		if err != nil {
			return store.Sender{}, identityErr(err, "user", ref.User)
		}
		owner = u
	}
	list, err := s.Store.SendersByAddress(ctx, ref.Address)
	if err != nil {
		return store.Sender{}, fmt.Errorf("admin: sender %s: %w", ref, err)
	}
	for _, sd := range list {
		if sd.UserID == owner.ID && a.reaches(sd.UserID) {
			return sd, nil
		}
	}
	return store.Sender{}, fmt.Errorf("%w: sender %s", ErrNotFound, ref)
}

// senderOf returns the view of the user's sender of addr.
func (s *Service) senderOf(ctx context.Context, userID int64, addr string) (Sender, error) {
	list, err := s.Store.SendersByAddress(ctx, addr)
	if err != nil {
		return Sender{}, fmt.Errorf("admin: sender %s: %w", addr, err)
	}
	for _, sd := range list {
		if sd.UserID == userID {
			return senderView(sd), nil
		}
	}
	return Sender{}, fmt.Errorf("%w: sender %s", ErrNotFound, addr)
}

func senderView(sd store.Sender) Sender {
	return Sender{ID: sd.ID, Address: sd.Address, UserID: sd.UserID, User: sd.UserName, Verified: sd.Verified,
		ByOperator: sd.ByOperator, Shared: sd.Shared, ExpiresAt: sd.ExpiresAt, CreatedAt: sd.CreatedAt, VerifiedAt: sd.VerifiedAt,
		Nickname: sd.Nickname, FromName: sd.FromName, ReplyTo: sd.ReplyTo, ReplyToName: sd.ReplyToName}
}

// senderAddress checks an address given for field and returns it lower
// case: an RFC 5321 mailbox (mailaddr) with nothing a mail header could
// take for its end (space, angle brackets, line breaks).
func senderAddress(field, addr string) (string, error) {
	a := strings.ToLower(addr)
	if at := strings.LastIndexByte(a, '@'); at <= 0 || at == len(a)-1 || strings.ContainsAny(a, " <>\r\n") || !mailaddr.Valid(a) {
		return "", Invalid(field, "%q is not an email address", addr)
	}
	return a, nil
}

// checkProfile bounds a new sender's profile and checks its reply-to
// address.
func checkProfile(req *NewSender) error {
	for _, f := range []struct{ field, value string }{
		{"nickname", req.Nickname}, {"from_name", req.FromName}, {"reply_to", req.ReplyTo}, {"reply_to_name", req.ReplyToName},
	} {
		if len(f.value) > MaxProfileLen {
			return Invalid(f.field, "longer than %d characters", MaxProfileLen)
		}
		if strings.ContainsAny(f.value, "\r\n\x00") {
			return Invalid(f.field, "must be one line")
		}
	}
	if req.ReplyTo != "" {
		addr, err := senderAddress("reply_to", req.ReplyTo)
		if err != nil {
			return err
		}
		req.ReplyTo = addr
	}
	return nil
}
