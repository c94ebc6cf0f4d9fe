package events

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMarshalJSONShape(t *testing.T) {
	yes, no := true, false
	for _, c := range []struct {
		name string
		ev   Event
		want string
	}{
		{"minimal", Event{Email: "a@example.org", Timestamp: 1, Event: Processed},
			`{"email":"a@example.org","timestamp":1,"event":"processed"}`},
		{"one category is a string",
			Event{Email: "a@example.org", Timestamp: 1, Event: Processed, SGEventID: "e", SGMessageID: "m",
				SMTPID: "<m@h>", Categories: []string{"welcome"}},
			`{"email":"a@example.org","timestamp":1,"event":"processed","sg_event_id":"e","sg_message_id":"m","smtp-id":"<m@h>","category":"welcome"}`},
		{"several categories are an array",
			Event{Email: "a@example.org", Timestamp: 1, Event: Processed, Categories: []string{"a", "b"}},
			`{"email":"a@example.org","timestamp":1,"event":"processed","category":["a","b"]}`},
		{"custom args flattened, sorted",
			Event{Email: "a@example.org", Timestamp: 1, Event: Delivered, Response: "250 ok", TLS: &yes,
				CustomArgs: map[string]string{"user_id": "42", "campaign": "x"}},
			`{"email":"a@example.org","timestamp":1,"event":"delivered","response":"250 ok","tls":1,"campaign":"x","user_id":"42"}`},
		{"standard keys win over custom args, set or not",
			Event{Email: "a@example.org", Timestamp: 7, Event: Bounce, Reason: "550 5.1.1 no", Status: "5.1.1", Type: BounceHard,
				CustomArgs: map[string]string{"email": "evil@x", "event": "delivered", "timestamp": "0", "reason": "x",
					"sg_event_id": "forged", "tls": "1", "ip": "1.2.3.4", "smtp-id": "x", "category": "x", "keep": "k"}},
			`{"email":"a@example.org","timestamp":7,"event":"bounce","reason":"550 5.1.1 no","status":"5.1.1","type":"bounce","keep":"k"}`},
		{"deferred: attempt as a string, tls 0, ip",
			Event{Email: "a@example.org", Timestamp: 1, Event: Deferred, Response: "451 try later", Status: "4.0.0",
				Attempt: 3, TLS: &no, IP: "192.0.2.7"},
			`{"email":"a@example.org","timestamp":1,"event":"deferred","status":"4.0.0","response":"451 try later","attempt":"3","tls":0,"ip":"192.0.2.7"}`},
		{"asm group",
			Event{Email: "a@example.org", Timestamp: 1, Event: Unsubscribe, ASMGroupID: 12},
			`{"email":"a@example.org","timestamp":1,"event":"unsubscribe","asm_group_id":12}`},
		{"no HTML escaping, UTF-8 kept",
			Event{Email: "a@example.org", Timestamp: 1, Event: Dropped, Reason: "<b> & ü", CustomArgs: map[string]string{"k\"ey": "v\n"}},
			`{"email":"a@example.org","timestamp":1,"event":"dropped","reason":"<b> & ü","k\"ey":"v\n"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := json.Marshal(c.ev)
			if err != nil {
				t.Fatal(err)
			}
			// json.Marshal escapes HTML in a Marshaler's output; MarshalJSON
			// itself does not.
			direct, err := c.ev.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(direct) != c.want {
				t.Errorf("MarshalJSON:\n got %s\nwant %s", direct, c.want)
			}
			var a, b any
			if err := json.Unmarshal(got, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(c.want), &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("json.Marshal:\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestMarshalBatch(t *testing.T) {
	b, err := MarshalBatch(nil)
	if err != nil || string(b) != "[]" {
		t.Fatalf("MarshalBatch(nil) = %s, %v; want []", b, err)
	}
	b, err = MarshalBatch([]Event{
		{Email: "a@example.org", Timestamp: 1, Event: Processed, SMTPID: "<m@h>"},
		{Email: "b@example.org", Timestamp: 2, Event: Delivered},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"email":"a@example.org","timestamp":1,"event":"processed","smtp-id":"<m@h>"},{"email":"b@example.org","timestamp":2,"event":"delivered"}]`
	if string(b) != want {
		t.Fatalf("MarshalBatch:\n got %s\nwant %s", b, want)
	}
}
