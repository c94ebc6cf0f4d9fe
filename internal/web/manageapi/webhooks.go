package manageapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/postern/postern/internal/admin"
)

// Event webhook settings (tsg_webhooks_v3.json), over admin's webhooks:
//
//	GET    /v3/user/webhooks/event/settings              read    200 settings (the first webhook; blank when none)
//	PATCH  /v3/user/webhooks/event/settings              update  200 settings (the first webhook, made when none)
//	POST   /v3/user/webhooks/event/settings              update  201 settings (a new webhook; url required)
//	GET    /v3/user/webhooks/event/settings/all          read    200 {"max_allowed": 5, "webhooks": [settings…]}
//	GET    /v3/user/webhooks/event/settings/{id}         read    200 settings
//	PATCH  /v3/user/webhooks/event/settings/{id}         update  200 settings
//	DELETE /v3/user/webhooks/event/settings/{id}         update  204
//	GET    /v3/user/webhooks/event/settings/signed       read    200 {"id", "public_key"} (the first webhook)
//	PATCH  /v3/user/webhooks/event/settings/signed       update  200 {"id", "public_key"}, body {"enabled"} (made when none)
//	GET    /v3/user/webhooks/event/settings/signed/{id}  read    200 {"id", "public_key"}
//	PATCH  /v3/user/webhooks/event/settings/signed/{id}  update  200 {"id", "public_key"}, body {"enabled"}
//	POST   /v3/user/webhooks/event/test                  test    204, body {"url", "id"}
//
// (scopes user.webhooks.event.settings.read and .update, and
// user.webhooks.event.test.create). The forms without an id are SendGrid's
// legacy single webhook, which older clients use: the user's oldest. The
// webhooks are the acting user's: with On-Behalf-Of, the subuser's;
// another user's id is 404.
//
// Settings are {"enabled", "url", one boolean per event, "friendly_name",
// "id", "created_date", "updated_date"} (ISO 8601, UTC; null for the
// blank legacy settings), and "public_key" while the webhook is signed. A
// PATCH changes the fields it names and leaves the others. The events
// Postern sends are processed, delivered, deferred (a delay notice too:
// SendGrid has no setting of its own for it), bounce, dropped,
// spam_report and unsubscribe; open, click, group_resubscribe,
// group_unsubscribe and account_status_change (shown with
// ?include=account_status_change) are events Postern never has: they are
// taken, not kept, and read back false. OAuth (oauth_client_id,
// oauth_client_secret, oauth_token_url) is not supported: empty is taken,
// anything else is 400; a receiver verifies the signature instead.
//
// Signing on makes the webhook's P-256 key the first time; signing off
// keeps it, and public_key reads "" until it is on again, with the same
// key. The test POSTs a made-up event to url (default: the webhook's),
// signed as the webhook id (default: the first) is; a receiver's failure
// is 400 with field url.
func (h *handler) webhookRoutes() []route {
	const (
		settings = "/v3/user/webhooks/event/settings"
		all      = settings + "/all"
		one      = settings + "/{id}"
		signed   = settings + "/signed"
		signedID = signed + "/{id}"
	)
	return []route{
		{method: "GET", pattern: settings, scope: admin.ScopeWebhookRead, do: h.getWebhook},
		{method: "PATCH", pattern: settings, scope: admin.ScopeWebhookUpdate, do: h.patchWebhook},
		{method: "POST", pattern: settings, scope: admin.ScopeWebhookUpdate, do: h.createWebhook},
		{method: "GET", pattern: all, scope: admin.ScopeWebhookRead, do: h.listWebhooks},
		{method: "GET", pattern: one, scope: admin.ScopeWebhookRead, do: h.getWebhook},
		{method: "PATCH", pattern: one, scope: admin.ScopeWebhookUpdate, do: h.patchWebhook},
		{method: "DELETE", pattern: one, scope: admin.ScopeWebhookUpdate, do: h.deleteWebhook},
		{method: "GET", pattern: signed, scope: admin.ScopeWebhookRead, do: h.getSigned},
		{method: "PATCH", pattern: signed, scope: admin.ScopeWebhookUpdate, do: h.patchSigned},
		{method: "GET", pattern: signedID, scope: admin.ScopeWebhookRead, do: h.getSigned},
		{method: "PATCH", pattern: signedID, scope: admin.ScopeWebhookUpdate, do: h.patchSigned},
		{method: "POST", pattern: "/v3/user/webhooks/event/test", scope: admin.ScopeWebhookTest, do: h.testWebhook},
	}
}

// getWebhook answers GET of the settings: {id}'s, or the first
// webhook's, blank when the user has none (as SendGrid's legacy settings
// are, before any change).
func (h *handler) getWebhook(rq *request) error {
	id := rq.r.PathValue("id")
	w, err := h.cfg.Admin.GetWebhook(rq.r.Context(), rq.actor, id)
	if id == "" && errors.Is(err, admin.ErrNotFound) {
		return rq.reply(http.StatusOK, webhookOf(rq, admin.Webhook{}))
	}
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, webhookOf(rq, w))
}

func (h *handler) listWebhooks(rq *request) error {
	list, err := h.cfg.Admin.ListWebhooks(rq.r.Context(), rq.actor)
	if err != nil {
		return err
	}
	out := make([]webhookJSON, 0, len(list))
	for _, w := range list {
		out = append(out, webhookOf(rq, w))
	}
	return rq.reply(http.StatusOK, webhookListJSON{MaxAllowed: admin.MaxWebhooks, Webhooks: out})
}

func (h *handler) createWebhook(rq *request) error {
	set, err := decodeSettings(rq)
	if err != nil {
		return err
	}
	w, err := h.cfg.Admin.CreateWebhook(rq.r.Context(), rq.actor, set)
	if err != nil {
		return err
	}
	return rq.reply(http.StatusCreated, webhookOf(rq, w))
}

func (h *handler) patchWebhook(rq *request) error {
	set, err := decodeSettings(rq)
	if err != nil {
		return err
	}
	w, err := h.cfg.Admin.UpdateWebhook(rq.r.Context(), rq.actor, rq.r.PathValue("id"), set)
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, webhookOf(rq, w))
}

func (h *handler) deleteWebhook(rq *request) error {
	if err := h.cfg.Admin.DeleteWebhook(rq.r.Context(), rq.actor, rq.r.PathValue("id")); err != nil {
		return err
	}
	return rq.noContent()
}

// getSigned answers {"id", "public_key"}: the first webhook's without an
// id, {"id": "", "public_key": ""} when the user has none.
func (h *handler) getSigned(rq *request) error {
	id := rq.r.PathValue("id")
	w, err := h.cfg.Admin.GetWebhook(rq.r.Context(), rq.actor, id)
	if id == "" && errors.Is(err, admin.ErrNotFound) {
		return rq.reply(http.StatusOK, signedOf(admin.Webhook{}))
	}
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, signedOf(w))
}

func (h *handler) patchSigned(rq *request) error {
	var in signedRequest
	if err := rq.decode(&in); err != nil {
		return err
	}
	if err := in.check(); err != nil {
		return err
	}
	w, err := h.cfg.Admin.UpdateWebhook(rq.r.Context(), rq.actor, rq.r.PathValue("id"), admin.WebhookSettings{Signed: in.Enabled})
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, signedOf(w))
}

func (h *handler) testWebhook(rq *request) error {
	var in testRequest
	if err := rq.decode(&in); err != nil {
		return err
	}
	if err := noOAuth(in.OAuthClientID, in.OAuthClientSecret, in.OAuthTokenURL); err != nil {
		return err
	}
	if err := h.cfg.Admin.TestWebhook(rq.r.Context(), rq.actor, in.ID, in.URL); err != nil {
		return err
	}
	return rq.noContent()
}

// webhookRequest is the body of POST and PATCH of the settings. A field
// left out (or null) is not changed.
type webhookRequest struct {
	Enabled      *bool   `json:"enabled"`
	URL          *string `json:"url"`
	FriendlyName *string `json:"friendly_name"`

	Processed   *bool `json:"processed"`
	Delivered   *bool `json:"delivered"`
	Deferred    *bool `json:"deferred"`
	Bounce      *bool `json:"bounce"`
	Dropped     *bool `json:"dropped"`
	SpamReport  *bool `json:"spam_report"`
	Unsubscribe *bool `json:"unsubscribe"`
	// SendGrid's events Postern never has: taken, not kept.
	Open                *bool `json:"open"`
	Click               *bool `json:"click"`
	GroupResubscribe    *bool `json:"group_resubscribe"`
	GroupUnsubscribe    *bool `json:"group_unsubscribe"`
	AccountStatusChange *bool `json:"account_status_change"`

	OAuthClientID     *string `json:"oauth_client_id"`
	OAuthClientSecret *string `json:"oauth_client_secret"`
	OAuthTokenURL     *string `json:"oauth_token_url"`
}

// decodeSettings reads a settings body.
func decodeSettings(rq *request) (admin.WebhookSettings, error) {
	var in webhookRequest
	if err := rq.decode(&in); err != nil {
		return admin.WebhookSettings{}, err
	}
	return in.settings()
}

// settings are the changes the body asks for; OAuth is refused.
func (in webhookRequest) settings() (admin.WebhookSettings, error) {
	if err := noOAuth(in.OAuthClientID, in.OAuthClientSecret, in.OAuthTokenURL); err != nil {
		return admin.WebhookSettings{}, err
	}
	set := admin.WebhookSettings{URL: in.URL, Enabled: in.Enabled, FriendlyName: in.FriendlyName}
	for _, f := range []struct {
		event admin.WebhookEvent
		v     *bool
	}{
		{admin.WebhookProcessed, in.Processed},
		{admin.WebhookDelivered, in.Delivered},
		{admin.WebhookDeferred, in.Deferred},
		{admin.WebhookBounce, in.Bounce},
		{admin.WebhookDropped, in.Dropped},
		{admin.WebhookSpamReport, in.SpamReport},
		{admin.WebhookUnsubscribe, in.Unsubscribe},
	} {
		if f.v != nil {
			if set.Events == nil {
				set.Events = map[admin.WebhookEvent]bool{}
			}
			set.Events[f.event] = *f.v
		}
	}
	return set, nil
}

// noOAuth refuses OAuth settings other than empty ones.
func noOAuth(clientID, secret, tokenURL *string) error {
	for _, f := range []struct {
		field string
		v     *string
	}{{"oauth_client_id", clientID}, {"oauth_client_secret", secret}, {"oauth_token_url", tokenURL}} {
		if f.v != nil && strings.TrimSpace(*f.v) != "" {
			return admin.Invalid(f.field, "OAuth is not supported: turn signing on (PATCH /v3/user/webhooks/event/settings/signed) and verify the signature instead")
		}
	}
	return nil
}

// signedRequest is the body of PATCH …/settings/signed.
type signedRequest struct {
	Enabled *bool `json:"enabled"`
}

func (in signedRequest) check() error {
	if in.Enabled == nil {
		return admin.Invalid("enabled", "required: true to sign the webhook's POSTs, false not to")
	}
	return nil
}

// testRequest is the body of POST /v3/user/webhooks/event/test.
type testRequest struct {
	ID                string  `json:"id"`
	URL               string  `json:"url"`
	OAuthClientID     *string `json:"oauth_client_id"`
	OAuthClientSecret *string `json:"oauth_client_secret"`
	OAuthTokenURL     *string `json:"oauth_token_url"`
}

// webhookJSON is SendGrid's settings object.
type webhookJSON struct {
	Enabled             bool    `json:"enabled"`
	URL                 string  `json:"url"`
	AccountStatusChange *bool   `json:"account_status_change,omitempty"`
	GroupResubscribe    bool    `json:"group_resubscribe"`
	Delivered           bool    `json:"delivered"`
	GroupUnsubscribe    bool    `json:"group_unsubscribe"`
	SpamReport          bool    `json:"spam_report"`
	Bounce              bool    `json:"bounce"`
	Deferred            bool    `json:"deferred"`
	Unsubscribe         bool    `json:"unsubscribe"`
	Processed           bool    `json:"processed"`
	Open                bool    `json:"open"`
	Click               bool    `json:"click"`
	Dropped             bool    `json:"dropped"`
	FriendlyName        string  `json:"friendly_name"`
	ID                  string  `json:"id"`
	CreatedDate         *string `json:"created_date"`
	UpdatedDate         *string `json:"updated_date"`
	PublicKey           string  `json:"public_key,omitempty"`
}

type webhookListJSON struct {
	MaxAllowed int           `json:"max_allowed"`
	Webhooks   []webhookJSON `json:"webhooks"`
}

type signedJSON struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
}

// webhookOf is w in SendGrid's form; the zero Webhook is the blank
// legacy settings.
func webhookOf(rq *request, w admin.Webhook) webhookJSON {
	out := webhookJSON{
		Enabled: w.Enabled, URL: w.URL, FriendlyName: w.FriendlyName, ID: w.ID,
		Processed: w.Has(admin.WebhookProcessed), Delivered: w.Has(admin.WebhookDelivered),
		Deferred: w.Has(admin.WebhookDeferred), Bounce: w.Has(admin.WebhookBounce),
		Dropped: w.Has(admin.WebhookDropped), SpamReport: w.Has(admin.WebhookSpamReport),
		Unsubscribe: w.Has(admin.WebhookUnsubscribe),
		CreatedDate: isoDate(w.CreatedAt), UpdatedDate: isoDate(w.UpdatedAt),
	}
	if w.Signed {
		out.PublicKey = w.PublicKey
	}
	if strings.Contains(rq.r.URL.Query().Get("include"), "account_status_change") {
		out.AccountStatusChange = new(bool)
	}
	return out
}

// signedOf is SendGrid's answer about signing: the public key while the
// webhook is signed, "" otherwise.
func signedOf(w admin.Webhook) signedJSON {
	out := signedJSON{ID: w.ID}
	if w.Signed {
		out.PublicKey = w.PublicKey
	}
	return out
}

// isoDate is t as SendGrid writes a webhook's dates; nil for no time.
func isoDate(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format("2006-01-02T15:04:05Z")
	return &s
}
