package manageapi

import (
	"strings"
	"testing"

	"github.com/postern/postern/internal/admin"
)

// FuzzWebhookRequests feeds the bodies of the event webhook endpoints
// (POST and PATCH of the settings, PATCH …/signed, POST …/test) to their
// decoders: none panics; a body decodes, or is refused as the client's
// fault (400); what is accepted asks for exactly what the body says,
// never OAuth; and a decoded body encodes and decodes to itself. The
// corpus is in testdata/fuzz/FuzzWebhookRequests.
func FuzzWebhookRequests(f *testing.F) {
	for _, s := range []string{
		`{"enabled":true,"url":"https://example.com/webhook-endpoint","group_resubscribe":true,"delivered":false,"group_unsubscribe":true,"spam_report":true,"bounce":true,"deferred":true,"unsubscribe":true,"processed":false,"open":true,"click":true,"dropped":true,"friendly_name":"Engagement Webhook"}`,
		`{"enabled":true,"url":"https://example.com/w","oauth_client_id":"a835e7210bbb47edbfa71bdfc909b2d7","oauth_client_secret":"335a9b0c65324fd2a62e2953d4b158","oauth_token_url":"https://oauthservice.example.com"}`,
		`{"enabled":true}`, `{"enabled":null,"url":null}`, `{"friendly_name":null}`,
		`{"id":"77d4a5da-7015-11ed-a1eb-0242ac120002","url":"https://emailengagment.example.com"}`,
		`{"oauth_client_id":"","oauth_token_url":" "}`, `{"enabled":"true"}`, `{"url":1}`, `null`, `[]`, ``, `{} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in webhookRequest
		if err := decodeJSON(body, &in); err != nil {
			clientFault(t, err)
		} else {
			set, err := in.settings()
			if err != nil {
				clientFault(t, err)
			} else {
				checkSettings(t, in, set)
			}
			roundTrip(t, &in, new(webhookRequest))
		}
		var sr signedRequest
		if err := decodeJSON(body, &sr); err != nil {
			clientFault(t, err)
		} else {
			if err := sr.check(); err != nil {
				clientFault(t, err)
			} else if sr.Enabled == nil {
				t.Error("check accepted a missing enabled")
			}
			roundTrip(t, &sr, new(signedRequest))
		}
		var tr testRequest
		if err := decodeJSON(body, &tr); err != nil {
			clientFault(t, err)
		} else {
			if err := noOAuth(tr.OAuthClientID, tr.OAuthClientSecret, tr.OAuthTokenURL); err != nil {
				clientFault(t, err)
			} else if oauth(tr.OAuthClientID, tr.OAuthClientSecret, tr.OAuthTokenURL) {
				t.Errorf("OAuth accepted: %+v", tr)
			}
			roundTrip(t, &tr, new(testRequest))
		}
	})
}

// checkSettings fails unless set is what in asks for.
func checkSettings(t *testing.T, in webhookRequest, set admin.WebhookSettings) {
	t.Helper()
	if oauth(in.OAuthClientID, in.OAuthClientSecret, in.OAuthTokenURL) {
		t.Errorf("OAuth accepted: %+v", in)
	}
	if set.URL != in.URL || set.Enabled != in.Enabled || set.FriendlyName != in.FriendlyName || set.Signed != nil {
		t.Errorf("settings %+v from %+v", set, in)
	}
	for e, v := range map[admin.WebhookEvent]*bool{
		admin.WebhookProcessed: in.Processed, admin.WebhookDelivered: in.Delivered, admin.WebhookDeferred: in.Deferred,
		admin.WebhookBounce: in.Bounce, admin.WebhookDropped: in.Dropped, admin.WebhookSpamReport: in.SpamReport,
		admin.WebhookUnsubscribe: in.Unsubscribe,
	} {
		got, ok := set.Events[e]
		if ok != (v != nil) || ok && got != *v {
			t.Errorf("event %s: %v %v from %v", e, got, ok, v)
		}
	}
	if len(set.Events) > len(admin.WebhookEvents()) {
		t.Errorf("events %v", set.Events)
	}
}

// oauth reports whether any of the OAuth fields has a value.
func oauth(fields ...*string) bool {
	for _, f := range fields {
		if f != nil && strings.TrimSpace(*f) != "" {
			return true
		}
	}
	return false
}
