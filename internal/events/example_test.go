package events_test

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

// A recorded event becomes a signed webhook POST that SendGrid's own
// verifier accepts.
func Example() {
	key, err := events.NewKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	signer, err := events.NewSigner(key)
	if err != nil {
		panic(err)
	}

	msg := store.Message{ID: "m1", Recipients: []string{"rcpt@example.org"},
		Meta: `{"categories":["welcome"],"custom_args":{"user_id":"42"}}`}
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	evs, err := events.FromStore(msg, store.Event{MessageID: "m1", Recipient: "rcpt@example.org",
		Type: store.EventDropped, Detail: "suppressed", At: at})
	if err != nil {
		panic(err)
	}
	evs[0].SGEventID = "id1" // normally derived from the stored event
	body, err := events.MarshalBatch(evs)
	if err != nil {
		panic(err)
	}
	sig, ts, err := signer.Sign(body, at, rand.Reader)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(body))
	fmt.Println(events.TimestampHeader+":", ts)

	// What a receiver does, with the key it was given.
	pub, _ := eventwebhook.ConvertPublicKeyBase64ToECDSA(signer.PublicKeyBase64())
	ok, err := eventwebhook.VerifySignature(pub, body, sig, ts)
	fmt.Println("verified:", ok, err)
	// Output:
	// [{"email":"rcpt@example.org","timestamp":1796299200,"event":"dropped","sg_event_id":"id1","sg_message_id":"m1","category":"welcome","reason":"suppressed","user_id":"42"}]
	// X-Twilio-Email-Event-Webhook-Timestamp: 1796299200
	// verified: true <nil>
}
