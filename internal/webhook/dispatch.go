package webhook

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/store"
)

// recordTimeout bounds the store call that records a POST's outcome. It
// runs even when Run's context has ended, so that a batch the receiver
// accepted is not sent again after a restart for want of its record.
const recordTimeout = 10 * time.Second

// Backoff bounds: the wait after a first failed POST, and the longest.
const (
	RetryFirst = 30 * time.Second
	RetryCap   = time.Hour
)

// backoff is the wait after the n-th failed POST of an item (1-based):
// RetryFirst, doubling up to RetryCap; jitter in [0,1) adds up to 10%.
func backoff(n int, jitter float64) time.Duration {
	d := RetryFirst
	for i := 1; i < n && d < RetryCap; i++ {
		d *= 2
	}
	d = min(d, RetryCap)
	if jitter > 0 && jitter < 1 {
		d += time.Duration(float64(d) * 0.1 * jitter)
	}
	return d
}

// jitter is a uniform number in [0,1) from Rand; 0 when Rand fails.
func (d *Dispatcher) jitter() float64 {
	var b [8]byte
	if _, err := io.ReadFull(d.cfg.Rand, b[:]); err != nil {
		return 0
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}

// rendered is a claimed item with the webhook events it stands for
// (none for a stored event that tells a receiver nothing).
type rendered struct {
	item   store.OutboxItem
	events []events.Event
}

// batch is the items of one POST and their events.
type batch struct {
	items  []store.OutboxItem
	events []events.Event
}

// batches cuts rs, in order, into POSTs of at most size events; an item
// with more events than size goes alone. Items without events ride along
// with their neighbours.
func batches(rs []rendered, size int) []batch {
	var out []batch
	var cur batch
	for _, r := range rs {
		if len(cur.events) > 0 && len(cur.events)+len(r.events) > size {
			out = append(out, cur)
			cur = batch{}
		}
		cur.items = append(cur.items, r.item)
		cur.events = append(cur.events, r.events...)
	}
	if len(cur.items) > 0 {
		out = append(out, cur)
	}
	return out
}

// dispatch sends one webhook's claimed items, in batches, in order. An
// item it leaves unrecorded (the store failed, the lease ran short, ctx
// ended) stays leased and is due again when the lease ends.
func (d *Dispatcher) dispatch(ctx context.Context, claimed time.Time, id string, items []store.OutboxItem, msgs *messages) {
	log := d.cfg.Log.With("webhook", id)
	w, err := d.cfg.Store.Webhook(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Deleted since the claim: DeleteWebhook took the outbox with
		// it, so there is nothing left to remove but a straggler.
		d.discard(ctx, id, items, "webhook deleted: events not sent")
		return
	case err != nil:
		if ctx.Err() == nil {
			log.Error("webhook read", "err", err)
		}
		return
	case !w.Enabled:
		d.discard(ctx, id, items, "webhook disabled: events not sent")
		return
	}
	var wanted, unwanted []store.OutboxItem
	for _, it := range items {
		if slices.Contains(w.Events, it.Event.Type) {
			wanted = append(wanted, it)
		} else {
			unwanted = append(unwanted, it)
		}
	}
	if len(unwanted) > 0 {
		d.discard(ctx, id, unwanted, fmt.Sprintf("event type %s no longer selected: not sent", unwanted[0].Event.Type))
	}
	if len(wanted) == 0 {
		return
	}
	var signer *events.Signer
	if w.Signed {
		s, err := signerOf(w)
		if err != nil {
			log.Error("webhook signing key", "err", err)
			d.fail(ctx, id, wanted, errorText(err))
			return
		}
		signer = &s
	}

	var rs []rendered
	for _, it := range wanted {
		m, err := msgs.get(ctx, it.Event.MessageID)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("webhook message read", "msg_id", it.Event.MessageID, "err", err)
			}
			continue
		}
		evs, err := events.FromStore(m, it.Event)
		if err != nil {
			log.Warn("webhook event cannot be rendered", "msg_id", it.Event.MessageID, "err", err)
			d.fail(ctx, id, []store.OutboxItem{it}, "cannot render event: "+err.Error())
			continue
		}
		rs = append(rs, rendered{item: it, events: evs})
	}

	bs := batches(rs, d.cfg.BatchSize)
	for i, b := range bs {
		if ctx.Err() != nil {
			return
		}
		if len(b.events) == 0 {
			d.delivered(ctx, id, b.items)
			continue
		}
		if d.cfg.Now().Sub(claimed) > d.cfg.Lease-d.cfg.Timeout {
			log.Info("webhook lease running short: the rest waits for the next round", "items", len(items))
			return
		}
		err := d.postBatch(ctx, w, b.events, signer)
		if err != nil && ctx.Err() != nil {
			return // cut short by the shutdown: the receiver is not at fault
		}
		if err != nil {
			text := errorText(err)
			var rest []store.OutboxItem
			for _, b := range bs[i:] {
				rest = append(rest, b.items...)
			}
			log.Warn("webhook POST failed", "err", text, "items", len(rest))
			d.cfg.Metrics.WebhookFailure()
			d.fail(ctx, id, rest, text)
			return
		}
		log.Debug("webhook POST accepted", "events", len(b.events))
		d.delivered(ctx, id, b.items)
	}
}

// postBatch POSTs evs to w's URL.
func (d *Dispatcher) postBatch(ctx context.Context, w store.Webhook, evs []events.Event, signer *events.Signer) error {
	body, err := events.MarshalBatch(evs)
	if err != nil {
		d.cfg.Log.Error("webhook encode", "webhook", w.ID, "err", err)
		return &Error{Text: "cannot encode events"}
	}
	return d.post(ctx, w.URL, body, signer)
}

// signerOf is w's signer; its error is an *Error.
func signerOf(w store.Webhook) (events.Signer, error) {
	key, err := events.ParseKey(w.PrivateKey)
	if err != nil {
		return events.Signer{}, &Error{Text: "signing key cannot be used: turn signing off and on again", err: err}
	}
	s, err := events.NewSigner(key)
	if err != nil {
		return events.Signer{}, &Error{Text: "signing key cannot be used: turn signing off and on again", err: err}
	}
	return s, nil
}

// record runs a store call that records an outcome, on a context that
// outlives ctx's end by at most recordTimeout.
func (d *Dispatcher) record(ctx context.Context, what, id string, n int, f func(ctx context.Context) error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := f(rctx); err != nil {
		d.cfg.Log.Error("webhook record "+what, "webhook", id, "items", n, "err", err)
	}
}

func (d *Dispatcher) delivered(ctx context.Context, id string, items []store.OutboxItem) {
	d.cfg.Metrics.WebhookItems(observe.WebhookDelivered, len(items))
	d.record(ctx, "delivered", id, len(items), func(ctx context.Context) error {
		return d.cfg.Store.OutboxDelivered(ctx, id, itemIDs(items), d.cfg.Now())
	})
}

func (d *Dispatcher) discard(ctx context.Context, id string, items []store.OutboxItem, why string) {
	d.cfg.Log.Info("webhook events discarded", "webhook", id, "items", len(items), "why", why)
	d.cfg.Metrics.WebhookItems(observe.WebhookDiscarded, len(items))
	d.record(ctx, "discard", id, len(items), func(ctx context.Context) error {
		return d.cfg.Store.OutboxDiscard(ctx, id, itemIDs(items), why, d.cfg.Now())
	})
}

// fail records a failed attempt of items: those RetryFor old are given
// up on, the others are due again after their backoff.
func (d *Dispatcher) fail(ctx context.Context, id string, items []store.OutboxItem, text string) {
	now := d.cfg.Now()
	var old, retry []store.OutboxItem
	attempts := 0
	for _, it := range items {
		if now.Sub(it.QueuedAt) >= d.cfg.RetryFor {
			old = append(old, it)
			continue
		}
		retry = append(retry, it)
		attempts = max(attempts, it.Attempts)
	}
	if len(retry) > 0 {
		d.cfg.Metrics.WebhookItems(observe.WebhookFailed, len(retry))
		next := now.Add(backoff(attempts+1, d.jitter()))
		d.record(ctx, "failed", id, len(retry), func(ctx context.Context) error {
			return d.cfg.Store.OutboxFailed(ctx, id, itemIDs(retry), next, text, now)
		})
	}
	// Last, so that the webhook's record says events were lost.
	if len(old) > 0 {
		d.discard(ctx, id, old, fmt.Sprintf("gave up after %s: %s", span(d.cfg.RetryFor), text))
	}
}

func itemIDs(items []store.OutboxItem) []int64 {
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids
}

// span writes a retry period for people: "72h", "36h30m".
func span(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dh%dm", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return d.String()
}
