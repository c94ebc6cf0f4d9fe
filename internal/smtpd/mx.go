package smtpd

import (
	"context"
	"errors"
	"strconv"

	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/smtperr"
)

// Bounces takes mail for return paths, and for the feedback address
// feedback loops send their reports to, on the MX listener
// (internal/bounce.Service). Recipient's refusals are
// bounce.ErrNotReturnPath, bounce.ErrExpired and bounce.ErrUnknown.
type Bounces interface {
	Recipient(ctx context.Context, addr string) (bounce.Target, error)
	Receive(ctx context.Context, targets []bounce.Target, from string, msg []byte) ([]bounce.Outcome, error)
}

const textRelayDenied = "Relaying denied: authenticate with the username apikey and an API key"

// returnPathRcpt accepts an unauthenticated RCPT on the MX listener only
// for one of Postern's return paths or its feedback address (a Target
// with Feedback set): everything else is relaying, denied.
func (s *session) returnPathRcpt(to string) error {
	b := s.srv.cfg.Bounces
	if b == nil || s.mode != MX {
		return s.refuse(smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecRelayDenied, textRelayDenied))
	}
	t, err := b.Recipient(s.ctx(), to)
	switch {
	case errors.Is(err, bounce.ErrNotReturnPath):
		s.log.Info("rcpt refused", "reason", "relay")
		return s.refuse(smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecRelayDenied, textRelayDenied))
	case errors.Is(err, bounce.ErrExpired):
		s.log.Info("rcpt refused", "reason", "expired return path")
		return s.refuse(smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecBadMailbox, "Return path expired"))
	case errors.Is(err, bounce.ErrUnknown):
		s.log.Info("rcpt refused", "reason", "unknown return path")
		return s.refuse(smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecBadMailbox, "No such return path"))
	case err != nil:
		return s.reply("return path", err)
	}
	if s.mx.seen[t] {
		return nil // one report per return path, however often it is named
	}
	if t.Feedback {
		s.log.Info("rcpt accepted", "to", "feedback address")
	}
	if len(s.mx.targets) >= bounce.MaxTargets {
		return s.refuse(smtperr.New(smtperr.C452InsufficientStorage, smtperr.SecTooManyRecipients, "Too many recipients"))
	}
	if s.mx.seen == nil {
		s.mx.seen = map[bounce.Target]bool{}
	}
	s.mx.seen[t] = true
	s.mx.targets = append(s.mx.targets, t)
	return nil
}

// receiveReturn hands a message for return paths (or the feedback
// address) to Bounces; the reply is 250 once what it reports is recorded.
// A message at the feedback address that names none of Postern's
// messages is accepted too, for 0 recipients: refusing it would only
// bounce it back to the feedback loop.
func (s *session) receiveReturn(body []byte) error {
	outs, err := s.srv.cfg.Bounces.Receive(s.ctx(), s.mx.targets, s.mx.from, body)
	if err != nil {
		return s.reply("receive bounce", err)
	}
	bounced, spam := 0, 0
	for _, o := range outs {
		if o.Bounced {
			bounced++
		}
		if o.SpamReport {
			spam++
		}
	}
	text := "Ok: report received for " + strconv.Itoa(len(outs)) + " recipient(s), " + strconv.Itoa(bounced) + " bounced"
	if spam > 0 {
		text += ", " + strconv.Itoa(spam) + " spam report(s)"
	}
	return ok250(text)
}
