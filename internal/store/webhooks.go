package store

import (
	"context"
	"time"
)

// Webhook is one of a user's event webhooks: where its events are POSTed,
// which, and whether they are signed.
type Webhook struct {
	ID           string // random, public (SendGrid's webhook id)
	UserID       int64
	URL          string
	Enabled      bool
	FriendlyName string
	// Events are the store's event types the webhook receives; an event
	// of another type is not put in its outbox.
	Events []EventType
	// PrivateKey is the signing key (PKCS#8 DER) when Signed; it stays
	// when signing is turned off, so that turning it on again keeps the
	// public key receivers have.
	Signed     bool
	PrivateKey []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time

	// What the dispatcher last saw: the time of the last batch the
	// receiver accepted, and the last failure.
	LastSuccessAt time.Time
	LastError     string
	LastErrorAt   time.Time
}

// OutboxItem is one event waiting to be POSTed to one webhook.
type OutboxItem struct {
	ID        int64
	WebhookID string
	Attempts  int // POSTs tried so far
	QueuedAt  time.Time
	Event     Event
}

// WebhookStore keeps users' event webhooks and their outbox: a row per
// event and webhook, written in the transaction that records the event
// (EnqueueBatch, RecordAttempt, Drop), so an event is never recorded
// without its outbox row, nor the other way round.
type WebhookStore interface {
	// CreateWebhook stores w; a taken id is ErrExists, an unknown user
	// ErrNotFound.
	CreateWebhook(ctx context.Context, w Webhook) error
	Webhook(ctx context.Context, id string) (Webhook, error)
	// Webhooks lists a user's webhooks, oldest first.
	Webhooks(ctx context.Context, userID int64) ([]Webhook, error)
	// UpdateWebhook replaces w's settings (URL, Enabled, FriendlyName,
	// Events, Signed, PrivateKey, UpdatedAt).
	UpdateWebhook(ctx context.Context, w Webhook) error
	// DeleteWebhook removes the webhook and its outbox.
	DeleteWebhook(ctx context.Context, id string) error

	// ClaimOutbox leases up to limit due items, oldest first: each is
	// not due again until now+lease. Nodes claiming at once take
	// different items.
	ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]OutboxItem, error)
	// OutboxDelivered removes the items the webhook's receiver accepted
	// and records the success.
	OutboxDelivered(ctx context.Context, webhookID string, ids []int64, at time.Time) error
	// OutboxFailed counts an attempt of the items, makes them due again
	// at next, and records the error on the webhook.
	OutboxFailed(ctx context.Context, webhookID string, ids []int64, next time.Time, errText string, at time.Time) error
	// OutboxDiscard removes items given up on, recording why.
	OutboxDiscard(ctx context.Context, webhookID string, ids []int64, errText string, at time.Time) error
	// OutboxBacklog counts the webhook's items waiting.
	OutboxBacklog(ctx context.Context, webhookID string) (int, error)
}
