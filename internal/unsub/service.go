package unsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

// Store is what redemption needs: the message a token names, the user's
// unsubscribe list, and the one transaction that adds to it and records
// the event (store.DeliveryStore's).
type Store interface {
	Message(ctx context.Context, id string) (store.Message, error)
	FindSuppressions(ctx context.Context, f store.SuppressionFilter) ([]store.Suppression, error)
	RecordAttempt(ctx context.Context, a store.Attempt) error
}

// Reason is the reason an unsubscription is stored with, on the list
// and in the event.
const Reason = "one-click unsubscribe (List-Unsubscribe-Post)"

// Service redeems tokens. Codec, Store and Now are required.
type Service struct {
	Codec Codec
	Store Store
	Now   func() time.Time
	Log   *slog.Logger // nil: discard
}

// Outcome is what Unsubscribe did.
type Outcome struct {
	Token Token
	// Already: the address was on the user's unsubscribe list before,
	// and nothing was recorded.
	Already bool
}

// Check verifies tok and that it names a message of its user, and
// changes nothing. A token that does not verify is ErrInvalid.
func (s *Service) Check(ctx context.Context, tok string) (Token, error) {
	t, err := s.Codec.Decode(tok)
	if err != nil {
		return Token{}, err
	}
	m, err := s.Store.Message(ctx, t.MessageID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Token{}, ErrInvalid
	case err != nil:
		return Token{}, fmt.Errorf("unsub: message %s: %w", t.MessageID, err)
	case m.UserID != t.UserID:
		return Token{}, ErrInvalid
	}
	return t, nil
}

// Unsubscribe verifies tok and puts its recipient on its user's
// unsubscribe list with an unsubscribe event for its message, in one
// transaction; an address on the list already records nothing.
func (s *Service) Unsubscribe(ctx context.Context, tok string) (Outcome, error) {
	t, err := s.Check(ctx, tok)
	if err != nil {
		return Outcome{}, err
	}
	addr := strings.ToLower(t.Recipient)
	on, err := s.Store.FindSuppressions(ctx, store.SuppressionFilter{UserID: t.UserID, Kind: store.SuppressUnsubscribe, Address: addr})
	if err != nil {
		return Outcome{}, fmt.Errorf("unsub: %s: %w", t.MessageID, err)
	}
	if len(on) > 0 {
		return Outcome{Token: t, Already: true}, nil
	}
	now := s.Now()
	err = s.Store.RecordAttempt(ctx, store.Attempt{
		MessageID: t.MessageID,
		At:        now,
		Events:    []store.Event{{MessageID: t.MessageID, Recipient: t.Recipient, Type: store.EventUnsubscribe, Detail: Reason, At: now}},
		Suppress:  []store.Suppression{{UserID: t.UserID, Address: addr, Kind: store.SuppressUnsubscribe, Reason: Reason, CreatedAt: now}},
	})
	if err != nil {
		return Outcome{}, fmt.Errorf("unsub: record %s: %w", t.MessageID, err)
	}
	s.log().Info("unsubscribed", "msg_id", t.MessageID, "user_id", t.UserID, "via", "one-click")
	return Outcome{Token: t}, nil
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
