package bounce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/arf"
	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/store"
)

// SecretName is the installation secret that keys return-path tokens.
// It names the secret, not the token version: v2 tokens are keyed with
// the same secret (internal/returnpath).
const SecretName = "return-path-v1"

// Bounds of what one received message can make Receive store.
const (
	// MaxTargets is the most return paths Receive records for one
	// received message: the first MaxTargets distinct ones; the rest are
	// ignored and logged. A genuine report comes to one return path (each
	// recipient is sent with an envelope sender of its own), so only mail
	// written to many return paths at once comes near it. The MX listener
	// may refuse RCPTs beyond it.
	MaxTargets = 100
	// MaxText is the most octets of any text Receive stores (event
	// detail, recipient result, suppression reason) or logs. Text from the
	// message (the envelope sender, the Reporting-MTA, a Diagnostic-Code)
	// is valid UTF-8 without control or bidirectional-control characters,
	// and cut at a character boundary.
	MaxText = 512
)

// Errors of Recipient; test with errors.Is. Their texts are safe for a
// client to see.
var (
	// ErrNotReturnPath: the address is not one of Postern's return paths.
	ErrNotReturnPath = errors.New("not a return path of this server")
	// ErrUnknown: a return path that names no message or recipient of
	// this server (a forged or mistyped token, or a message long gone).
	ErrUnknown = errors.New("no such return path")
	// ErrExpired: a genuine return path (its MAC verifies) made longer
	// than the codec's lifetime ago (domains.return_path_lifetime after
	// the delivery attempt that sent with it), or one of the undated
	// first version. The MX listener answers 550 5.1.1 "Return path
	// expired". Nothing is looked up or recorded for it.
	ErrExpired = errors.New("return path expired")
)

// Service is the return path's two ends.
type Service struct {
	Store bounceStore
	Codec returnpath.Codec
	// Abuse, when set, is told of each bounce (bounce-rate suspension).
	Abuse *abuse.Watch
	// FeedbackAddress, when set (smtp.feedback_address), is the fixed
	// address that feedback loops (Microsoft JMRP, Yahoo CFL) send their
	// reports to, rather than to the return path: Recipient accepts it,
	// letter case ignored, and Receive finds the message a report is
	// about from the return path in the reported message it encloses.
	FeedbackAddress string
	Now             func() time.Time // nil: time.Now
	Log             *slog.Logger     // nil: discard
}

// bounceStore is what the service needs of the store: to choose a
// sender, the From domain and the user; to take a bounce in, the message
// its token names and a way to record the outcome.
type bounceStore interface {
	Domain(ctx context.Context, name string) (store.Domain, error)
	UserByName(ctx context.Context, name string) (store.User, error)
	Message(ctx context.Context, id string) (store.Message, error)
	RecordAttempt(ctx context.Context, a store.Attempt) error
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
// or whose return-path MX is not published. attempt is the time of the
// delivery attempt: the addresses carry it and are accepted for the
// codec's lifetime after it, so each attempt sends with fresh ones.
func (s *Service) Sender(ctx context.Context, c *store.Claim, attempt time.Time) (func(idx int) string, error) {
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
		return s.Codec.Address(returnpath.Token{MessageID: c.ID, Idx: idx, Domain: d.Name, Date: attempt})
	}, nil
}

// Target is a recipient of one of our messages, named by a return path;
// or, with Feedback set, the feedback address, which names no recipient
// (the other fields are zero) until a report sent to it does.
type Target struct {
	returnpath.Token
	UserID    int64
	UserName  string
	Recipient string // the address the message was sent to
	Feedback  bool
}

// Recipient checks an RCPT address on the MX listener: one of Postern's
// return paths, or the FeedbackAddress. Its refusals are
// ErrNotReturnPath, ErrExpired and ErrUnknown.
func (s *Service) Recipient(ctx context.Context, addr string) (Target, error) {
	if s.FeedbackAddress != "" && strings.EqualFold(addr, s.FeedbackAddress) {
		return Target{Feedback: true}, nil
	}
	return s.returnPath(ctx, addr)
}

// returnPath is Recipient for return paths alone.
func (s *Service) returnPath(ctx context.Context, addr string) (Target, error) {
	tok, err := s.Codec.Parse(addr, s.now())
	switch {
	case errors.Is(err, returnpath.ErrNotReturnPath):
		return Target{}, ErrNotReturnPath
	case errors.Is(err, returnpath.ErrExpired):
		return Target{}, ErrExpired
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
	// SpamReport: a feedback report (RFC 5965) complained about the
	// message; the address went on the spam-report list (the recipient's
	// state is unchanged: it was delivered).
	SpamReport bool
	Detail     string
}

// Receive takes a message that arrived for targets. A target named more
// than once counts once, and only the first MaxTargets distinct targets
// count: there is one outcome, and one event, per target that counts. It
// returns an error only when the store failed; the client then gets a
// temporary failure and sends the report again. Each message's part is
// one transaction, so a report for several messages may have been
// recorded for some: sent again, it repeats their events, and changes
// nothing else (the states and suppressions are already set).
//
// A feedback report (internal/arf) whose type is a complaint records a
// spamreport event and a spam-report suppression for each target; one of
// another type (not-spam, auth-failure) an inbound event. A report that
// came to the FeedbackAddress counts, besides, for the recipient named by
// the first of its envelope sender candidates (arf.Report.Senders) that
// is a valid return path; one that names none, and anything that is not
// a feedback report, is discarded there with a log line.
func (s *Service) Receive(ctx context.Context, targets []Target, from string, msg []byte) ([]Outcome, error) {
	now := s.now()
	all := len(targets)
	feedback := false
	paths := make([]Target, 0, len(targets))
	for _, t := range targets {
		if t.Feedback {
			feedback = true
			continue
		}
		paths = append(paths, t)
	}
	targets = distinct(paths, MaxTargets)
	if len(targets) < len(paths) {
		s.log().Warn("return path message for too many recipients", "rcpts", all,
			"distinct_kept", len(targets), "max", MaxTargets)
	}
	from = clean(from, 256) // RFC 5321 §4.5.3.1.3: a path is at most 256 octets
	fb, ferr := arf.Parse(msg)
	if ferr == nil {
		return s.receiveFeedback(ctx, targets, feedback, fb, from, now)
	}
	if feedback {
		s.log().Info("feedback address: not a feedback report, discarded", "from", from, "err", ferr)
	}
	if len(targets) == 0 {
		return nil, nil
	}
	report, perr := dsn.Parse(msg)
	var rec attempts
	var outs []Outcome
	for _, t := range targets {
		o := Outcome{Target: t}
		ev := store.Event{MessageID: t.MessageID, Recipient: t.Recipient, At: now}
		a := rec.of(t.MessageID, now)
		r, found := match(report, t, len(targets))
		switch {
		case perr != nil:
			ev.Type, ev.Detail = store.EventInbound, clean("message to the return path that is not a delivery report (from <"+from+">), discarded", MaxText)
		case !found:
			ev.Type, ev.Detail = store.EventInbound, "delivery report to the return path without this recipient, discarded"
		case r.Action == dsn.Failed:
			code := dsn.StatusString(r.Status)
			o.Bounced, o.Detail = true, clean("bounced after delivery: "+code+reported(report, r), MaxText)
			ev.Type, ev.Detail = store.EventBounced, o.Detail
			a.Updates = append(a.Updates, store.RecipientUpdate{Idx: t.Idx, State: store.RcptBounced, Result: o.Detail})
			if dsn.AboutAddress(r.Status) {
				o.Suppressed = true
				a.Suppress = append(a.Suppress, store.Suppression{UserID: t.UserID, Address: t.Recipient,
					Reason: clean("bounce "+code+reported(report, r), MaxText), CreatedAt: now})
			}
		case r.Action == dsn.Delayed:
			ev.Type, ev.Detail = store.EventDeferred, clean("delay reported after delivery: "+dsn.StatusString(r.Status)+reported(report, r), MaxText)
		default:
			ev.Type, ev.Detail = store.EventInbound, clean("delivery report: "+string(r.Action)+reported(report, r), MaxText)
		}
		if o.Detail == "" {
			o.Detail = ev.Detail
		}
		a.Events = append(a.Events, ev)
		outs = append(outs, o)
	}
	if err := s.record(ctx, &rec, outs); err != nil {
		return nil, err
	}
	bouncedUsers := map[string]bool{}
	for _, o := range outs {
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

// receiveFeedback records a feedback report for targets and, when it came
// to the feedback address, for the recipient it names.
func (s *Service) receiveFeedback(ctx context.Context, targets []Target, feedback bool, r *arf.Report, from string, now time.Time) ([]Outcome, error) {
	by := reporter(r)
	if feedback {
		t, found, err := s.reportedTarget(ctx, r)
		if err != nil {
			return nil, err
		}
		if found {
			targets = distinct(append(targets, t), MaxTargets)
		} else {
			s.log().Info("feedback report for no message of this server, discarded", "from", from,
				"feedback_type", clean(string(r.FeedbackType), 64), "reporter", by)
		}
	}
	var detail string
	if r.FeedbackType.Complaint() {
		detail = clean("spam report (feedback-type "+string(r.FeedbackType)+") from "+by, MaxText)
	} else {
		detail = clean("feedback report (feedback-type "+string(r.FeedbackType)+") from "+by+", not a complaint", MaxText)
	}
	var rec attempts
	outs := make([]Outcome, 0, len(targets))
	for _, t := range targets {
		o := Outcome{Target: t, Detail: detail}
		ev := store.Event{MessageID: t.MessageID, Recipient: t.Recipient, Type: store.EventInbound, Detail: detail, At: now}
		a := rec.of(t.MessageID, now)
		if r.FeedbackType.Complaint() {
			o.SpamReport, ev.Type = true, store.EventSpamReport
			a.Suppress = append(a.Suppress, store.Suppression{UserID: t.UserID, Address: t.Recipient,
				Kind: store.SuppressSpamReport, Reason: detail, CreatedAt: now})
		}
		a.Events = append(a.Events, ev)
		outs = append(outs, o)
	}
	if err := s.record(ctx, &rec, outs); err != nil {
		return nil, err
	}
	return outs, nil
}

// reportedTarget finds the recipient a feedback report is about: the
// first of its envelope sender candidates that is a valid return path of
// a known message and recipient. Only a store failure is an error.
func (s *Service) reportedTarget(ctx context.Context, r *arf.Report) (Target, bool, error) {
	for _, addr := range r.Senders() {
		t, err := s.returnPath(ctx, addr)
		switch {
		case err == nil:
			return t, true, nil
		case errors.Is(err, ErrNotReturnPath):
		case errors.Is(err, ErrExpired), errors.Is(err, ErrUnknown):
			s.log().Info("feedback report names a return path not taken", "reason", err)
		default:
			return Target{}, false, err
		}
	}
	return Target{}, false, nil
}

// reporter names who sent a feedback report: its Reporting-MTA and its
// User-Agent, each cut to a domain name's length (RFC 1035 §2.3.4).
func reporter(r *arf.Report) string {
	mta, ua := clean(r.ReportingMTA, 255), clean(r.UserAgent, 255)
	switch {
	case mta != "" && ua != "":
		return mta + " (" + ua + ")"
	case mta != "":
		return mta
	}
	return ua
}

// attempts gathers what one received message changes, one store.Attempt
// per message, in the order the messages came.
type attempts struct {
	by    map[string]*store.Attempt
	order []string
}

// of returns the attempt of message id, new at its first use.
func (as *attempts) of(id string, now time.Time) *store.Attempt {
	if a := as.by[id]; a != nil {
		return a
	}
	if as.by == nil {
		as.by = map[string]*store.Attempt{}
	}
	a := &store.Attempt{MessageID: id, At: now}
	as.by[id] = a
	as.order = append(as.order, id)
	return a
}

// record commits each message's attempt, one transaction each, and logs
// the outcomes.
func (s *Service) record(ctx context.Context, as *attempts, outs []Outcome) error {
	for _, id := range as.order {
		if err := s.Store.RecordAttempt(ctx, *as.by[id]); err != nil {
			return fmt.Errorf("bounce: record %s: %w", id, err)
		}
	}
	for _, o := range outs {
		s.log().Info("return path", "msg_id", o.Target.MessageID, "rcpt_idx", o.Target.Idx, "user", o.Target.UserName,
			"bounced", o.Bounced, "suppressed", o.Suppressed, "spam_report", o.SpamReport, "detail", o.Detail)
	}
	return nil
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

// reported says who reported r and what they said; the Reporting-MTA is
// cut to a domain name's length (RFC 1035 §2.3.4), so that the diagnostic
// keeps its place in a text cut to MaxText.
func reported(p *dsn.Parsed, r dsn.ParsedRecipient) string {
	var b strings.Builder
	if p.ReportingMTA != "" {
		b.WriteString(" reported by " + clean(p.ReportingMTA, 255))
	}
	if r.Diagnostic != "" {
		b.WriteString(" (" + clean(r.Diagnostic, MaxText) + ")")
	}
	return b.String()
}

// distinct returns the first limit targets of ts that name distinct
// recipients (message id and index): an MTA may repeat an RCPT, or
// change its case.
func distinct(ts []Target, limit int) []Target {
	type key struct {
		id  string
		idx int
	}
	seen := make(map[key]bool, min(len(ts), limit))
	out := make([]Target, 0, min(len(ts), limit))
	for _, t := range ts {
		k := key{t.MessageID, t.Idx}
		if seen[k] {
			continue
		}
		if len(out) == limit {
			break
		}
		seen[k] = true
		out = append(out, t)
	}
	return out
}

// clean makes text from a received message fit to store and show: valid
// UTF-8, control characters (C0, DEL, C1) replaced by spaces,
// bidirectional controls (which can make a console show text reversed)
// removed, and at most limit octets, cut at a character boundary with an
// ellipsis.
func clean(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r):
			return ' '
		case unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, s)
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
