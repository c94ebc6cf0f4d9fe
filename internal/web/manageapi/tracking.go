package manageapi

import (
	"net/http"

	"github.com/postern/postern/internal/admin"
)

// Subscription tracking (SendGrid's Settings - Tracking), over admin's
// one-click unsubscribe switch:
//
//	GET   /v3/tracking_settings/subscription  tracking_settings.subscription.read    200 settings
//	PATCH /v3/tracking_settings/subscription  tracking_settings.subscription.update  200 settings
//
// Settings are SendGrid's {"enabled", "html_content", "landing",
// "plain_content", "replace", "url"}. Postern keeps only "enabled": on,
// the acting user's single-recipient messages get one-click
// List-Unsubscribe headers (RFC 8058, internal/unsub) and their bodies
// are never changed, so there is no footer to write (html_content,
// plain_content, replace) and no page to host or send to (landing, url).
// Those read back "", and a PATCH that sets one to anything but "" is
// 400 with the field named, rather than taken and silently not done. A
// PATCH without "enabled" changes nothing. With On-Behalf-Of the setting
// is the subuser's.
func (h *handler) trackingRoutes() []route {
	const path = "/v3/tracking_settings/subscription"
	return []route{
		{method: "GET", pattern: path, scope: admin.ScopeSubscriptionRead, do: h.getSubscription},
		{method: "PATCH", pattern: path, scope: admin.ScopeSubscriptionUpdate, do: h.patchSubscription},
	}
}

// subscriptionJSON is SendGrid's subscription tracking settings.
type subscriptionJSON struct {
	Enabled      bool   `json:"enabled"`
	HTMLContent  string `json:"html_content"`
	Landing      string `json:"landing"`
	PlainContent string `json:"plain_content"`
	Replace      string `json:"replace"`
	URL          string `json:"url"`
}

// subscriptionPatch is a PATCH body: what it names, and nothing else.
type subscriptionPatch struct {
	Enabled      *bool   `json:"enabled"`
	HTMLContent  *string `json:"html_content"`
	Landing      *string `json:"landing"`
	PlainContent *string `json:"plain_content"`
	Replace      *string `json:"replace"`
	URL          *string `json:"url"`
}

func (h *handler) getSubscription(rq *request) error {
	on, err := h.cfg.Admin.SubscriptionTracking(rq.r.Context(), rq.actor)
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, subscriptionJSON{Enabled: on})
}

func (h *handler) patchSubscription(rq *request) error {
	var p subscriptionPatch
	if err := rq.decode(&p); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"html_content", p.HTMLContent}, {"landing", p.Landing}, {"plain_content", p.PlainContent},
		{"replace", p.Replace}, {"url", p.URL}} {
		if f.v != nil && *f.v != "" {
			return admin.Invalid(f.name, "not supported: Postern adds only the List-Unsubscribe headers, never changes a message's body and hosts its own unsubscribe page; only enabled is kept")
		}
	}
	on, err := h.cfg.Admin.SetSubscriptionTracking(rq.r.Context(), rq.actor, p.Enabled)
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, subscriptionJSON{Enabled: on})
}
