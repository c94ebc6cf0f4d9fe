package submit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/postern/postern/internal/compose"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
)

// MaxDataLine is RFC 5321 §4.5.3.1.6's text line limit, CRLF included.
const MaxDataLine = 1000

// Origin is how a message reached Postern, for its Received field.
type Origin struct {
	Helo string // the SMTP client's EHLO argument; "" over HTTP
	With string // RFC 3848 protocol: "ESMTPSA"; "HTTPS" or "HTTP" for the send API
	TLS  string // e.g. "TLS1.3 TLS_AES_128_GCM_SHA256"; "" without TLS
}

// Tx is one message transaction: Begin, AddRecipient for each recipient,
// then Commit or Abort. A Tx is used by one goroutine.
type Tx struct {
	f      *Funnel
	c      *Client
	from   string
	origin Origin
	rcpts  []string
	seen   map[string]bool
	log    *slog.Logger
	done   bool
}

// Begin opens a transaction for the envelope sender from: the key is
// checked again (revocation, scope, suspension, IP access), from must be a
// well-formed address that the user has proven, size (a declared size, 0
// when unknown) within the limit, and the user and key under their rate
// limits (checked, not yet counted).
func (f *Funnel) Begin(ctx context.Context, c *Client, from string, size int64, o Origin) (*Tx, error) {
	if err := f.recheck(ctx, c); err != nil {
		return nil, err
	}
	if from == "" {
		return nil, refuse(ReasonNullSender, "The null sender cannot be used for submission")
	}
	if !ValidAddress(from) {
		return nil, refuse(ReasonSenderSyntax, "Bad sender address syntax: the domain must be a host name or an address literal")
	}
	if size > f.cfg.MaxMessageBytes {
		return nil, f.tooBig()
	}
	if err := f.cfg.Identity.CheckAddress(ctx, c.Principal, "envelope sender", from); err != nil {
		return nil, identityRefusal(err)
	}
	d, err := f.cfg.Quota.Check(ctx, c.Principal, f.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("submit: quota check: %w", err)
	}
	if !d.Allow {
		return nil, f.limited(d, f.cfg.Now())
	}
	log := f.cfg.Logger.With("session", c.Session, "ip", c.IP.String(), "key_id", c.Key().ID, "user", c.Key().UserName)
	return &Tx{f: f, c: c, from: from, origin: o, seen: map[string]bool{}, log: log}, nil
}

func (f *Funnel) tooBig() *Refusal { return TooBig(f.cfg.MaxMessageBytes) }

// TooBig is the refusal of a message over max bytes.
func TooBig(max int64) *Refusal {
	return refuse(ReasonTooBig, fmt.Sprintf("Message size exceeds fixed limit of %d bytes", max))
}

// CheckBody checks a message's lines as every way in must: CRLF only (a
// bare CR or LF is how SMTP smuggling starts) and no line over
// MaxDataLine. It returns a *Refusal or nil.
func CheckBody(body []byte) error {
	if err := message.CheckLineEndings(body); err != nil {
		return refuse(ReasonLineEndings, "Message refused: "+err.Error()+"; only CRLF line endings are allowed")
	}
	if err := message.CheckLineLength(body, MaxDataLine); err != nil {
		return refuse(ReasonLineTooLong, "Message refused: "+err.Error()+" (RFC 5321 4.5.3.1.6 allows 1000 octets); encode long lines")
	}
	return nil
}

// AddRecipient adds a recipient. A recipient already added (compared
// case-insensitively) is accepted and not added again: one copy is sent.
func (tx *Tx) AddRecipient(ctx context.Context, to string) error {
	if !ValidAddress(to) {
		return refuse(ReasonRecipientSyntax, "Bad recipient address syntax: the domain must be a host name or an address literal")
	}
	k := strings.ToLower(to)
	if tx.seen[k] {
		return nil
	}
	if len(tx.rcpts) >= tx.f.cfg.MaxRecipients {
		return deferred(ReasonTooManyRecipients, fmt.Sprintf("Too many recipients: at most %d per message", tx.f.cfg.MaxRecipients), time.Time{})
	}
	tx.seen[k] = true
	tx.rcpts = append(tx.rcpts, to)
	return nil
}

// Recipients returns the recipients added so far.
func (tx *Tx) Recipients() []string { return tx.rcpts }

// Abort ends the transaction without a message. It is safe to call after
// Commit.
func (tx *Tx) Abort() { tx.done = true }

// CommitOptions are what a way in knows of the message besides its bytes.
type CommitOptions struct {
	// Meta is metadata from the send API; an X-SMTPAPI header in the
	// message adds to it (the header's values win).
	Meta compose.Meta
	// DryRun runs every check and stores nothing: no quota is counted,
	// nothing is signed or queued (the send API's sandbox mode).
	DryRun bool
}

// Receipt is what an accepted message gets.
type Receipt struct {
	ID string // the queue id
	// NotBefore is when delivery may start: a hold-mode rate limit or a
	// scheduled send; zero for at once.
	NotBefore time.Time
	Held      bool // NotBefore is from a rate limit in hold mode
	Size      int
}

// Commit checks, stamps, signs and queues the message, in this order:
//
//  1. size, line endings (no bare CR or LF), line length, header syntax;
//  2. X-SMTPAPI parsed into the message's metadata;
//  3. header hygiene: fields a client may not supply are removed (see
//     Drop), then Received, X-Originating-IP (unless the user opted out),
//     Date and Message-ID are added;
//  4. the From and Sender identities;
//  5. the quota reserved (so a refused message costs no signature);
//  6. the spam scan; its headers are added in a stable order;
//  7. List-Unsubscribe (a user's one-click unsubscribe), DKIM signatures;
//  8. the queue commit, synced.
//
// It returns the receipt only after step 8: the way in acknowledges then
// and never before. A refusal is a *Refusal; any other error is internal,
// and nothing was stored.
func (tx *Tx) Commit(ctx context.Context, body []byte, o CommitOptions) (_ Receipt, err error) {
	defer func() { tx.counted(o, err) }()
	if tx.done {
		return Receipt{}, errors.New("submit: transaction already ended")
	}
	tx.done = true
	f := tx.f
	if len(tx.rcpts) == 0 {
		return Receipt{}, errors.New("submit: commit without recipients")
	}
	if int64(len(body)) > f.cfg.MaxMessageBytes {
		return Receipt{}, f.tooBig()
	}
	if err := CheckBody(body); err != nil {
		return Receipt{}, err
	}
	h, err := message.ParseHeader(body)
	if err != nil {
		return Receipt{}, headerRefusal(err)
	}
	meta := o.Meta
	for _, v := range h.Values("X-SMTPAPI") {
		m, err := compose.ParseSMTPAPI(v)
		if err != nil {
			return Receipt{}, refuse(ReasonBadSMTPAPI, "Message refused: X-SMTPAPI header: "+err.Error())
		}
		meta = mergeMeta(meta, m)
	}
	now := f.cfg.Now()
	// One rule for send_at, the send API's (a past time means at once).
	if meta.SendAt, err = compose.CheckSendAt(meta.SendAt, compose.Options{Now: now}); err != nil {
		text := "send_at is too far ahead"
		if ce := (*compose.Errors)(nil); errors.As(err, &ce) && len(*ce) > 0 {
			text = "send_at " + (*ce)[0].Message
		}
		return Receipt{}, refuse(ReasonSendAt, text)
	}
	id, err := queue.NewID(now, f.cfg.Rand)
	if err != nil {
		return Receipt{}, fmt.Errorf("submit: queue id: %w", err)
	}
	log := tx.log.With("msg_id", id)
	p := tx.c.Principal
	origIP := tx.c.IP
	if p.User.HideOriginatingIP {
		origIP = netip.Addr{} // the user opted out of X-Originating-IP
	}
	msg, h, err := message.PrepareParsed(body, h, message.Stamp{
		Received:      message.Received(tx.trace(id, now)),
		OriginatingIP: origIP,
		Hostname:      f.cfg.Hostname,
		Now:           now,
		Rand:          f.cfg.Rand,
		Drop:          Drop(f.cfg.Hostname),
	})
	if err != nil {
		if r := headerRefusal(err); r != nil {
			return Receipt{}, r
		}
		return Receipt{}, fmt.Errorf("submit: prepare: %w", err)
	}
	// The From domain's checks and its signature look it up once.
	ctx = identity.ForMessage(ctx)
	if err := f.cfg.Identity.CheckHeaders(ctx, p, h); err != nil {
		return Receipt{}, identityRefusal(err)
	}

	var res ratelimit.Reservation
	var d ratelimit.Decision
	if o.DryRun {
		d, err = f.cfg.Quota.Check(ctx, p, now)
	} else {
		d, res, err = f.cfg.Quota.Reserve(ctx, p, len(tx.rcpts), now)
	}
	if err != nil {
		return Receipt{}, fmt.Errorf("submit: quota: %w", err)
	}
	if !d.Allow {
		log.Info("refused", "reason", "rate limit", "limit", d.Reason)
		return Receipt{}, f.limited(d, now)
	}
	committed := false
	defer func() {
		if !committed {
			res.Cancel()
		}
	}()

	if msg, h, err = tx.scan(ctx, id, msg, h, log); err != nil {
		return Receipt{}, err
	}
	rc := Receipt{ID: id, Size: len(msg)}
	if d.Hold {
		rc.NotBefore, rc.Held = d.HoldUntil, true
	}
	if meta.SendAt.After(rc.NotBefore) {
		rc.NotBefore, rc.Held = meta.SendAt, false
	}
	if o.DryRun {
		log.Info("sandbox: accepted, not queued", "rcpts", len(tx.rcpts))
		return rc, nil
	}
	msg, h = tx.listUnsubscribe(p, id, msg, h, log)
	signed, dom, err := f.cfg.Signer.Sign(ctx, p, msg, h)
	if err != nil {
		return Receipt{}, fmt.Errorf("submit: dkim sign: %w", err)
	}
	if dom != "" {
		log.Debug("dkim signed", "domain", dom)
	}
	nm := store.NewMessage{
		ID:         id,
		UserID:     p.User.ID,
		KeyID:      p.Key.ID,
		From:       tx.from,
		Recipients: tx.rcpts,
		Body:       signed,
		CreatedAt:  now,
		NotBefore:  rc.NotBefore,
		Meta:       encodeMeta(meta),
	}
	if err := f.cfg.Queue.Enqueue(ctx, nm); err != nil {
		return Receipt{}, fmt.Errorf("submit: enqueue: %w", err)
	}
	committed = true
	rc.Size = len(signed)
	args := []any{"rcpts", len(tx.rcpts), "size", len(signed), "via", tx.origin.With}
	if !rc.NotBefore.IsZero() {
		args = append(args, "not_before", rc.NotBefore.UTC().Format(time.RFC3339))
	}
	log.Info("queued", args...)
	tx.queued(rc)
	return rc, nil
}

func (tx *Tx) trace(id string, now time.Time) message.Trace {
	t := message.Trace{
		Helo:     tx.origin.Helo,
		ClientIP: tx.c.IP,
		By:       tx.f.cfg.Hostname,
		With:     tx.origin.With,
		TLS:      tx.origin.TLS,
		KeyID:    tx.c.Key().ID,
		ID:       id,
		Now:      now,
	}
	if len(tx.rcpts) == 1 {
		t.For = tx.rcpts[0]
	}
	return t
}

// scan runs the spam scanner on the stamped message and returns it with
// the scanner's headers added, or the refusal. A permanent refusal counts
// toward the user's automatic suspension.
func (tx *Tx) scan(ctx context.Context, id string, msg []byte, h message.Header, log *slog.Logger) ([]byte, message.Header, error) {
	f := tx.f
	p := tx.c.Principal
	env := spamscan.Envelope{ClientIP: tx.c.IP, Helo: tx.origin.Helo, From: tx.from,
		User: p.User.Name, Recipients: tx.rcpts, QueueID: id}
	v, err := f.cfg.Scanner.Scan(ctx, env, msg)
	if err != nil {
		log.Warn("spam scan failed, refusing for now", "err", err)
		return nil, h, deferred(ReasonSpamDeferred, "Message could not be scanned, try again later", time.Time{})
	}
	d := spamscan.Decide(v, p.User.SpamThreshold)
	if d.Refuse {
		log.Info("refused", "reason", "spam", "action", string(v.Action), "score", v.Score, "symbols", strings.Join(v.Symbols, ","))
		if d.Temporary {
			return nil, h, deferred(ReasonSpamDeferred, capitalize(d.Text), time.Time{})
		}
		if reason, err := f.cfg.Abuse.SpamRejected(ctx, p.User.Name, f.cfg.Now()); err != nil {
			log.Error("spam rejection count", "err", err)
		} else if reason != "" {
			log.Warn("user suspended", "reason", reason)
		}
		return nil, h, refuse(ReasonSpam, capitalize(d.Text))
	}
	if len(d.AddHeaders) == 0 {
		return msg, h, nil
	}
	out, oh, err := message.AddFields(msg, h, d.AddHeaders)
	if err != nil {
		// A scanner header that does not fit is dropped, not fatal.
		log.Warn("scanner headers not added", "err", err)
		return msg, h, nil
	}
	return out, oh, nil
}

// identityRefusal turns an identity error into its refusal; other errors
// stay internal.
func identityRefusal(err error) error {
	switch {
	case errors.Is(err, identity.ErrOneFrom):
		return refuse(ReasonOneFrom, capitalize(err.Error()))
	case errors.Is(err, identity.ErrUnverified):
		return refuse(ReasonUnverified, capitalize(err.Error())+"; the operator verifies domains with postern domain add/verify")
	}
	return fmt.Errorf("submit: identity: %w", err)
}

// headerRefusal is the refusal for a malformed header, or nil when err is
// not one.
func headerRefusal(err error) *Refusal {
	var herr *message.HeaderError
	if errors.As(err, &herr) {
		return refuse(ReasonMalformed, "Message refused: "+herr.Error())
	}
	return nil
}

// limitRefusal is the refusal for a message over a rate limit, or, for an
// exhausted monthly quota or a message larger than any window allows, over
// its quota.
func limitRefusal(d ratelimit.Decision, now time.Time) *Refusal {
	var n int64
	if d.Blocking != nil {
		n = d.Blocking.Messages
	}
	if d.Permanent {
		r := refuse(ReasonQuotaExceeded, "Quota exceeded: "+d.Reason)
		r.Limit = n
		if d.RetryAfter > 0 {
			r.RetryAt = now.Add(d.RetryAfter)
		}
		return r
	}
	r := deferred(ReasonRateLimited, "Rate limit exceeded: "+d.Reason, now.Add(d.RetryAfter))
	r.Limit = n
	return r
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// mergeMeta returns a with b's values added; b wins where both are set.
func mergeMeta(a, b compose.Meta) compose.Meta {
	a.Categories = append(a.Categories, b.Categories...)
	if len(b.CustomArgs) > 0 {
		m := make(map[string]string, len(a.CustomArgs)+len(b.CustomArgs))
		for k, v := range a.CustomArgs {
			m[k] = v
		}
		for k, v := range b.CustomArgs {
			m[k] = v
		}
		a.CustomArgs = m
	}
	if !b.SendAt.IsZero() {
		a.SendAt = b.SendAt
	}
	if b.BatchID != "" {
		a.BatchID = b.BatchID
	}
	if b.ASMGroupID != 0 {
		a.ASMGroupID = b.ASMGroupID
	}
	return a
}

// encodeMeta is the stored form of m: JSON, "" when there is nothing.
func encodeMeta(m compose.Meta) string {
	if len(m.Categories) == 0 && len(m.CustomArgs) == 0 && m.BatchID == "" && m.ASMGroupID == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "" // strings and numbers only: cannot fail
	}
	return string(b)
}
