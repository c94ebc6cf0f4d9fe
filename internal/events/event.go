package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Type is the name of a webhook event, as SendGrid spells it.
type Type string

// SendGrid's delivery and engagement event names that Postern emits.
const (
	Processed   Type = "processed"
	Deferred    Type = "deferred"
	Delivered   Type = "delivered"
	Bounce      Type = "bounce"
	Dropped     Type = "dropped"
	Delayed     Type = "delayed"
	Unsubscribe Type = "unsubscribe"
	SpamReport  Type = "spamreport"
)

// BounceType tells SendGrid's two kinds of bounce event apart.
type BounceType string

const (
	// BounceHard: the receiver refused the recipient for good.
	BounceHard BounceType = "bounce"
	// BounceBlocked: the message was refused for a reason that is not the
	// address (policy, reputation, content), or never got through.
	BounceBlocked BounceType = "blocked"
)

// Event is one event as a webhook receiver sees it. Zero fields are left
// out of the JSON, except Email, Timestamp and Event, which every event
// carries.
type Event struct {
	Email       string // the recipient
	Timestamp   int64  // Unix seconds
	Event       Type
	SGEventID   string // unique per event; receivers deduplicate on it
	SGMessageID string
	SMTPID      string // the message's Message-ID header, with its angle brackets
	// Category: one is sent as a string, several as an array.
	Categories []string
	ASMGroupID int64
	// CustomArgs are the message's custom_args (unique_args), flattened
	// into the event object.
	CustomArgs map[string]string

	Reason   string     // bounce, dropped: why
	Status   string     // bounce, deferred: the enhanced status code, "5.1.1"
	Response string     // delivered, deferred: the receiver's reply
	Attempt  int        // deferred: the attempt number; 0 leaves it out
	Type     BounceType // bounce: bounce or blocked
	TLS      *bool      // delivered, deferred: sent as 1 or 0; nil leaves it out
	IP       string     // the sending IP address
}

// standardKeys are the keys SendGrid itself uses in event objects. A
// custom argument with one of these names is left out, whether or not the
// event has the standard key set: a receiver can rely on a key's meaning.
var standardKeys = map[string]bool{
	"email": true, "timestamp": true, "event": true, "sg_event_id": true,
	"sg_message_id": true, "smtp-id": true, "category": true,
	"asm_group_id": true, "reason": true, "status": true, "response": true,
	"attempt": true, "type": true, "tls": true, "ip": true,
	"useragent": true, "url": true, "url_offset": true,
	"sg_machine_open": true, "marketing_campaign_id": true,
	"marketing_campaign_name": true, "pool": true, "cert_err": true,
	"bounce_classification": true, "sg_template_id": true,
	"sg_template_name": true, "sg_content_type": true,
	"sg_user_id": true, "newsletter": true, "unique_args": true,
	"custom_args": true,
}

// StandardKey reports whether SendGrid's event objects use key for
// themselves, so that a custom argument of that name is not sent.
func StandardKey(key string) bool { return standardKeys[key] }

type field struct {
	key string
	val any
}

// MarshalJSON encodes the event as SendGrid does: one flat object, the
// standard keys first in a fixed order, then the custom arguments sorted
// by name, none of which may take a standard key.
func (e Event) MarshalJSON() ([]byte, error) {
	fs := []field{
		{"email", e.Email},
		{"timestamp", e.Timestamp},
		{"event", string(e.Event)},
	}
	add := func(key string, val any, set bool) {
		if set {
			fs = append(fs, field{key, val})
		}
	}
	add("sg_event_id", e.SGEventID, e.SGEventID != "")
	add("sg_message_id", e.SGMessageID, e.SGMessageID != "")
	add("smtp-id", e.SMTPID, e.SMTPID != "")
	switch len(e.Categories) {
	case 0:
	case 1:
		fs = append(fs, field{"category", e.Categories[0]})
	default:
		fs = append(fs, field{"category", e.Categories})
	}
	add("asm_group_id", e.ASMGroupID, e.ASMGroupID != 0)
	add("reason", e.Reason, e.Reason != "")
	add("status", e.Status, e.Status != "")
	add("response", e.Response, e.Response != "")
	// SendGrid sends attempt as a string.
	add("attempt", strconv.Itoa(e.Attempt), e.Attempt != 0)
	add("type", string(e.Type), e.Type != "")
	if e.TLS != nil {
		tls := 0
		if *e.TLS {
			tls = 1
		}
		fs = append(fs, field{"tls", tls})
	}
	add("ip", e.IP, e.IP != "")

	// Keys and values are made valid UTF-8 first (each run of bad bytes
	// becomes U+FFFD), so that two keys that would encode alike never
	// give an object with a duplicate key: of those, the one that sorts
	// first wins.
	raw := make([]string, 0, len(e.CustomArgs))
	for k := range e.CustomArgs {
		raw = append(raw, k)
	}
	sort.Strings(raw)
	custom := make(map[string]string, len(raw))
	keys := make([]string, 0, len(raw))
	for _, k := range raw {
		ck := strings.ToValidUTF8(k, "\uFFFD")
		if _, dup := custom[ck]; dup || standardKeys[ck] {
			continue
		}
		custom[ck] = strings.ToValidUTF8(e.CustomArgs[k], "\uFFFD")
		keys = append(keys, ck)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fs = append(fs, field{k, custom[k]})
	}

	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := encode(f.key)
		if err != nil {
			return nil, fmt.Errorf("events: marshal key: %w", err)
		}
		v, err := encode(f.val)
		if err != nil {
			return nil, fmt.Errorf("events: marshal %s: %w", f.key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalBatch encodes events as the body of one webhook POST: a JSON
// array, "[]" for none.
func MarshalBatch(evs []Event) ([]byte, error) {
	if evs == nil {
		evs = []Event{}
	}
	b, err := encode(evs)
	if err != nil {
		return nil, fmt.Errorf("events: marshal batch: %w", err)
	}
	return b, nil
}

// encode is json.Marshal without HTML escaping, so that "<id@host>"
// stays as SendGrid writes it rather than "\u003cid@host\u003e".
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
