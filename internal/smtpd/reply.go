package smtpd

import (
	"errors"

	"github.com/postern/postern/internal/smtperr"
	"github.com/postern/postern/internal/submit"
)

// replyCode is the SMTP rendering of a refusal reason.
type replyCode struct {
	code smtperr.Code
	enh  smtperr.Enhanced
}

// replies is the one table from the funnel's reasons to SMTP replies
// (RFC 5321 §4.2, RFC 3463, RFC 4954 §6 for AUTH). The HTTP API has its
// own table over the same reasons (internal/web/sendapi).
var replies = map[submit.Reason]replyCode{
	submit.ReasonBadCredentials:    {smtperr.C535AuthInvalid, smtperr.SecBadCredentials},
	submit.ReasonAuthzid:           {smtperr.C535AuthInvalid, smtperr.SecBadCredentials},
	submit.ReasonNoScope:           {smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized},
	submit.ReasonLockedOut:         {smtperr.C454TempAuthFailure, smtperr.SecTempSecurity},
	submit.ReasonRevoked:           {smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized},
	submit.ReasonSuspended:         {smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized},
	submit.ReasonIPNotAllowed:      {smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized},
	submit.ReasonNullSender:        {smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized},
	submit.ReasonSenderSyntax:      {smtperr.C501ArgumentSyntax, smtperr.Enhanced{5, 1, 7}},
	submit.ReasonRecipientSyntax:   {smtperr.C501ArgumentSyntax, smtperr.Enhanced{5, 1, 3}},
	submit.ReasonTooManyRecipients: {smtperr.C452InsufficientStorage, smtperr.SecTooManyRecipients},
	submit.ReasonUnverified:        {smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized},
	submit.ReasonOneFrom:           {smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized},
	submit.ReasonRateLimited:       {smtperr.C451LocalError, smtperr.SecTempSecurity},
	submit.ReasonQuotaExceeded:     {smtperr.C550MailboxUnavailable, smtperr.SecSecurity},
	submit.ReasonTooBig:            {smtperr.C552StorageExceeded, smtperr.SecMessageTooBig},
	submit.ReasonLineEndings:       {smtperr.C554TransactionFailed, smtperr.SecMedia},
	submit.ReasonLineTooLong:       {smtperr.C554TransactionFailed, smtperr.SecMedia},
	submit.ReasonMalformed:         {smtperr.C554TransactionFailed, smtperr.SecMedia},
	submit.ReasonBadSMTPAPI:        {smtperr.C554TransactionFailed, smtperr.SecMedia},
	submit.ReasonSendAt:            {smtperr.C554TransactionFailed, smtperr.SecMedia},
	submit.ReasonSpam:              {smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized},
	submit.ReasonSpamDeferred:      {smtperr.C451LocalError, smtperr.SecTempPolicy},
	submit.ReasonShuttingDown:      {smtperr.C421Unavailable, smtperr.SecTempShutdown},
}

// authReplies override replies for refusals of AUTH itself: RFC 4954 §6
// answers a key that may not be used now with 535 5.7.1 at AUTH, 550 5.7.1
// at MAIL.
var authReplies = map[submit.Reason]replyCode{
	submit.ReasonNoScope:      {smtperr.C535AuthInvalid, smtperr.SecBadCredentials},
	submit.ReasonSuspended:    {smtperr.C535AuthInvalid, smtperr.SecPolicyUnauthorized},
	submit.ReasonIPNotAllowed: {smtperr.C535AuthInvalid, smtperr.SecPolicyUnauthorized},
}

// render is the reply for a refusal: its reason's row, or, for a reason
// without one, a generic refusal of the refusal's kind.
func render(r *submit.Refusal, atAuth bool) *smtperr.Error {
	rc, ok := replies[r.Reason]
	if a, found := authReplies[r.Reason]; atAuth && found {
		rc, ok = a, true
	}
	if !ok {
		rc = replyCode{smtperr.C550MailboxUnavailable, smtperr.SecSecurity}
		if r.Temporary {
			rc = replyCode{smtperr.C451LocalError, smtperr.SecTempSecurity}
		}
	}
	e := smtperr.New(rc.code, rc.enh, r.Text)
	if rc.code == smtperr.C421Unavailable {
		e = e.Closing()
	}
	return e
}

// reply is the one path from a handler's outcome to the wire: nil stays
// nil; a refusal is rendered by the table and counted; an *smtperr.Error
// (the protocol's own refusals) is sent as it is and counted; anything
// else is logged under the session id and answered with the generic
// internal error, never its text.
func (s *session) reply(stage string, err error) error {
	if err == nil {
		return nil
	}
	if r := submit.AsRefusal(err); r != nil {
		if stage != "auth" { // the funnel logged the authentication failure
			s.log.Info(stage+" refused", "reason", string(r.Reason), "detail", r.Text)
		}
		return s.refuse(render(r, stage == "auth"))
	}
	var e *smtperr.Error
	if errors.As(err, &e) {
		return s.refuse(e)
	}
	s.log.Error(stage, "err", err)
	if stage == "auth" {
		return s.refuse(smtperr.New(smtperr.C454TempAuthFailure, smtperr.SecTempSecurity, "Temporary authentication failure (session "+s.id+")"))
	}
	return s.refuse(smtperr.Internal(s.id))
}

// refuse counts e and returns it as the reply; past MaxErrors the reply
// becomes 421 and the connection closes after it.
func (s *session) refuse(e *smtperr.Error) *smtperr.Error {
	s.errors++
	if s.errors >= s.srv.cfg.MaxErrors {
		s.log.Info("too many errors, closing", "last", e.Error())
		return smtperr.New(smtperr.C421Unavailable, smtperr.SecTooManyErrors, "Too many errors, closing connection").Closing()
	}
	return e
}
