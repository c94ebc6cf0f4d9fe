package smtpd

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/smtperr"
	"github.com/postern/postern/internal/submit"
)

// Reply texts of the protocol itself.
const (
	textStartTLS     = "Must issue a STARTTLS command first"
	textAuthRequired = "Authentication required"
)

// session is one client's SMTP session: the protocol only. Every decision
// about a submission is the funnel's (internal/submit); the session reads
// commands and renders outcomes. go-smtp makes a new session after
// STARTTLS, so authentication never carries over from plaintext.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	guard    *guardConn
	id       string
	log      *slog.Logger
	clientIP netip.Addr

	client *submit.Client // set by a successful AUTH
	tx     *submit.Tx     // open submission transaction, or nil
	mx     *mxTx          // open unauthenticated MX transaction, or nil
}

// mxTx is a transaction on the MX listener without a key: mail for
// Postern's return paths only.
type mxTx struct {
	from    string
	targets []bounce.Target
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	g := guardOf(c.Conn())
	if g == nil {
		// Only connections from our own listeners are served.
		return nil, wire(smtperr.New(smtperr.C421Unavailable, smtperr.SecTempSystem, "Service not available"))
	}
	ip := remoteIP(c.Conn())
	_, isTLS := c.TLSConnectionState()
	log := s.cfg.Logger.With("session", g.id, "ip", ip.String())
	log.Debug("session", "mode", g.mode.String(), "helo", c.Hostname(), "tls", isTLS)
	return &session{srv: s, conn: c, guard: g, id: g.id, log: log, clientIP: ip}, nil
}

func (s *session) tlsState() (tls.ConnectionState, bool) { return s.conn.TLSConnectionState() }

// AuthMechanisms advertises AUTH only once the connection is encrypted.
func (s *session) AuthMechanisms() []string {
	if _, ok := s.tlsState(); !ok {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth starts a SASL exchange; before TLS it refuses with 530 5.7.0.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if _, ok := s.tlsState(); !ok {
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
	c, err := s.srv.cfg.Funnel.Authenticate(s.srv.ctx, submit.Credentials{
		Authzid: authzid, Username: user, Password: pass, ClientIP: s.clientIP, Session: s.id})
	if err != nil {
		return s.reply("auth", err)
	}
	s.client = c
	s.log = s.log.With("key_id", c.Key().ID, "user", c.Key().UserName)
	return nil
}

// Mail opens a transaction: through the funnel with a key; without one,
// only on the MX listener, for mail to return paths.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.client == nil && s.guard.mode != MX {
		return s.refuse(smtperr.New(smtperr.C530AuthRequired, smtperr.SecSecurity, textAuthRequired))
	}
	var size int64
	if opts != nil {
		size = opts.Size
	}
	if !s.guard.setBusy(true) {
		return s.reply("mail", &submit.Refusal{Reason: submit.ReasonShuttingDown, Temporary: true, Text: "Service shutting down, try again later"})
	}
	if s.client == nil {
		if from != "" && !submit.ValidAddress(from) {
			s.guard.setBusy(false)
			return s.reply("mail", &submit.Refusal{Reason: submit.ReasonSenderSyntax, Text: "Bad sender address syntax: the domain must be a host name or an address literal"})
		}
		if max := s.srv.cfg.MaxMessageBytes; size > max {
			s.guard.setBusy(false)
			return s.reply("mail", submit.TooBig(max))
		}
		s.mx = &mxTx{from: from}
		return nil
	}
	tx, err := s.srv.cfg.Funnel.Begin(s.srv.ctx, s.client, from, size, s.origin())
	if err != nil {
		s.guard.setBusy(false)
		return s.reply("mail", err)
	}
	s.tx = tx
	return nil
}

// origin describes this session for the Received field.
func (s *session) origin() submit.Origin {
	o := submit.Origin{Helo: s.conn.Hostname(), With: "ESMTPA"}
	if st, ok := s.tlsState(); ok {
		o.With = "ESMTPSA"
		o.TLS = strings.ReplaceAll(tls.VersionName(st.Version), " ", "") + " " + tls.CipherSuiteName(st.CipherSuite)
	}
	return o
}

// Rcpt adds a recipient. Without a key nothing is relayed (the MX port).
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	switch {
	case s.tx != nil:
		return s.reply("rcpt", s.tx.AddRecipient(s.srv.ctx, to))
	case s.mx != nil:
		return s.returnPathRcpt(to)
	}
	return s.refuse(smtperr.New(smtperr.C503BadSequence, smtperr.SecBadSequence, "Need MAIL command"))
}

// Data reads the message and hands it to the funnel, or, on the MX
// listener, to the return-path handler. The reply is 250 only after the
// queue commit is synced.
func (s *session) Data(r io.Reader) error {
	defer s.guard.setBusy(false) // a draining server closes after this reply
	if (s.tx == nil || len(s.tx.Recipients()) == 0) && (s.mx == nil || len(s.mx.targets) == 0) {
		return s.refuse(smtperr.New(smtperr.C503BadSequence, smtperr.SecBadSequence, "Need RCPT command"))
	}
	body, err := io.ReadAll(&deadlineReader{r: r, conn: s.conn, timeout: s.srv.cfg.ReadTimeout})
	if err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			s.log.Info("data refused", "reason", "size")
			s.guard.countError()
			return smtp.ErrDataTooLarge
		}
		// The connection is broken: no reply will reach the client.
		s.log.Info("data read", "err", err)
		return s.reply("data read", err)
	}
	if s.mx != nil {
		if err := submit.CheckBody(body); err != nil {
			return s.reply("data", err)
		}
		return s.receiveReturn(body)
	}
	rc, err := s.tx.Commit(s.srv.ctx, body, submit.CommitOptions{})
	if err != nil {
		return s.reply("data", err)
	}
	switch {
	case rc.Held:
		return ok("Ok: queued as " + rc.ID + " (held by a rate limit until " + rc.NotBefore.UTC().Format(time.RFC3339) + ")")
	case !rc.NotBefore.IsZero():
		return ok("Ok: queued as " + rc.ID + " (scheduled for " + rc.NotBefore.UTC().Format(time.RFC3339) + ")")
	}
	return ok("Ok: queued as " + rc.ID)
}

// Reset ends the transaction (RSET, a new EHLO, or after DATA).
func (s *session) Reset() {
	if s.tx != nil {
		s.tx.Abort()
	}
	s.tx, s.mx = nil, nil
	s.guard.setBusy(false)
}

// Logout ends the session.
func (s *session) Logout() error { return nil }

// deadlineReader renews the read deadline before every read, so a DATA
// phase can be long but never stall.
type deadlineReader struct {
	r       io.Reader
	conn    *smtp.Conn
	timeout time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if d.timeout > 0 {
		if err := d.conn.Conn().SetReadDeadline(time.Now().Add(d.timeout)); err != nil {
			return 0, err
		}
	}
	return d.r.Read(p)
}
