package events

import (
	"reflect"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

func TestFromStore(t *testing.T) {
	at := time.Date(2026, 12, 3, 12, 0, 0, 123456000, time.UTC)
	meta := `{"categories":["welcome","q4"],"custom_args":{"user_id":"42","event":"forged"},"batch_id":"b1","asm_group_id":7}`
	msg := store.Message{ID: "m1", Recipients: []string{"a@example.org", "b@example.org"}, Meta: meta}
	yes, no := true, false
	common := func(e Event) Event {
		e.Timestamp, e.SGMessageID = at.Unix(), "m1"
		e.Categories = []string{"welcome", "q4"}
		e.ASMGroupID = 7
		e.CustomArgs = map[string]string{"user_id": "42", "event": "forged"}
		return e
	}
	for _, c := range []struct {
		name string
		msg  store.Message
		typ  store.EventType
		rcpt string
		det  string
		want []Event
	}{
		{"processed", msg, store.EventProcessed, "a@example.org", "",
			[]Event{common(Event{Email: "a@example.org", Event: Processed})}},
		{"delivered over TLS", msg, store.EventDelivered, "a@example.org",
			"ok: 250 2.0.0 Ok: queued as X (mx.example.org [192.0.2.1], TLS 1.3 TLS_AES_128_GCM_SHA256, certificate verified)",
			[]Event{common(Event{Email: "a@example.org", Event: Delivered, TLS: &yes,
				Response: "ok: 250 2.0.0 Ok: queued as X (mx.example.org [192.0.2.1], TLS 1.3 TLS_AES_128_GCM_SHA256, certificate verified)"})}},
		{"delivered in clear", msg, store.EventDelivered, "a@example.org",
			"ok: 250 Ok (mx.example.org [192.0.2.1], no TLS)",
			[]Event{common(Event{Email: "a@example.org", Event: Delivered, TLS: &no,
				Response: "ok: 250 Ok (mx.example.org [192.0.2.1], no TLS)"})}},
		{"deferred", msg, store.EventDeferred, "a@example.org",
			"temporary failure: 451 4.7.1 greylisted (mx.example.org [192.0.2.1], TLS 1.2 X, certificate not verified)",
			[]Event{common(Event{Email: "a@example.org", Event: Deferred, Status: "4.7.1", TLS: &yes,
				Response: "temporary failure: 451 4.7.1 greylisted (mx.example.org [192.0.2.1], TLS 1.2 X, certificate not verified)"})}},
		{"deferred, never connected", msg, store.EventDeferred, "a@example.org",
			"temporary failure 4.4.1: connection refused by 192.0.2.1:25",
			[]Event{common(Event{Email: "a@example.org", Event: Deferred, Status: "4.4.1",
				Response: "temporary failure 4.4.1: connection refused by 192.0.2.1:25"})}},
		{"hard bounce", msg, store.EventBounced, "a@example.org",
			"permanent failure: 550 5.1.1 no such user (mx.example.org [192.0.2.1], no TLS)",
			[]Event{common(Event{Email: "a@example.org", Event: Bounce, Type: BounceHard, Status: "5.1.1",
				Reason: "permanent failure: 550 5.1.1 no such user (mx.example.org [192.0.2.1], no TLS)"})}},
		{"policy refusal is a block", msg, store.EventBounced, "a@example.org",
			"permanent failure: 554 5.7.1 rejected by policy",
			[]Event{common(Event{Email: "a@example.org", Event: Bounce, Type: BounceBlocked, Status: "5.7.1",
				Reason: "permanent failure: 554 5.7.1 rejected by policy"})}},
		{"given up is a block", msg, store.EventBounced, "a@example.org",
			"gave up after 120h0m0s: temporary failure: 421 4.3.2 busy",
			[]Event{common(Event{Email: "a@example.org", Event: Bounce, Type: BounceBlocked, Status: "4.3.2",
				Reason: "gave up after 120h0m0s: temporary failure: 421 4.3.2 busy"})}},
		{"bounce after delivery", msg, store.EventBounced, "a@example.org", "bounced after delivery: 5.2.2",
			[]Event{common(Event{Email: "a@example.org", Event: Bounce, Type: BounceHard, Status: "5.2.2",
				Reason: "bounced after delivery: 5.2.2"})}},
		{"dropped", msg, store.EventDropped, "a@example.org", "suppressed: bounce",
			[]Event{common(Event{Email: "a@example.org", Event: Dropped, Reason: "suppressed: bounce"})}},
		{"delayed fans out to the recipients", msg, store.EventDelayed, "", "delay notice sent to s@example.com",
			[]Event{common(Event{Email: "a@example.org", Event: Delayed}), common(Event{Email: "b@example.org", Event: Delayed})}},
		{"inbound is no webhook event", msg, store.EventInbound, "a@example.org", "delivery report: relayed", nil},
		{"spam report", msg, store.EventSpamReport, "b@example.org", "spam report (feedback-type abuse) from mail.isp.example (ISP-FBL/1.0)",
			[]Event{common(Event{Email: "b@example.org", Event: SpamReport})}},
		{"unsubscribe", msg, store.EventUnsubscribe, "a@example.org", "",
			[]Event{common(Event{Email: "a@example.org", Event: Unsubscribe})}},
		{"no meta", store.Message{ID: "m1", Recipients: []string{"a@example.org"}}, store.EventProcessed, "a@example.org", "",
			[]Event{{Email: "a@example.org", Event: Processed, Timestamp: at.Unix(), SGMessageID: "m1"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := store.Event{MessageID: c.msg.ID, Recipient: c.rcpt, Type: c.typ, Detail: c.det, At: at}
			got, err := FromStore(c.msg, e)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]bool{}
			for i := range got {
				if got[i].SGEventID == "" || ids[got[i].SGEventID] {
					t.Errorf("event %d: sg_event_id %q empty or repeated", i, got[i].SGEventID)
				}
				ids[got[i].SGEventID] = true
				got[i].SGEventID = ""
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("FromStore:\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestFromStoreEventID checks that sg_event_id is stable for one stored
// event and differs when anything about the event does.
func TestFromStoreEventID(t *testing.T) {
	at := time.Unix(1764763200, 5)
	msg := store.Message{ID: "m1", Recipients: []string{"a@example.org"}}
	base := store.Event{MessageID: "m1", Recipient: "a@example.org", Type: store.EventDeferred, Detail: "451 x", At: at}
	id := func(e store.Event) string {
		t.Helper()
		evs, err := FromStore(msg, e)
		if err != nil || len(evs) != 1 {
			t.Fatalf("FromStore = %v, %v", evs, err)
		}
		return evs[0].SGEventID
	}
	first := id(base)
	if again := id(base); again != first {
		t.Fatalf("sg_event_id not stable: %q then %q", first, again)
	}
	variants := []func(*store.Event){
		func(e *store.Event) { e.At = e.At.Add(time.Microsecond) },
		func(e *store.Event) { e.Detail = "451 y" },
		func(e *store.Event) { e.Type = store.EventBounced },
		func(e *store.Event) { e.Recipient = "b@example.org" },
		func(e *store.Event) { e.MessageID = "m2" },
		// Length prefixes: moving a byte between fields changes the id.
		func(e *store.Event) { e.Recipient, e.Detail = "a@example.org4", "51 x" },
	}
	for i, v := range variants {
		e := base
		v(&e)
		if got := id(e); got == first {
			t.Errorf("variant %d: same sg_event_id %q", i, got)
		}
	}
}

func TestFromStoreErrors(t *testing.T) {
	e := store.Event{MessageID: "m1", Recipient: "a@example.org", Type: store.EventProcessed, At: time.Unix(1, 0)}
	if _, err := FromStore(store.Message{ID: "m1", Meta: "{not json"}, e); err == nil {
		t.Error("bad meta: no error")
	}
	e.Type = "exploded"
	if _, err := FromStore(store.Message{ID: "m1"}, e); err == nil {
		t.Error("unknown type: no error")
	}
}
