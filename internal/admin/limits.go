package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/postern/postern/internal/quota"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/store"
)

// LimitTarget is what a rate-limit override applies to: a user by name or
// an API key by id, exactly one of them.
type LimitTarget struct {
	User string
	Key  string
}

// SetLimit creates or replaces the override of lim's period for t. Limits
// are the operator's: SendGrid has no API for them, and a tenant that
// could lift its own would have none.
func (s *Service) SetLimit(ctx context.Context, a Actor, t LimitTarget, lim ratelimit.Limit) (store.LimitRow, error) {
	if !a.Operator {
		return store.LimitRow{}, fmt.Errorf("%w: limits are set by the operator", ErrForbidden)
	}
	if (t.User == "") == (t.Key == "") {
		return store.LimitRow{}, Invalid("", "give exactly one of a user and a key")
	}
	if err := lim.Validate(); err != nil {
		return store.LimitRow{}, Invalid("limit", "%v", err)
	}
	row := store.LimitRow{Period: string(lim.Period), Messages: lim.Messages, Recipients: lim.Recipients, Mode: string(lim.Mode)}
	if t.User != "" {
		if _, _, err := s.userAndAccount(ctx, t.User); err != nil {
			return store.LimitRow{}, err
		}
		row.Kind, row.Subject = ratelimit.KindUser, t.User
	} else {
		_, err := s.Store.APIKey(ctx, t.Key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return store.LimitRow{}, fmt.Errorf("%w: API key %q", ErrNotFound, t.Key)
		case err != nil:
			return store.LimitRow{}, fmt.Errorf("admin: limit for key %s: %w", t.Key, err)
		}
		row.Kind, row.Subject = ratelimit.KindKey, t.Key
	}
	if err := s.Store.SetLimit(ctx, row); err != nil {
		return store.LimitRow{}, fmt.Errorf("admin: set limit: %w", err)
	}
	return row, nil
}

// ListLimits returns every override (the operator's only).
func (s *Service) ListLimits(ctx context.Context, a Actor) ([]store.LimitRow, error) {
	if !a.Operator {
		return nil, fmt.Errorf("%w: limits are the operator's", ErrForbidden)
	}
	rows, err := s.Store.Limits(ctx, "", "")
	if err != nil {
		return nil, fmt.Errorf("admin: list limits: %w", err)
	}
	return rows, nil
}

// Usage is what a user sent in one period's current window.
type Usage struct {
	Period     ratelimit.Period
	Since      time.Time
	Messages   int64
	Recipients int64
}

// UserUsage counts the messages and recipients of the user named name in
// each current window at now, from the queue as the server counts them
// at start. The operator may ask for anyone, a key for its own user.
func (s *Service) UserUsage(ctx context.Context, a Actor, name string, now time.Time) ([]Usage, error) {
	u, _, err := s.userAndAccount(ctx, name)
	if err != nil {
		return nil, err
	}
	if !a.reaches(u.ID) {
		return nil, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	var out []Usage
	for _, p := range ratelimit.Periods() {
		start, _ := ratelimit.Window(p, now)
		rows, err := s.Store.UsageSince(ctx, start)
		if err != nil {
			return nil, fmt.Errorf("admin: usage of %s: %w", name, err)
		}
		c := quota.Tally(rows)[ratelimit.User(name)]
		out = append(out, Usage{Period: p, Since: start, Messages: c.Messages, Recipients: c.Recipients})
	}
	return out, nil
}
