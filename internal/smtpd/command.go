package smtpd

import (
	"crypto/tls"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"

	"github.com/postern/postern/internal/smtperr"
	"github.com/postern/postern/internal/submit"
)

// Reply texts of the protocol itself.
const (
	textStartTLS     = "Must issue a STARTTLS command first"
	textAuthRequired = "Authentication required"
)

// splitCommand splits a command line into its upper-cased verb and the
// rest.
func splitCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), strings.TrimSpace(arg)
}

// command runs one command and returns its reply.
func (s *session) command(verb, arg string) *smtperr.Error {
	if !printableASCII(verb) {
		return s.refuse(smtperr.New(smtperr.C500SyntaxError, smtperr.SecSyntax, "Command not recognized"))
	}
	switch verb {
	case "EHLO", "HELO":
		return s.hello(verb == "EHLO", arg)
	case "STARTTLS":
		return s.startTLS(arg)
	case "AUTH":
		return s.auth(arg)
	case "MAIL":
		return s.mailCommand(arg)
	case "RCPT":
		return s.rcptCommand(arg)
	case "DATA":
		return s.dataCommand(arg)
	case "RSET":
		if e := s.noProgress(); e != nil {
			return e
		}
		s.reset()
		return ok250("Ok")
	case "NOOP":
		if e := s.noProgress(); e != nil {
			return e
		}
		return ok250("Ok")
	case "VRFY":
		if e := s.noProgress(); e != nil {
			return e
		}
		return smtperr.New(252, smtperr.Enhanced{2, 5, 2}, "Cannot verify the user, but will take a message for it")
	case "HELP":
		if e := s.noProgress(); e != nil {
			return e
		}
		return smtperr.New(214, smtperr.SecOK, "See RFC 5321; authenticate with the username apikey and an API key")
	case "QUIT":
		s.closeAfter = true
		return smtperr.New(smtperr.C221Closing, smtperr.SecOK, "Bye")
	case "BDAT":
		return s.refuse(smtperr.New(502, smtperr.SecBadSequence, "CHUNKING is not offered; use DATA"))
	case "EXPN", "SEND", "SOML", "SAML", "TURN", "ETRN", "ATRN":
		return s.refuse(smtperr.New(502, smtperr.SecBadSequence, "Command not implemented"))
	}
	return s.refuse(smtperr.New(smtperr.C500SyntaxError, smtperr.SecSyntax, "Command not recognized"))
}

// noProgress counts a command that moves no mail; past the cap the session
// ends, so a client cannot hold a connection slot with NOOPs.
func (s *session) noProgress() *smtperr.Error {
	s.idle++
	if s.idle > s.srv.cfg.MaxIdleCommands {
		s.log.Info("too many commands without mail, closing")
		return smtperr.New(smtperr.C421Unavailable, smtperr.SecTooManyErrors, "Too many commands without mail, closing connection").Closing()
	}
	return nil
}

func (s *session) hello(extended bool, arg string) *smtperr.Error {
	if arg == "" || !printableASCII(arg) {
		return s.refuse(smtperr.New(smtperr.C501ArgumentSyntax, smtperr.SecBadArguments, "Domain or address literal required"))
	}
	if s.helo != "" {
		if e := s.noProgress(); e != nil {
			return e
		}
	}
	s.reset()
	s.helo, _, _ = strings.Cut(arg, " ")
	if !extended {
		return ok250(s.srv.cfg.Hostname)
	}
	lines := []string{s.srv.cfg.Hostname, "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"}
	max := s.maxBytes()
	if max > 0 {
		lines = append(lines, "SIZE "+strconv.FormatInt(max, 10))
	}
	switch {
	case s.tls == nil && s.srv.cfg.TLS != nil:
		lines = append(lines, "STARTTLS")
	case s.tls != nil && s.client == nil:
		lines = append(lines, "AUTH PLAIN LOGIN")
	}
	return smtperr.New(smtperr.C250OK, smtperr.Enhanced{}, strings.Join(lines, "\n"))
}

// maxBytes is the message size this session may send: the submission
// limit, or on the MX listener without a key the return-path limit.
func (s *session) maxBytes() int64 {
	if s.mode == MX && s.client == nil {
		return s.srv.cfg.MXMaxMessageBytes
	}
	return s.srv.cfg.MaxMessageBytes
}

// startTLS upgrades the connection (RFC 3207). A failed handshake ends
// the session: nothing goes on in plain text after a STARTTLS.
func (s *session) startTLS(arg string) *smtperr.Error {
	switch {
	case arg != "":
		return s.refuse(smtperr.New(smtperr.C501ArgumentSyntax, smtperr.SecBadArguments, "STARTTLS takes no argument"))
	case s.tls != nil:
		return s.refuse(smtperr.New(503, smtperr.SecBadSequence, "Already running TLS"))
	case s.srv.cfg.TLS == nil:
		return s.refuse(smtperr.New(502, smtperr.SecBadSequence, "TLS not available"))
	case s.r.Buffered() > 0:
		// Commands pipelined behind STARTTLS would be read as if they
		// came over TLS (CVE-2011-0411): refuse them all.
		s.log.Info("commands pipelined after STARTTLS, closing")
		return smtperr.New(smtperr.C554TransactionFailed, smtperr.SecBadSequence, "Nothing may follow STARTTLS before the handshake, closing connection").Closing()
	}
	writeReply(s.w, smtperr.New(220, smtperr.SecOK, "Ready to start TLS"))
	if err := s.flush(); err != nil {
		s.closeAfter = true
		return nil
	}
	if err := s.handshake(tls.Server(s.nc, s.srv.cfg.TLS)); err != nil {
		s.log.Info("starttls handshake failed, closing", "err", err)
		s.closeAfter = true
		s.nc.Close()
		return nil
	}
	s.setBuffers()
	// The session starts over (RFC 3207 §4.2).
	s.reset()
	s.helo = ""
	return nil
}

func (s *session) auth(arg string) *smtperr.Error {
	if s.helo == "" {
		return s.refuse(smtperr.New(503, smtperr.SecBadSequence, "Send EHLO first"))
	}
	if s.client != nil {
		return s.refuse(smtperr.New(503, smtperr.SecBadSequence, "Already authenticated"))
	}
	mech, initial, hasInitial := strings.Cut(arg, " ")
	srv, e := s.saslServer(strings.ToUpper(mech))
	if e != nil {
		return e
	}
	var resp []byte
	if hasInitial {
		b, e := decodeSASL(initial)
		if e != nil {
			return s.refuse(e)
		}
		resp = b
	}
	for {
		challenge, done, err := srv.Next(resp)
		if err != nil || done {
			if err != nil {
				return asReply(err)
			}
			if s.client == nil {
				return s.refuse(smtperr.New(smtperr.C535AuthInvalid, smtperr.SecBadCredentials, "Authentication failed"))
			}
			s.log = s.log.With("key_id", s.client.Key().ID, "user", s.client.Key().UserName)
			s.idle = 0
			return smtperr.New(smtperr.C235AuthOK, smtperr.Enhanced{2, 7, 0}, "Authentication successful")
		}
		writeReply(s.w, smtperr.New(334, smtperr.Enhanced{}, base64.StdEncoding.EncodeToString(challenge)))
		line, err := s.readLine(maxAuthLineLength)
		if err != nil {
			s.readFailed(err)
			s.closeAfter = true
			return nil
		}
		if line == "*" {
			return s.refuse(smtperr.New(smtperr.C501ArgumentSyntax, smtperr.Enhanced{5, 0, 0}, "Authentication cancelled"))
		}
		b, e := decodeSASL(line)
		if e != nil {
			return s.refuse(e)
		}
		resp = b
	}
}

// decodeSASL decodes a SASL response: base64, or "=" for an empty one
// (RFC 4954 §4).
func decodeSASL(s string) ([]byte, *smtperr.Error) {
	if s == "=" {
		return []byte{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, smtperr.New(smtperr.C501ArgumentSyntax, smtperr.Enhanced{5, 5, 2}, "Invalid base64 in the SASL response")
	}
	return b, nil
}

// saslServer starts a SASL exchange; before TLS it refuses with 530 5.7.0.
func (s *session) saslServer(mech string) (sasl.Server, *smtperr.Error) {
	if s.tls == nil {
		return nil, s.refuse(smtperr.New(smtperr.C530AuthRequired, smtperr.SecSecurity, textStartTLS))
	}
	if s.tx != nil || s.mx != nil {
		// RFC 4954 §4: not within a transaction. On the MX port a MAIL
		// needs no key, so an AUTH after it would skip the sender checks.
		return nil, s.refuse(smtperr.New(smtperr.C503BadSequence, smtperr.SecBadSequence, "AUTH is not permitted during a mail transaction"))
	}
	invalid := func() error {
		// A malformed PLAIN message counts as a wrong guess.
		return s.login("", "", "")
	}
	switch mech {
	case sasl.Plain:
		return &plainServer{login: s.login, invalid: invalid}, nil
	case sasl.Login:
		return &loginServer{login: s.login}, nil
	}
	return nil, s.refuse(smtperr.New(504, smtperr.SecBadArguments, "Unrecognized authentication mechanism"))
}

// login hands the credentials to the funnel. The password is never logged.
func (s *session) login(authzid, user, pass string) error {
	c, err := s.srv.cfg.Funnel.Authenticate(s.ctx(), submit.Credentials{
		Authzid: authzid, Username: user, Password: pass, ClientIP: s.clientIP, Session: s.id, Listener: s.mode.String()})
	if err != nil {
		return s.reply("auth", err)
	}
	s.client = c
	return nil
}

func (s *session) mailCommand(arg string) *smtperr.Error {
	if s.helo == "" {
		return s.refuse(smtperr.New(503, smtperr.SecBadSequence, "Send EHLO first"))
	}
	if s.tx != nil || s.mx != nil {
		return s.refuse(smtperr.New(503, smtperr.SecBadSequence, "Nested MAIL command"))
	}
	path, params, e := parsePathArg(arg, "FROM:")
	if e != nil {
		return s.refuse(e)
	}
	var size int64
	for k, v := range params {
		switch k {
		case "SIZE":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return s.refuse(smtperr.New(smtperr.C501ArgumentSyntax, smtperr.SecBadArguments, "Malformed SIZE parameter"))
			}
			size = n
		case "BODY":
			if u := strings.ToUpper(v); u != "7BIT" && u != "8BITMIME" {
				return s.refuse(smtperr.New(555, smtperr.SecBadArguments, "Unsupported BODY parameter"))
			}
		case "AUTH":
			// RFC 4954 §5: accepted and not trusted.
		default:
			return s.refuse(smtperr.New(555, smtperr.SecBadArguments, "Unsupported MAIL parameter"))
		}
	}
	if err := s.mail(path, size); err != nil {
		return asReply(err)
	}
	return smtperr.New(smtperr.C250OK, smtperr.Enhanced{2, 1, 0}, "Ok")
}

func (s *session) rcptCommand(arg string) *smtperr.Error {
	if s.tx == nil && s.mx == nil {
		return s.refuse(smtperr.New(smtperr.C503BadSequence, smtperr.SecBadSequence, "Need MAIL command"))
	}
	path, params, e := parsePathArg(arg, "TO:")
	if e != nil {
		return s.refuse(e)
	}
	if len(params) > 0 {
		return s.refuse(smtperr.New(555, smtperr.SecBadArguments, "Unsupported RCPT parameter"))
	}
	if path == "" {
		return s.refuse(smtperr.New(smtperr.C501ArgumentSyntax, smtperr.Enhanced{5, 1, 3}, "Empty recipient address"))
	}
	if err := s.rcpt(path); err != nil {
		return asReply(err)
	}
	return smtperr.New(smtperr.C250OK, smtperr.Enhanced{2, 1, 5}, "Ok")
}

// reset ends the transaction (RSET, a new EHLO, STARTTLS, after DATA).
func (s *session) reset() {
	if s.tx != nil {
		s.tx.Abort()
	}
	s.tx, s.mx = nil, nil
	s.setBusy(false)
}

func ok250(text string) *smtperr.Error { return smtperr.New(smtperr.C250OK, smtperr.SecOK, text) }

// asReply is a handler's error as the reply to write: nil is 250.
func asReply(err error) *smtperr.Error {
	if err == nil {
		return ok250("Ok")
	}
	if e, ok := err.(*smtperr.Error); ok {
		return e
	}
	return smtperr.Internal("unknown")
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
