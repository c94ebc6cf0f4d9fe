package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/postern/postern/internal/store"
)

// The queue's scopes. SendGrid has no queue to administer; these are its
// names for the nearest permissions: reading the Email Activity feed
// (messages and their events), and changing scheduled sends (pausing,
// resuming, cancelling mail not yet sent).
const (
	ScopeQueueRead   = "messages.read"
	ScopeQueueUpdate = "user.scheduled_sends.update"
)

// QueueState is what QueueFilter.State selects.
type QueueState string

const (
	QueueAll       QueueState = ""          // every message
	QueueQueued    QueueState = "queued"    // a recipient is still pending
	QueueDeferred  QueueState = "deferred"  // queued, and tried at least once already
	QueueDone      QueueState = "done"      // no recipient pending any more
	QueueDelivered QueueState = "delivered" // a recipient was delivered
	QueueBounced   QueueState = "bounced"   // a recipient bounced
	QueueDropped   QueueState = "dropped"   // a recipient was dropped (suppressed, or by the operator)
)

// QueueStates returns, in a new slice, the states QueueFilter takes
// besides QueueAll.
func QueueStates() []QueueState {
	return []QueueState{QueueQueued, QueueDeferred, QueueDone, QueueDelivered, QueueBounced, QueueDropped}
}

// QueueFilter selects messages for ListQueue. The zero value lists every
// message the Actor reaches.
type QueueFilter struct {
	State QueueState
	// User names the user whose messages to list; "": every user the
	// Actor reaches (the operator: all; a key: its user's).
	User string
	// Since: only messages created at or after it; zero: any time.
	Since time.Time
	// Limit: at most that many messages; 0: no limit.
	Limit int
	// After is the id of the last message of the previous page (its
	// QueuePage.Next); Offset skips that many messages after it.
	After  string
	Offset int
}

// QueuePage is one page of ListQueue.
type QueuePage struct {
	// Messages in queue order: oldest first, then by id.
	Messages []store.Message
	// More: further messages match; Next is then the After of the next
	// page (the last listed id).
	More bool
	Next string
}

// ListQueue lists the messages f selects that the Actor reaches.
func (s *Service) ListQueue(ctx context.Context, a Actor, f QueueFilter) (QueuePage, error) {
	if err := a.need(ScopeQueueRead); err != nil {
		return QueuePage{}, err
	}
	sf, err := queueStoreFilter(f.State)
	if err != nil {
		return QueuePage{}, err
	}
	switch {
	case f.Limit < 0:
		return QueuePage{}, Invalid("limit", "must not be negative")
	case f.Offset < 0:
		return QueuePage{}, Invalid("offset", "must not be negative")
	}
	switch {
	case f.User != "":
		u, err := s.Store.UserByName(ctx, f.User)
		switch {
		case errors.Is(err, store.ErrNotFound) || err == nil && !a.reaches(u.ID):
			return QueuePage{}, fmt.Errorf("%w: user %q", ErrNotFound, f.User)
		case err != nil:
			return QueuePage{}, fmt.Errorf("admin: queue of %q: %w", f.User, err)
		}
		sf.UserID = u.ID
	case !a.Operator:
		sf.UserID = a.User.ID
	}
	if f.After != "" {
		// The cursor must be the Actor's own: another tenant's id would
		// tell, by where the page starts, that it exists and when.
		if _, err := s.queuedMessage(ctx, a, f.After); err != nil {
			return QueuePage{}, err
		}
	}
	sf.Since, sf.After, sf.Offset = f.Since, f.After, f.Offset
	if f.Limit > 0 {
		sf.Limit = f.Limit + 1 // one more tells whether there are more
	}
	msgs, err := s.Store.ListMessages(ctx, sf)
	if err != nil {
		return QueuePage{}, fmt.Errorf("admin: list queue: %w", err)
	}
	page := QueuePage{Messages: msgs}
	if f.Limit > 0 && len(msgs) > f.Limit {
		page.Messages, page.More = msgs[:f.Limit], true
		page.Next = page.Messages[f.Limit-1].ID
	}
	return page, nil
}

// queueStoreFilter is the store's filter for state.
func queueStoreFilter(state QueueState) (store.MessageFilter, error) {
	switch state {
	case QueueAll:
		return store.MessageFilter{}, nil
	case QueueQueued:
		return store.MessageFilter{State: store.StateQueued}, nil
	case QueueDeferred:
		return store.MessageFilter{State: store.StateQueued, Retried: true}, nil
	case QueueDone:
		return store.MessageFilter{State: store.StateDone}, nil
	case QueueDelivered:
		return store.MessageFilter{Recipient: store.RcptDelivered}, nil
	case QueueBounced:
		return store.MessageFilter{Recipient: store.RcptBounced}, nil
	case QueueDropped:
		return store.MessageFilter{Recipient: store.RcptDropped}, nil
	}
	var names []string
	for _, st := range QueueStates() {
		names = append(names, string(st))
	}
	return store.MessageFilter{}, Invalid("state", "%q is not one of %s", string(state), strings.Join(names, ", "))
}

// MessageDetail is a message with its recipients and history.
type MessageDetail struct {
	// Message has the attempts so far and, while queued, the next
	// attempt's time.
	Message    store.Message
	Recipients []store.Recipient // each with its state and last result
	Events     []store.Event     // oldest first
	// LastReply is the latest attempt's outcome (a deferred, delivered or
	// bounced event: the receiver's reply, or why none came); its Type
	// is "" before any.
	LastReply store.Event
}

// ShowMessage returns the message id, if the Actor reaches it.
func (s *Service) ShowMessage(ctx context.Context, a Actor, id string) (MessageDetail, error) {
	if err := a.need(ScopeQueueRead); err != nil {
		return MessageDetail{}, err
	}
	m, err := s.queuedMessage(ctx, a, id)
	if err != nil {
		return MessageDetail{}, err
	}
	d := MessageDetail{Message: m}
	if d.Recipients, err = s.Store.Recipients(ctx, id); err != nil {
		return MessageDetail{}, fmt.Errorf("admin: message %s: %w", id, err)
	}
	if d.Events, err = s.Store.Events(ctx, id); err != nil {
		return MessageDetail{}, fmt.Errorf("admin: message %s: %w", id, err)
	}
	for _, e := range d.Events {
		switch e.Type {
		case store.EventDeferred, store.EventDelivered, store.EventBounced:
			d.LastReply = e
		}
	}
	return d, nil
}

// RetryMessage makes a queued message the Actor reaches due now. A
// message that is done is ErrNotFound: there is no queued message to
// retry.
func (s *Service) RetryMessage(ctx context.Context, a Actor, id string) error {
	if err := a.need(ScopeQueueUpdate); err != nil {
		return err
	}
	if _, err := s.queuedMessage(ctx, a, id); err != nil {
		return err
	}
	err := s.Store.RetryNow(ctx, id, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: no queued message %q", ErrNotFound, id)
	case err != nil:
		return fmt.Errorf("admin: retry %s: %w", id, err)
	}
	return nil
}

// DropMessage drops the pending recipients of a message the Actor
// reaches, in one transaction, and records who dropped them. A message
// without pending recipients is ErrNotFound.
func (s *Service) DropMessage(ctx context.Context, a Actor, id string) error {
	if err := a.need(ScopeQueueUpdate); err != nil {
		return err
	}
	if _, err := s.queuedMessage(ctx, a, id); err != nil {
		return err
	}
	reason := "dropped by the operator"
	if !a.Operator {
		reason = "dropped by API key " + a.Key.ID
	}
	err := s.Store.Drop(ctx, id, reason, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: no message %q with pending recipients", ErrNotFound, id)
	case err != nil:
		return fmt.Errorf("admin: drop %s: %w", id, err)
	}
	return nil
}

// queuedMessage loads the message id if the Actor reaches it; another
// tenant's is ErrNotFound, as a missing one is.
func (s *Service) queuedMessage(ctx context.Context, a Actor, id string) (store.Message, error) {
	m, err := s.Store.Message(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !a.reaches(m.UserID):
		return store.Message{}, fmt.Errorf("%w: message %q", ErrNotFound, id)
	case err != nil:
		return store.Message{}, fmt.Errorf("admin: message %s: %w", id, err)
	}
	return m, nil
}
