package events

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/postern/postern/internal/compose"
	"github.com/postern/postern/internal/store"
)

// FromStore maps one event Postern recorded for message m to the webhook
// events it stands for, with the message's categories, custom arguments
// and ASM group from m.Meta (compose.Meta as JSON).
//
// Postern's events become SendGrid's thus:
//
//   - processed (accepted into the queue) → processed.
//   - deferred (a temporary failure, retried; or a delay a later report
//     told of) → deferred, the detail as response, its enhanced code as
//     status, tls from the remote part of the detail.
//   - delivered (the receiver accepted it; RcptDelivered) → delivered,
//     the detail (the receiver's reply and the TLS used) as response.
//   - bounced (RcptBounced: a permanent refusal, a retry period given up,
//     or a bounce reported after acceptance) → bounce, the detail as
//     reason and its enhanced code as status. type is blocked when the
//     receiver refused on policy grounds (an enhanced code 5.7.x) or
//     delivery was given up after retrying, bounce otherwise: SendGrid's
//     "blocks" are refusals that are not about the address.
//   - dropped (RcptDropped: suppressed, or dropped by the operator) →
//     dropped, the detail as reason.
//   - delayed (a delay notice went to the sender; an event about the
//     whole message) → delayed, one event per recipient of m.
//   - inbound (mail to the return path that reports no failure) → none:
//     it tells a receiver nothing about a recipient.
//   - spamreport (a feedback report in which the recipient complained
//     about the message) → spamreport, with no reason or status.
//   - unsubscribe (the recipient unsubscribed from all of the user's
//     mail) → unsubscribe.
//
// An event with no recipient becomes one event per recipient of m. The
// sg_event_id is derived from the stored event (message, recipient, type,
// detail, time) and the recipient it is rendered for, so rendering the
// same stored event again gives the same id, and a receiver can
// deduplicate retried deliveries on it. sg_message_id is m.ID, the id the
// send API returns in X-Message-Id. Left for the caller: SMTPID (the
// store keeps no Message-ID header apart from the body), Attempt (the
// number of the attempt a deferral was, known to the delivery worker),
// and IP (the sending address). An unknown event type or Meta that is
// not compose.Meta's JSON is an error.
func FromStore(m store.Message, e store.Event) ([]Event, error) {
	if e.Type == store.EventInbound {
		return nil, nil
	}
	var meta compose.Meta
	if m.Meta != "" {
		if err := json.Unmarshal([]byte(m.Meta), &meta); err != nil {
			return nil, fmt.Errorf("events: message %s: meta: %w", m.ID, err)
		}
	}
	base := Event{
		Timestamp:   e.At.Unix(),
		SGMessageID: m.ID,
		Categories:  meta.Categories,
		ASMGroupID:  meta.ASMGroupID,
		CustomArgs:  meta.CustomArgs,
	}
	switch e.Type {
	case store.EventProcessed:
		base.Event = Processed
	case store.EventDeferred:
		base.Event = Deferred
		base.Response, base.Status, base.TLS = e.Detail, status(e.Detail), usedTLS(e.Detail)
	case store.EventDelivered:
		base.Event = Delivered
		base.Response, base.TLS = e.Detail, usedTLS(e.Detail)
	case store.EventBounced:
		base.Event = Bounce
		base.Reason, base.Status = e.Detail, status(e.Detail)
		base.Type = BounceHard
		if Blocked(e.Detail) {
			base.Type = BounceBlocked
		}
	case store.EventDropped:
		base.Event = Dropped
		base.Reason = e.Detail
	case store.EventDelayed:
		base.Event = Delayed
	case store.EventSpamReport:
		base.Event = SpamReport
	case store.EventUnsubscribe:
		base.Event = Unsubscribe
	default:
		return nil, fmt.Errorf("events: message %s: unknown event type %q", m.ID, e.Type)
	}
	rcpts := []string{e.Recipient}
	if e.Recipient == "" {
		rcpts = m.Recipients
	}
	out := make([]Event, 0, len(rcpts))
	for _, r := range rcpts {
		ev := base
		ev.Email = r
		ev.SGEventID = eventID(e, r)
		out = append(out, ev)
	}
	return out, nil
}

// Blocked reports whether a bounced event's stored detail is a block
// (SendGrid's bounce type "blocked"): a refusal on policy grounds (an
// enhanced code 5.7.x) or delivery given up after retrying, rather than
// a refusal of the address.
func Blocked(detail string) bool {
	return strings.HasPrefix(status(detail), "5.7.") || strings.HasPrefix(detail, "gave up after ")
}

// eventID is a stable, unique id for stored event e rendered for
// recipient rcpt: 128 bits of SHA-256 over the fields, each
// length-prefixed so that no two different inputs run together.
func eventID(e store.Event, rcpt string) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range []string{e.MessageID, e.Recipient, string(e.Type), e.Detail, rcpt} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.At.UnixNano()))
	h.Write(n[:])
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

// enhanced matches an RFC 3463 enhanced status code.
var enhanced = regexp.MustCompile(`(?:^|[^0-9.])([245]\.[0-9]{1,3}\.[0-9]{1,3})(?:$|[^0-9.])`)

// status is the first enhanced status code in a stored detail ("" for
// none): Postern's details hold the receiver's reply, "550 5.1.1 …", or
// a local code, "permanent failure 5.1.2: …".
func status(detail string) string {
	if m := enhanced.FindStringSubmatch(detail); m != nil {
		return m[1]
	}
	return ""
}

// usedTLS reads the remote part the delivery worker appends to a detail,
// " (host [addr], TLS 1.3 …, certificate verified)" or " (host [addr], no
// TLS)"; nil when the detail has none (nothing was connected to).
func usedTLS(detail string) *bool {
	var used bool
	switch {
	case strings.HasSuffix(detail, ", no TLS)"):
		used = false
	case strings.HasSuffix(detail, ", certificate verified)"), strings.HasSuffix(detail, ", certificate not verified)"):
		used = true
	default:
		return nil
	}
	return &used
}
