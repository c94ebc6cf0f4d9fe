package webhook

import (
	"context"
	"encoding/base64"
	"io"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

// TestEmail is the recipient of the test events, as in SendGrid's.
const TestEmail = "example@test.com"

// SendTest POSTs a sample of the events Postern sends (one processed,
// deferred, delivered, bounce and dropped event for TestEmail, each with
// its own random sg_event_id) to url, or to w's URL when url is "",
// signed with w's key when w is signed, through the same client and
// address rule as every POST. It does not touch the outbox or w's record.
// The error is an *Error, whose text is safe to show the webhook's owner.
// It is the settings API's test (admin.WebhookTester).
func (d *Dispatcher) SendTest(ctx context.Context, w store.Webhook, url string) error {
	if url == "" {
		url = w.URL
	}
	if err := ValidateURL(url); err != nil {
		return err
	}
	var signer *events.Signer
	if w.Signed {
		s, err := signerOf(w)
		if err != nil {
			return err
		}
		signer = &s
	}
	body, err := events.MarshalBatch(sampleEvents(d.cfg.Now(), d.cfg.Rand))
	if err != nil {
		return &Error{Text: "cannot encode events", err: err}
	}
	return d.post(ctx, url, body, signer)
}

// sampleEvents are the test POST's events, stamped at now.
func sampleEvents(now time.Time, rand io.Reader) []events.Event {
	id := func() string {
		var b [16]byte
		io.ReadFull(rand, b[:]) // a short read leaves zeros: the ids are only samples
		return base64.RawURLEncoding.EncodeToString(b[:])
	}
	msgID := id()
	base := events.Event{
		Email:       TestEmail,
		Timestamp:   now.Unix(),
		SGMessageID: msgID,
		SMTPID:      "<" + msgID + "@postern.test>",
		Categories:  []string{"test"},
	}
	tlsOn := true
	mk := func(t events.Type, f func(*events.Event)) events.Event {
		e := base
		e.Event, e.SGEventID = t, id()
		if f != nil {
			f(&e)
		}
		return e
	}
	return []events.Event{
		mk(events.Processed, nil),
		mk(events.Deferred, func(e *events.Event) {
			e.Response, e.Status, e.Attempt = "451 4.7.1 try again later", "4.7.1", 1
		}),
		mk(events.Delivered, func(e *events.Event) {
			e.Response, e.TLS = "250 2.0.0 OK", &tlsOn
		}),
		mk(events.Bounce, func(e *events.Event) {
			e.Reason, e.Status, e.Type = "550 5.1.1 mailbox does not exist", "5.1.1", events.BounceHard
		}),
		mk(events.Dropped, func(e *events.Event) {
			e.Reason = "Bounced Address"
		}),
	}
}
