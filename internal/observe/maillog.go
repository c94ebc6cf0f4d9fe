package observe

import (
	"log/slog"
	"net/netip"
)

// MailLog writes the mail log: one line per message event, with a fixed
// message text and fixed keys, on the process log's handler with
// log=mail. Its lines are at level Info. A nil *MailLog writes nothing.
//
//	msg=queued    id user key_id size rcpts ingress client_ip
//	msg=deferred  id rcpt reply attempt
//	msg=delivered id rcpt reply tls
//	msg=bounced   id rcpt reply
//	msg=dropped   id rcpt reason
//
// id is the queue id (the smtp-id of the events); reply is the remote
// server's reply, or Postern's description of a local condition (no MX,
// connection refused); tls is the version ("TLS1.3") or "none".
type MailLog struct {
	l *slog.Logger
}

// NewMailLog returns the mail log on l's handler.
func NewMailLog(l *slog.Logger) *MailLog {
	return &MailLog{l: l.With("log", "mail")}
}

// Queued is an accepted message, as the mail log tells it.
type Queued struct {
	ID       string
	User     string
	KeyID    string // the API key's public id, never the secret
	Size     int
	Rcpts    int
	Ingress  Ingress
	ClientIP netip.Addr // the zero Addr for Postern's own mail
}

// Queued logs a message committed to the queue.
func (m *MailLog) Queued(q Queued) {
	if m == nil {
		return
	}
	ip := "none"
	if q.ClientIP.IsValid() {
		ip = q.ClientIP.String()
	}
	m.l.Info("queued", "id", q.ID, "user", q.User, "key_id", q.KeyID, "size", q.Size,
		"rcpts", q.Rcpts, "ingress", string(q.Ingress), "client_ip", ip)
}

// Deferred logs an attempt that left rcpt to be retried.
func (m *MailLog) Deferred(id, rcpt, reply string, attempt int) {
	if m != nil {
		m.l.Info("deferred", "id", id, "rcpt", rcpt, "reply", reply, "attempt", attempt)
	}
}

// Delivered logs a recipient the receiving server accepted; tls is the
// connection's TLS version, "" for none.
func (m *MailLog) Delivered(id, rcpt, reply, tls string) {
	if m == nil {
		return
	}
	if tls == "" {
		tls = "none"
	}
	m.l.Info("delivered", "id", id, "rcpt", rcpt, "reply", reply, "tls", tls)
}

// Bounced logs a recipient given up on: a permanent failure, or retries
// past delivery.give_up_after. A DSN goes to the sender.
func (m *MailLog) Bounced(id, rcpt, reply string) {
	if m != nil {
		m.l.Info("bounced", "id", id, "rcpt", rcpt, "reply", reply)
	}
}

// Dropped logs a recipient not sent to: suppressed, or dropped by the
// operator.
func (m *MailLog) Dropped(id, rcpt, reason string) {
	if m != nil {
		m.l.Info("dropped", "id", id, "rcpt", rcpt, "reason", reason)
	}
}
