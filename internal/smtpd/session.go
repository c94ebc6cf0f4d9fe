package smtpd

import (
	"crypto/tls"
	"errors"
	"strings"
	"time"

	"github.com/postern/postern/internal/smtperr"
	"github.com/postern/postern/internal/submit"
)

// mail opens a transaction: through the funnel with a key; without one,
// only on the MX listener, for mail to return paths.
func (s *session) mail(from string, size int64) error {
	if s.client == nil && s.mode != MX {
		return s.refuse(smtperr.New(smtperr.C530AuthRequired, smtperr.SecSecurity, textAuthRequired))
	}
	if !s.setBusy(true) {
		return s.reply("mail", &submit.Refusal{Reason: submit.ReasonShuttingDown, Temporary: true, Text: "Service shutting down, try again later"})
	}
	if s.client == nil {
		if from != "" && !submit.ValidAddress(from) {
			s.setBusy(false)
			return s.reply("mail", &submit.Refusal{Reason: submit.ReasonSenderSyntax, Text: "Bad sender address syntax: the domain must be a host name or an address literal"})
		}
		if max := s.maxBytes(); size > max {
			s.setBusy(false)
			return s.reply("mail", submit.TooBig(max))
		}
		s.mx = &mxTx{from: from}
		return nil
	}
	tx, err := s.srv.cfg.Funnel.Begin(s.ctx(), s.client, from, size, s.origin())
	if err != nil {
		s.setBusy(false)
		return s.reply("mail", err)
	}
	s.tx = tx
	return nil
}

// origin describes this session for the Received field.
func (s *session) origin() submit.Origin {
	o := submit.Origin{Helo: s.helo, With: "ESMTPA"}
	if st := s.tls; st != nil {
		o.With = "ESMTPSA"
		o.TLS = strings.ReplaceAll(tls.VersionName(st.Version), " ", "") + " " + tls.CipherSuiteName(st.CipherSuite)
	}
	return o
}

// rcpt adds a recipient. Without a key nothing is relayed (the MX port).
func (s *session) rcpt(to string) error {
	if s.tx != nil {
		return s.reply("rcpt", s.tx.AddRecipient(s.ctx(), to))
	}
	return s.returnPathRcpt(to)
}

// dataCommand reads the message and hands it to the funnel, or, on the MX
// listener, to the return-path handler. The reply is 250 only after the
// queue commit is synced.
func (s *session) dataCommand(arg string) *smtperr.Error {
	if arg != "" {
		return s.refuse(smtperr.New(smtperr.C501ArgumentSyntax, smtperr.SecBadArguments, "DATA takes no argument"))
	}
	if (s.tx == nil || len(s.tx.Recipients()) == 0) && (s.mx == nil || len(s.mx.targets) == 0) {
		return s.refuse(smtperr.New(smtperr.C503BadSequence, smtperr.SecBadSequence, "Need RCPT command"))
	}
	defer s.reset() // and a draining server closes after this reply
	writeReply(s.w, smtperr.New(354, smtperr.Enhanced{}, "End data with <CR><LF>.<CR><LF>"))
	if err := s.flush(); err != nil {
		s.closeAfter = true
		return nil
	}
	max := s.maxBytes()
	body, reserved, err := readData(s.r, max, s.srv.budget, func() { s.nc.SetReadDeadline(s.readDeadline()) })
	defer s.srv.budget.give(reserved)
	switch {
	case errors.Is(err, errTooBig):
		s.log.Info("data refused", "reason", "size")
		return asReply(s.reply("data", submit.TooBig(max)))
	case errors.Is(err, errBudget):
		s.log.Warn("data refused", "reason", "in-flight budget full")
		return s.refuse(smtperr.New(smtperr.C452InsufficientStorage, smtperr.Enhanced{4, 3, 1}, "Insufficient system storage, try again later"))
	case errors.Is(err, errBareLineEnding):
		s.log.Info("data refused", "reason", "bare CR or LF")
		return asReply(s.reply("data", &submit.Refusal{Reason: submit.ReasonLineEndings,
			Text: "Message refused: bare CR or LF; only CRLF line endings are allowed"}))
	case errors.Is(err, errNUL):
		s.log.Info("data refused", "reason", "NUL")
		return asReply(s.reply("data", &submit.Refusal{Reason: submit.ReasonMalformed, Text: "Message refused: NUL octets are not allowed"}))
	case err != nil:
		// The connection is broken or timed out: the session ends.
		s.readFailed(err)
		s.closeAfter = true
		return nil
	}
	if s.mx != nil {
		if err := submit.CheckBody(body); err != nil {
			return asReply(s.reply("data", err))
		}
		return asReply(s.receiveReturn(body))
	}
	rc, err := s.tx.Commit(s.ctx(), body, submit.CommitOptions{})
	if err != nil {
		return asReply(s.reply("data", err))
	}
	s.idle = 0
	switch {
	case rc.Held:
		return ok250("Ok: queued as " + rc.ID + " (held by a rate limit until " + rc.NotBefore.UTC().Format(time.RFC3339) + ")")
	case !rc.NotBefore.IsZero():
		return ok250("Ok: queued as " + rc.ID + " (scheduled for " + rc.NotBefore.UTC().Format(time.RFC3339) + ")")
	}
	return ok250("Ok: queued as " + rc.ID)
}
