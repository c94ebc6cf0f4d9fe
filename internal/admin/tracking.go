package admin

import (
	"context"

	"github.com/postern/postern/internal/store"
)

// The subscription tracking scopes (SendGrid's names).
const (
	ScopeSubscriptionRead   = "tracking_settings.subscription.read"
	ScopeSubscriptionUpdate = "tracking_settings.subscription.update"
)

// SubscriptionTracking reports whether the Actor's user has one-click
// unsubscribe on (store.User.ListUnsubscribe): SendGrid's subscription
// tracking, of which Postern keeps only "enabled".
func (s *Service) SubscriptionTracking(ctx context.Context, a Actor) (bool, error) {
	if err := a.need(ScopeSubscriptionRead); err != nil {
		return false, err
	}
	u, err := s.actingUser(ctx, a)
	if err != nil {
		return false, err
	}
	return u.ListUnsubscribe, nil
}

// SetSubscriptionTracking turns the Actor's user's one-click unsubscribe
// on or off (nil: leaves it) and returns the setting as it then is.
// Unlike the operator's other user settings (SetUserSettings) it is the
// user's own: it changes only the headers of the user's mail.
func (s *Service) SetSubscriptionTracking(ctx context.Context, a Actor, enabled *bool) (bool, error) {
	if err := a.need(ScopeSubscriptionUpdate); err != nil {
		return false, err
	}
	u, err := s.actingUser(ctx, a)
	if err != nil {
		return false, err
	}
	if enabled == nil {
		return u.ListUnsubscribe, nil
	}
	if err := s.Store.UpdateUserSettings(ctx, u.Name, store.UserSettings{ListUnsubscribe: enabled}); err != nil {
		return false, s.userErr(u.Name, "set", err)
	}
	return *enabled, nil
}

// actingUser loads the Actor's user afresh (a key's Actor holds the user
// as it was when the key was checked).
func (s *Service) actingUser(ctx context.Context, a Actor) (store.User, error) {
	if a.User.ID == 0 {
		return store.User{}, Invalid("", "name the user whose setting this is")
	}
	return s.reachedUser(ctx, a, a.User.Name)
}
