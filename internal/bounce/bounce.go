package bounce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/store"
)

// SecretName is the installation secret that keys return-path tokens.
const SecretName = "return-path-v1"

// Errors of Recipient; test with errors.Is. Their texts are safe for a
// client to see.
var (
	// ErrNotReturnPath: the address is not one of Postern's return paths.
	ErrNotReturnPath = errors.New("not a return path of this server")
	// ErrUnknown: a return path that names no message or recipient of
	// this server (a forged or mistyped token, or a message long gone).
	ErrUnknown = errors.New("no such return path")
)

// Service is the return path's two ends.
type Service struct {
	Store store.Store
	Codec returnpath.Codec
	// Abuse, when set, is told of each bounce (bounce-rate suspension).
	Abuse *abuse.Watch
	Now   func() time.Time // nil: time.Now
	Log   *slog.Logger     // nil: discard
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Sender returns the envelope sender of each recipient of a claimed
// message (by index), or nil when the message keeps its own: the null
// sender, or a From domain that is not verified for the message's user
// or whose return-path MX is not published.
func (s *Service) Sender(ctx context.Context, c *store.Claim) (func(idx int) string, error) {
	at := strings.LastIndexByte(c.From, '@')
	if c.From == "" || at < 0 {
		return nil, nil
	}
	d, err := s.Store.Domain(ctx, c.From[at+1:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bounce: domain of %s: %w", c.ID, err)
	}
	if !d.ReturnPath {
		return nil, nil
	}
	var account int64 // looked up only for a shared domain of another user
	if d.UserID != c.UserID && d.Shared {
		u, err := s.Store.UserByName(ctx, c.UserName)
		if err != nil {
			return nil, fmt.Errorf("bounce: user of %s: %w", c.ID, err)
		}
		account = u.AccountID()
	}
	if !d.UsableBy(c.UserID, account) {
		return nil, nil
	}
	return func(idx int) string {
		return s.Codec.Address(returnpath.Token{MessageID: c.ID, Idx: idx, Domain: d.Name})
	}, nil
}

// Target is a recipient of one of our messages, named by a return path.
type Target struct {
	returnpath.Token
	UserID    int64
	UserName  string
	Recipient string // the address the message was sent to
}

// Recipient checks an RCPT address on the MX listener.
func (s *Service) Recipient(ctx context.Context, addr string) (Target, error) {
	tok, err := s.Codec.Parse(addr)
	switch {
	case errors.Is(err, returnpath.ErrNotReturnPath):
		return Target{}, ErrNotReturnPath
	case err != nil:
		return Target{}, ErrUnknown
	}
	m, err := s.Store.Message(ctx, tok.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		return Target{}, ErrUnknown
	}
	if err != nil {
		return Target{}, fmt.Errorf("bounce: message %s: %w", tok.MessageID, err)
	}
	if tok.Idx >= len(m.Recipients) {
		return Target{}, ErrUnknown
	}
	return Target{Token: tok, UserID: m.UserID, UserName: m.UserName, Recipient: m.Recipients[tok.Idx]}, nil
}

// Outcome says what Receive made of a message, per target.
type Outcome struct {
	Target Target
	// Bounced: the report says delivery failed; the recipient is now
	// bounced. Suppressed: and the address went on the suppression list.
	Bounced, Suppressed bool
	Detail              string
}

// Receive takes a message that arrived for targets. It returns an error
// only when the store failed; the client then gets a temporary failure
// and sends the report again. Each message's part is one transaction, so
// a report for several messages may have been recorded for some: sent
// again, it repeats their events, and changes nothing else (the states
// and suppressions are already set).
func (s *Service) Receive(ctx context.Context, targets []Target, from string, msg []byte) ([]Outcome, error) {
	now := s.now()
	report, perr := dsn.Parse(msg)
	byMessage := map[string]*store.Attempt{}
	var order []string
	var outs []Outcome
	for _, t := range targets {
		o := Outcome{Target: t}
		ev := store.Event{MessageID: t.MessageID, Recipient: t.Recipient, At: now}
		a := byMessage[t.MessageID]
		if a == nil {
			a = &store.Attempt{MessageID: t.MessageID, At: now}
			byMessage[t.MessageID] = a
			order = append(order, t.MessageID)
		}
		r, found := match(report, t, len(targets))
		switch {
		case perr != nil:
			ev.Type, ev.Detail = store.EventInbound, "message to the return path that is not a delivery report (from <"+from+">), discarded"
		case !found:
			ev.Type, ev.Detail = store.EventInbound, "delivery report to the return path without this recipient, discarded"
		case r.Action == dsn.Failed:
			code := dsn.StatusString(r.Status)
			o.Bounced, o.Detail = true, "bounced after delivery: "+code+reported(report, r)
			ev.Type, ev.Detail = store.EventBounced, o.Detail
			a.Updates = append(a.Updates, store.RecipientUpdate{Idx: t.Idx, State: store.RcptBounced, Result: o.Detail})
			if dsn.AboutAddress(r.Status) {
				o.Suppressed = true
				a.Suppress = append(a.Suppress, store.Suppression{UserID: t.UserID, Address: t.Recipient,
					Reason: "bounce " + code + reported(report, r), CreatedAt: now})
			}
		case r.Action == dsn.Delayed:
			ev.Type, ev.Detail = store.EventDeferred, "delay reported after delivery: "+dsn.StatusString(r.Status)+reported(report, r)
		default:
			ev.Type, ev.Detail = store.EventInbound, "delivery report: "+string(r.Action)+reported(report, r)
		}
		if o.Detail == "" {
			o.Detail = ev.Detail
		}
		a.Events = append(a.Events, ev)
		outs = append(outs, o)
	}
	bouncedUsers := map[string]bool{}
	for _, id := range order {
		if err := s.Store.RecordAttempt(ctx, *byMessage[id]); err != nil {
			return nil, fmt.Errorf("bounce: record %s: %w", id, err)
		}
	}
	for _, o := range outs {
		s.log().Info("return path", "msg_id", o.Target.MessageID, "rcpt_idx", o.Target.Idx, "user", o.Target.UserName,
			"bounced", o.Bounced, "suppressed", o.Suppressed, "detail", o.Detail)
		if o.Bounced {
			bouncedUsers[o.Target.UserName] = true
		}
	}
	for user := range bouncedUsers {
		if reason, err := s.Abuse.Bounced(ctx, user, now); err != nil {
			s.log().Error("bounce rate check", "user", user, "err", err)
		} else if reason != "" {
			s.log().Warn("user suspended", "user", user, "reason", reason)
		}
	}
	return outs, nil
}

// match finds the report's group for t: by address (final or original
// recipient), or the only group when the report and the message both
// have one recipient (a forwarding receiver may report another address:
// the return path already says which recipient it was).
func match(p *dsn.Parsed, t Target, targets int) (dsn.ParsedRecipient, bool) {
	if p == nil {
		return dsn.ParsedRecipient{}, false
	}
	for _, r := range p.Recipients {
		if strings.EqualFold(r.FinalRecipient, t.Recipient) || strings.EqualFold(r.OriginalRecipient, t.Recipient) {
			return r, true
		}
	}
	if len(p.Recipients) == 1 && targets == 1 {
		return p.Recipients[0], true
	}
	return dsn.ParsedRecipient{}, false
}

func reported(p *dsn.Parsed, r dsn.ParsedRecipient) string {
	var b strings.Builder
	if p.ReportingMTA != "" {
		b.WriteString(" reported by " + p.ReportingMTA)
	}
	if r.Diagnostic != "" {
		b.WriteString(" (" + r.Diagnostic + ")")
	}
	return b.String()
}
