package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/policy"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/smtperr"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
)

// Reply texts a client sees.
const (
	textBadCredentials = "Authentication failed: use the username apikey and an API key as the password"
	textNoScope        = "Authentication failed: this API key lacks the mail.send scope"
	textAuthzid        = "Authentication failed: the authorization identity must be empty or equal the username"
	textStartTLS       = "Must issue a STARTTLS command first"
	textAuthRequired   = "Authentication required"
)

// session is one client's SMTP session. go-smtp makes a new one after
// STARTTLS, so authentication never carries over from plaintext.
type session struct {
	srv      *Server
	conn     *smtp.Conn
	guard    *guardConn
	id       string
	log      *slog.Logger
	clientIP netip.Addr

	key       *store.APIKey     // set by a successful AUTH
	principal account.Principal // who the key acts for
	tx        *policy.Tx        // open transaction, or nil
	targets   []bounce.Target   // return paths of an unauthenticated MX transaction
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*session)(nil)
)

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	g := guardOf(c.Conn())
	if g == nil {
		// Only connections from our own listeners are served.
		return nil, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Service not available"}
	}
	ip := remoteIP(c.Conn())
	_, isTLS := c.TLSConnectionState()
	log := s.cfg.Logger.With("session", g.id, "ip", ip.String())
	log.Debug("session", "mode", g.mode.String(), "helo", c.Hostname(), "tls", isTLS)
	return &session{srv: s, conn: c, guard: g, id: g.id, log: log, clientIP: ip}, nil
}

// refuse turns e into the reply and counts it; past MaxErrors the reply
// becomes 421 and the connection closes after it.
func (s *session) refuse(e *smtperr.Error) error {
	if s.guard.countError() >= s.srv.cfg.MaxErrors {
		s.log.Info("too many errors, closing", "last", e.Error())
		s.guard.closeAfterReply()
		return wire(smtperr.New(smtperr.C421Unavailable, smtperr.SecTooManyErrors, "Too many errors, closing connection"))
	}
	if e.Close {
		s.guard.closeAfterReply()
	}
	return wire(e)
}

// internal logs err and refuses with the generic reply naming the session.
func (s *session) internal(what string, err error) error {
	s.log.Error(what, "err", err)
	return s.refuse(smtperr.Internal(s.id))
}

func wire(e *smtperr.Error) *smtp.SMTPError {
	return &smtp.SMTPError{Code: int(e.Code), EnhancedCode: smtp.EnhancedCode(e.Enhanced), Message: e.Text}
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
	if s.tx != nil {
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

// login checks credentials. The password is never logged; the key's public
// id is, when the password has the shape of a key.
func (s *session) login(authzid, user, pass string) error {
	start := time.Now()
	logUser := user
	if user != account.Username {
		logUser = "<other>" // a username may be a misplaced secret
	}
	keyID, _ := account.ParseKey(pass)
	lk := s.srv.cfg.Lockout
	if lk != nil {
		if locked, until := lk.Check(s.clientIP, keyID, start); locked {
			s.log.Info("auth failed", "user", logUser, "key_id", keyID, "reason", "locked out", "until", until.UTC().Format(time.RFC3339))
			s.pace(start)
			return s.refuse(smtperr.New(smtperr.C454TempAuthFailure, smtperr.SecTempSecurity,
				"Too many failed authentications from your address; try again after "+until.UTC().Format(time.RFC3339)))
		}
	}
	reply, reason, counted := s.authenticate(authzid, user, pass)
	if reply == nil {
		return nil
	}
	if reason != "" {
		// One line per failure, with the client address first among the
		// fields that vary, for fail2ban; never the password.
		s.log.Info("auth failed", "user", logUser, "key_id", keyID, "reason", reason)
	}
	if counted && lk != nil {
		if locked, until := lk.Fail(s.clientIP, keyID, time.Now()); locked {
			s.log.Warn("auth lockout", "until", until.UTC().Format(time.RFC3339))
		}
	}
	s.pace(start)
	return s.refuse(reply)
}

// pace delays a failure reply so that every failed AUTH takes the same
// time from its start, whatever the cause.
func (s *session) pace(start time.Time) {
	if d := lockout.Pace(start, s.srv.cfg.AuthFailureDelay); d > 0 {
		time.Sleep(d)
	}
}

// authenticate checks the credentials and, on success, sets the session's
// key. Otherwise it returns the reply, the reason to log ("" when already
// logged) and whether the failure counts toward a lockout (wrong
// credentials do; a valid key refused by policy does not).
func (s *session) authenticate(authzid, user, pass string) (*smtperr.Error, string, bool) {
	if authzid != "" && authzid != user {
		return smtperr.New(smtperr.C535AuthInvalid, smtperr.SecBadCredentials, textAuthzid), "authzid", true
	}
	key, err := s.srv.cfg.Accounts.Authenticate(context.Background(), user, pass)
	switch {
	case err == nil:
	case errors.Is(err, account.ErrScope):
		return smtperr.New(smtperr.C535AuthInvalid, smtperr.SecBadCredentials, textNoScope), "scope", false
	case errors.Is(err, account.ErrUsername), errors.Is(err, account.ErrInvalidKey), errors.Is(err, account.ErrRevoked):
		return smtperr.New(smtperr.C535AuthInvalid, smtperr.SecBadCredentials, textBadCredentials), reason(err), true
	default:
		s.log.Error("auth lookup", "err", err)
		return smtperr.New(smtperr.C454TempAuthFailure, smtperr.SecTempSecurity, "Temporary authentication failure (session "+s.id+")"), "", false
	}
	p, err := s.srv.cfg.Accounts.Admit(context.Background(), key, s.clientIP)
	if err != nil {
		if refusal := admitRefusal(err, smtperr.C535AuthInvalid, "Authentication refused: ", s.clientIP); refusal != nil {
			return refusal, admitReason(err), false
		}
		s.log.Error("auth admit", "err", err)
		return smtperr.New(smtperr.C454TempAuthFailure, smtperr.SecTempSecurity, "Temporary authentication failure (session "+s.id+")"), "", false
	}
	s.key, s.principal = &key, p
	s.log = s.log.With("key_id", key.ID, "user", key.UserName)
	s.log.Info("auth ok")
	if lk := s.srv.cfg.Lockout; lk != nil {
		lk.Succeed(s.clientIP, key.ID, time.Now())
	}
	return nil, "", false
}

// admitRefusal is the reply for a key that is valid but may not be used
// now (RFC 4954 §6: 535 5.7.1 at AUTH; 550 5.7.1 at MAIL), or nil when err
// is not such a refusal.
func admitRefusal(err error, code smtperr.Code, prefix string, ip netip.Addr) *smtperr.Error {
	switch {
	case errors.Is(err, account.ErrSuspended):
		return smtperr.New(code, smtperr.SecPolicyUnauthorized, prefix+"this account is suspended; contact the operator")
	case errors.Is(err, account.ErrIPNotAllowed):
		return smtperr.New(code, smtperr.SecPolicyUnauthorized, prefix+"your client address "+ip.String()+" is not allowed to use this API key")
	}
	return nil
}

// identityRefusal answers an unproven sender identity with 550 5.7.1
// naming it (the text is built by identity for the client).
func (s *session) identityRefusal(stage string, err error) error {
	if errors.Is(err, identity.ErrUnverified) || errors.Is(err, identity.ErrOneFrom) {
		s.log.Info(stage+" refused", "reason", "identity", "detail", err.Error())
		text := err.Error()
		text = strings.ToUpper(text[:1]) + text[1:]
		if errors.Is(err, identity.ErrUnverified) {
			text += "; the operator verifies domains with postern domain add/verify"
		}
		return s.refuse(smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized, text))
	}
	return s.internal("identity "+stage, err)
}

// limitRefusal is the reply for a message over a rate limit: 451 4.7.0
// with the wait, or, for an exhausted monthly quota or a message larger
// than any window allows, a permanent 550 5.7.0.
func limitRefusal(d ratelimit.Decision) *smtperr.Error {
	if d.Permanent {
		return smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecSecurity, "Quota exceeded: "+d.Reason)
	}
	return smtperr.New(smtperr.C451LocalError, smtperr.SecTempSecurity, "Rate limit exceeded: "+d.Reason)
}

func admitReason(err error) string {
	if errors.Is(err, account.ErrSuspended) {
		return "suspended"
	}
	return "ip not allowed"
}

func reason(err error) string {
	switch {
	case errors.Is(err, account.ErrUsername):
		return "username"
	case errors.Is(err, account.ErrRevoked):
		return "revoked"
	}
	return "invalid key"
}

// Mail opens a transaction. The key is checked again: one revoked since
// AUTH starts nothing more.
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.key == nil && s.guard.mode != MX {
		return s.refuse(smtperr.New(smtperr.C530AuthRequired, smtperr.SecSecurity, textAuthRequired))
	}
	if s.key != nil {
		key, err := s.srv.cfg.Accounts.Recheck(context.Background(), s.key.ID)
		switch {
		case errors.Is(err, account.ErrRevoked):
			s.log.Info("mail refused", "reason", "revoked")
			return s.refuse(smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized, "The API key of this session has been revoked"))
		case errors.Is(err, account.ErrScope):
			return s.refuse(smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized, "This API key lacks the mail.send scope"))
		case err != nil:
			return s.internal("recheck key", err)
		}
		p, err := s.srv.cfg.Accounts.Admit(context.Background(), key, s.clientIP)
		if err != nil {
			if refusal := admitRefusal(err, smtperr.C550MailboxUnavailable, "", s.clientIP); refusal != nil {
				s.log.Info("mail refused", "reason", admitReason(err))
				return s.refuse(refusal)
			}
			return s.internal("admit key", err)
		}
		s.key, s.principal = &key, p
	}
	if from != "" && !validAddress(from) {
		return s.refuse(smtperr.New(smtperr.C501ArgumentSyntax, smtperr.Enhanced{5, 1, 7}, "Bad sender address syntax: the domain must be a host name or an address literal"))
	}
	if max := s.srv.cfg.MaxMessageBytes; opts != nil && max > 0 && opts.Size > max {
		return s.refuse(smtperr.New(smtperr.C552StorageExceeded, smtperr.SecMessageTooBig,
			fmt.Sprintf("Message size exceeds fixed limit of %d bytes", max)))
	}
	if id := s.srv.cfg.Identity; id != nil && s.key != nil {
		if from == "" {
			return s.refuse(smtperr.New(smtperr.C550MailboxUnavailable, smtperr.SecPolicyUnauthorized, "The null sender cannot be used for submission"))
		}
		if err := id.CheckAddress(context.Background(), s.principal, "envelope sender", from); err != nil {
			return s.identityRefusal("mail", err)
		}
	}
	if q := s.srv.cfg.Quota; q != nil && s.key != nil {
		d, err := q.Check(context.Background(), s.principal, s.srv.cfg.Now())
		if err != nil {
			return s.internal("quota check", err)
		}
		if !d.Allow {
			s.log.Info("mail refused", "reason", "rate limit", "limit", d.Reason)
			return s.refuse(limitRefusal(d))
		}
	}
	if !s.guard.setBusy(true) {
		return wire(smtperr.New(smtperr.C421Unavailable, smtperr.SecTempShutdown, "Service shutting down, try again later"))
	}
	tx := &policy.Tx{ClientIP: s.clientIP, Helo: s.conn.Hostname(), From: from}
	if s.key != nil {
		tx.Key, tx.User, tx.Account = *s.key, s.principal.User, s.principal.Account
	}
	if err := s.srv.cfg.Policy.Mail(context.Background(), tx); err != nil {
		s.guard.setBusy(false)
		return s.policyRefusal("mail", err)
	}
	s.tx = tx
	return nil
}

func (s *session) policyRefusal(stage string, err error) error {
	var e *smtperr.Error
	if errors.As(err, &e) {
		s.log.Info(stage+" refused", "reply", e.Error())
		return s.refuse(e)
	}
	return s.internal("policy "+stage, err)
}

// Rcpt adds a recipient. Without a key nothing is relayed (the MX port).
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	if s.tx == nil {
		return s.refuse(smtperr.New(smtperr.C503BadSequence, smtperr.SecBadSequence, "Need MAIL command"))
	}
	if s.key == nil {
		return s.returnPathRcpt(to)
	}
	if !validAddress(to) {
		return s.refuse(smtperr.New(smtperr.C501ArgumentSyntax, smtperr.Enhanced{5, 1, 3}, "Bad recipient address syntax: the domain must be a host name or an address literal"))
	}
	if err := s.srv.cfg.Policy.Rcpt(context.Background(), s.tx, to); err != nil {
		return s.policyRefusal("rcpt", err)
	}
	s.tx.Recipients = append(s.tx.Recipients, to)
	return nil
}

// Data reads, checks, stamps and queues the message. The reply is 250 only
// after the queue commit is synced.
func (s *session) Data(r io.Reader) error {
	defer s.guard.setBusy(false) // a draining server closes after this reply
	tx := s.tx
	if tx == nil || len(tx.Recipients) == 0 {
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
		return s.internal("data read", err)
	}
	if err := message.CheckLineEndings(body); err != nil {
		s.log.Info("data refused", "reason", err.Error())
		return s.refuse(smtperr.New(smtperr.C554TransactionFailed, smtperr.SecMedia,
			"Message refused: "+err.Error()+"; only CRLF line endings are allowed"))
	}
	if err := message.CheckLineLength(body, MaxDataLine); err != nil {
		s.log.Info("data refused", "reason", err.Error())
		return s.refuse(smtperr.New(smtperr.C554TransactionFailed, smtperr.SecMedia,
			"Message refused: "+err.Error()+" (RFC 5321 4.5.3.1.6 allows 1000 octets); encode long lines"))
	}
	if s.key == nil {
		return s.receiveReturn(body)
	}
	now := s.srv.cfg.Now()
	id, err := queue.NewID(now, s.srv.cfg.Rand)
	if err != nil {
		return s.internal("queue id", err)
	}
	origIP := s.clientIP
	if s.key != nil && s.principal.User.HideOriginatingIP {
		origIP = netip.Addr{} // the user opted out of X-Originating-IP
	}
	msg, err := message.Prepare(body, message.Stamp{
		Received:      message.Received(s.trace(id, now)),
		OriginatingIP: origIP,
		Hostname:      s.srv.cfg.Hostname,
		Now:           now,
		Rand:          s.srv.cfg.Rand,
	})
	var herr *message.HeaderError
	if errors.As(err, &herr) {
		s.log.Info("data refused", "reason", herr.Error())
		return s.refuse(smtperr.New(smtperr.C554TransactionFailed, smtperr.SecMedia, "Message refused: "+herr.Error()))
	}
	if err != nil {
		return s.internal("prepare message", err)
	}
	if idc := s.srv.cfg.Identity; idc != nil && s.key != nil {
		if err := idc.CheckHeaders(context.Background(), s.principal, msg); err != nil {
			return s.identityRefusal("data", err)
		}
	}
	if msg, err = s.scan(tx, id, msg); err != nil {
		return err
	}
	if err := s.srv.cfg.Policy.Data(context.Background(), tx, msg); err != nil {
		return s.policyRefusal("data", err)
	}
	if sg := s.srv.cfg.Signer; sg != nil && s.key != nil {
		signed, dom, err := sg.Sign(context.Background(), s.principal, msg)
		if err != nil {
			return s.internal("dkim sign", err)
		}
		if dom != "" {
			s.log.Debug("dkim signed", "domain", dom)
		}
		msg = signed
	}
	nm := store.NewMessage{
		ID:         id,
		From:       tx.From,
		Recipients: tx.Recipients,
		Body:       msg,
		CreatedAt:  now,
	}
	if s.key != nil {
		nm.UserID, nm.KeyID = s.key.UserID, s.key.ID
	}
	var reservation ratelimit.Reservation
	if q := s.srv.cfg.Quota; q != nil && s.key != nil {
		d, res, err := q.Reserve(context.Background(), s.principal, len(tx.Recipients), now)
		if err != nil {
			return s.internal("quota reserve", err)
		}
		if !d.Allow {
			s.log.Info("data refused", "reason", "rate limit", "limit", d.Reason)
			return s.refuse(limitRefusal(d))
		}
		if d.Hold {
			nm.NotBefore = d.HoldUntil
		}
		reservation = res
	}
	if err := s.srv.cfg.Queue.Enqueue(context.Background(), nm); err != nil {
		reservation.Cancel()
		return s.internal("enqueue", err)
	}
	if !nm.NotBefore.IsZero() {
		s.log.Info("queued", "msg_id", id, "rcpts", len(tx.Recipients), "size", len(msg), "held_until", nm.NotBefore.UTC().Format(time.RFC3339))
		return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + id + " (held by a rate limit until " + nm.NotBefore.UTC().Format(time.RFC3339) + ")"}
	}
	s.log.Info("queued", "msg_id", id, "rcpts", len(tx.Recipients), "size", len(msg))
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + id}
}

func (s *session) trace(id string, now time.Time) message.Trace {
	t := message.Trace{
		Helo:     s.conn.Hostname(),
		ClientIP: s.clientIP,
		By:       s.srv.cfg.Hostname,
		With:     "ESMTP",
		ID:       id,
		Now:      now,
	}
	if st, ok := s.tlsState(); ok {
		t.With = "ESMTPS"
		t.TLS = strings.ReplaceAll(tls.VersionName(st.Version), " ", "") + " " + tls.CipherSuiteName(st.CipherSuite)
	}
	if s.key != nil {
		t.With += "A"
		t.KeyID = s.key.ID
	}
	if len(s.tx.Recipients) == 1 {
		t.For = s.tx.Recipients[0]
	}
	return t
}

// scan runs the spam scanner on the stamped message and returns it with
// any headers the scanner adds, or the refusal.
func (s *session) scan(tx *policy.Tx, id string, msg []byte) ([]byte, error) {
	sc := s.srv.cfg.Scanner
	if sc == nil {
		return msg, nil
	}
	env := spamscan.Envelope{ClientIP: s.clientIP, Helo: s.conn.Hostname(), From: tx.From,
		User: tx.User.Name, Recipients: tx.Recipients, QueueID: id}
	v, err := sc.Scan(context.Background(), env, msg)
	if err != nil {
		s.log.Warn("spam scan failed, refusing for now", "msg_id", id, "err", err)
		return nil, s.refuse(smtperr.New(smtperr.C451LocalError, smtperr.SecTempPolicy, "Message could not be scanned, try again later"))
	}
	d := spamscan.Decide(v, tx.User.SpamThreshold)
	if d.Refuse {
		s.log.Info("data refused", "reason", "spam", "action", string(v.Action), "score", v.Score, "symbols", strings.Join(v.Symbols, ","))
		if !d.Temporary && tx.User.Name != "" {
			if reason, err := s.srv.cfg.Abuse.SpamRejected(context.Background(), tx.User.Name, s.srv.cfg.Now()); err != nil {
				s.log.Error("spam rejection count", "err", err)
			} else if reason != "" {
				s.log.Warn("user suspended", "reason", reason)
			}
		}
		return nil, s.refuse(d.Err())
	}
	if len(d.AddHeaders) == 0 {
		return msg, nil
	}
	var b strings.Builder
	for name, value := range d.AddHeaders {
		if !safeField(name, value) {
			continue
		}
		b.WriteString(name + ": " + value + "\r\n")
	}
	return append([]byte(b.String()), msg...), nil
}

// safeField reports whether name: value is one well-formed header field:
// a plain name, and line breaks in the value only as CRLF folds.
func safeField(name, value string) bool {
	if name == "" || strings.ContainsAny(name, ": \t\r\n") {
		return false
	}
	for i := 0; i < len(value); i++ {
		switch value[i] {
		case '\n':
			return false // a CRLF is consumed below; a bare LF is not a fold
		case '\r':
			if i+2 >= len(value) || value[i+1] != '\n' || (value[i+2] != ' ' && value[i+2] != '\t') {
				return false
			}
			i++
		}
	}
	return true
}

// Reset ends the transaction (RSET, a new EHLO, or after DATA).
func (s *session) Reset() {
	s.tx, s.targets = nil, nil
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
