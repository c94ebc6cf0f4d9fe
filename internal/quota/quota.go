package quota

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/store"
)

// Service decides whether a principal may send now. It counts in process
// (New) or in the store (NewShared); see the package doc.
type Service struct {
	limitStore   store.LimitStore   // the overrides; in process, the usage to seed from
	counterStore store.CounterStore // shared mode only; nil in process
	defaults     []ratelimit.Limit
	lim          *ratelimit.Limiter // nil in shared mode
	log          *slog.Logger       // shared mode: failed give-backs
}

// New returns a service that counts in process, for a store one node
// owns; Seed must be called before it serves.
func New(st store.LimitStore, defaults []ratelimit.Limit) *Service {
	return &Service{limitStore: st, defaults: defaults, lim: ratelimit.NewLimiter()}
}

// Seed restores the current windows' counts from the store. In shared
// mode it does nothing: the counters are in the store already.
func (s *Service) Seed(ctx context.Context, now time.Time) error {
	if s.lim == nil {
		return nil
	}
	for _, p := range ratelimit.Periods() {
		start, _ := ratelimit.Window(p, now)
		rows, err := s.limitStore.UsageSince(ctx, start)
		if err != nil {
			return fmt.Errorf("quota: seed: %w", err)
		}
		for subj, c := range Tally(rows) {
			s.lim.Seed(subj, p, start, c)
		}
	}
	return nil
}

// Tally sums usage rows per subject: each key, each user, and each
// account over its subusers.
func Tally(rows []store.UsageRow) map[ratelimit.Subject]ratelimit.Counts {
	out := map[ratelimit.Subject]ratelimit.Counts{}
	add := func(s ratelimit.Subject, r store.UsageRow) {
		c := out[s]
		c.Messages += r.Messages
		c.Recipients += r.Recipients
		out[s] = c
	}
	for _, r := range rows {
		if r.KeyID != "" {
			add(ratelimit.Key(r.KeyID), r)
		}
		add(ratelimit.User(r.UserName), r)
		if r.ParentName != "" {
			add(ratelimit.User(r.ParentName), r)
		}
	}
	return out
}

// limits returns the subject's limits: the store's overrides merged over
// the defaults (users) or alone (keys).
func (s *Service) limits(ctx context.Context, kind, subject string) ([]ratelimit.Limit, error) {
	rows, err := s.limitStore.Limits(ctx, kind, subject)
	if err != nil {
		return nil, err
	}
	var over []ratelimit.Limit
	for _, r := range rows {
		over = append(over, ratelimit.Limit{Period: ratelimit.Period(r.Period), Messages: r.Messages,
			Recipients: r.Recipients, Mode: ratelimit.Mode(r.Mode)})
	}
	if kind == ratelimit.KindKey {
		return over, nil
	}
	return ratelimit.Merge(s.defaults, over), nil
}

func (s *Service) request(ctx context.Context, p account.Principal, rcpts int, now time.Time) (ratelimit.Request, error) {
	req := ratelimit.Request{Recipients: int64(rcpts), Now: now}
	add := func(kind, id string, subj ratelimit.Subject) error {
		ls, err := s.limits(ctx, kind, id)
		if err != nil {
			return fmt.Errorf("quota: limits of %s: %w", subj, err)
		}
		req.Subjects = append(req.Subjects, ratelimit.SubjectLimits{Subject: subj, Limits: ls})
		return nil
	}
	if err := add(ratelimit.KindKey, p.Key.ID, ratelimit.Key(p.Key.ID)); err != nil {
		return req, err
	}
	if err := add(ratelimit.KindUser, p.User.Name, ratelimit.User(p.User.Name)); err != nil {
		return req, err
	}
	if p.Account.ID != p.User.ID && p.Account.Name != "" {
		if err := add(ratelimit.KindUser, p.Account.Name, ratelimit.User(p.Account.Name)); err != nil {
			return req, err
		}
	}
	return req, nil
}

// Check tells, without counting anything, whether one more message would
// be refused now (asked at MAIL, before the client sends the content).
func (s *Service) Check(ctx context.Context, p account.Principal, now time.Time) (ratelimit.Decision, error) {
	req, err := s.request(ctx, p, 0, now)
	if err != nil {
		return ratelimit.Decision{}, err
	}
	if s.lim == nil {
		return s.checkShared(ctx, req)
	}
	usage := ratelimit.Usage{}
	for _, sl := range req.Subjects {
		usage[sl.Subject] = s.lim.Usage(sl.Subject, now)
	}
	return ratelimit.Decide(req, usage), nil
}

// Reserve counts a message with rcpts recipients if the limits allow it
// (or hold it); the reservation is cancelled if the message is then not
// accepted after all. A held message is counted in the windows of its
// release time (ratelimit.Plan).
func (s *Service) Reserve(ctx context.Context, p account.Principal, rcpts int, now time.Time) (ratelimit.Decision, ratelimit.Reservation, error) {
	req, err := s.request(ctx, p, rcpts, now)
	if err != nil {
		return ratelimit.Decision{}, ratelimit.Reservation{}, err
	}
	if s.lim == nil {
		return s.reserveShared(ctx, req)
	}
	d, r := s.lim.Reserve(req)
	return d, r, nil
}

// Defaults builds the default limits from per-period numbers.
func Defaults(mode ratelimit.Mode, messages, recipients [4]int64) []ratelimit.Limit {
	var out []ratelimit.Limit
	for i, p := range ratelimit.Periods() {
		if messages[i] > 0 || recipients[i] > 0 {
			out = append(out, ratelimit.Limit{Period: p, Messages: messages[i], Recipients: recipients[i], Mode: mode})
		}
	}
	return out
}
