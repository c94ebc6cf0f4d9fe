package admin

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

// The event webhook scopes (SendGrid's names). Creating and deleting a
// webhook are changes to the settings (SendGrid has no scope of their
// own); the test's read and update scopes are SendGrid's, known and
// grantable, and needed by nothing here.
const (
	ScopeWebhookRead       = "user.webhooks.event.settings.read"
	ScopeWebhookUpdate     = "user.webhooks.event.settings.update"
	ScopeWebhookTest       = "user.webhooks.event.test.create"
	ScopeWebhookTestRead   = "user.webhooks.event.test.read"
	ScopeWebhookTestUpdate = "user.webhooks.event.test.update"
)

// MaxWebhooks is how many event webhooks a user may have (SendGrid's
// max_allowed).
const MaxWebhooks = 5

// maxWebhookURL and maxFriendlyName bound a webhook's URL and name, in
// bytes.
const (
	maxWebhookURL   = 2048
	maxFriendlyName = 100
)

// ErrUnavailable: the operation needs a part this process does not run
// (the test POST, without a WebhookTester).
var ErrUnavailable = errors.New("admin: not available")

// WebhookTester sends a webhook's test POST: a made-up event to url,
// signed as w is signed (internal/webhook's dispatcher implements it). Its
// error is the receiver's failure, worded for the webhook's owner ("HTTP
// 503", "timeout"): it reaches the client.
type WebhookTester interface {
	SendTest(ctx context.Context, w store.Webhook, url string) error
}

// WebhookEvent is an event setting of a webhook, by SendGrid's name of
// the setting.
type WebhookEvent string

// The settings of the events Postern sends. SendGrid's others (open,
// click, group_resubscribe, group_unsubscribe, account_status_change)
// are events Postern never has: the API accepts them and reports them
// off.
const (
	WebhookProcessed   WebhookEvent = "processed"
	WebhookDelivered   WebhookEvent = "delivered"
	WebhookDeferred    WebhookEvent = "deferred"
	WebhookBounce      WebhookEvent = "bounce"
	WebhookDropped     WebhookEvent = "dropped"
	WebhookSpamReport  WebhookEvent = "spam_report"
	WebhookUnsubscribe WebhookEvent = "unsubscribe"
)

// eventTypes is a setting and the store's event types it selects.
type eventTypes struct {
	event WebhookEvent
	types []store.EventType
}

// webhookEventTypes maps each setting to the store's event types it
// selects, in the order settings are listed. deferred selects delayed
// too: SendGrid has no setting for a delay notice, which tells of mail
// deferred for long.
func webhookEventTypes() []eventTypes {
	return []eventTypes{
		{WebhookProcessed, []store.EventType{store.EventProcessed}},
		{WebhookDelivered, []store.EventType{store.EventDelivered}},
		{WebhookDeferred, []store.EventType{store.EventDeferred, store.EventDelayed}},
		{WebhookBounce, []store.EventType{store.EventBounced}},
		{WebhookDropped, []store.EventType{store.EventDropped}},
		{WebhookSpamReport, []store.EventType{store.EventSpamReport}},
		{WebhookUnsubscribe, []store.EventType{store.EventUnsubscribe}},
	}
}

// WebhookEvents returns, in a new slice, every setting of the events
// Postern sends.
func WebhookEvents() []WebhookEvent {
	var out []WebhookEvent
	for _, m := range webhookEventTypes() {
		out = append(out, m.event)
	}
	return out
}

// ParseWebhookEvents reads a comma-separated list of settings, as the
// CLI takes it: WebhookEvents' names, or "none". An unknown name is an
// *InvalidError of field events.
func ParseWebhookEvents(s string) ([]WebhookEvent, error) {
	if strings.TrimSpace(s) == "none" {
		return nil, nil
	}
	known := WebhookEvents()
	var out []WebhookEvent
	for _, part := range strings.Split(s, ",") {
		e := WebhookEvent(strings.TrimSpace(part))
		if !slices.Contains(known, e) {
			names := make([]string, len(known))
			for i, k := range known {
				names[i] = string(k)
			}
			return nil, Invalid("events", "unknown event %.40q: the events are %s, or none", e, strings.Join(names, ","))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Webhook is an event webhook as the operations show it: never its
// private key.
type Webhook struct {
	ID           string // public, UUID-shaped
	UserID       int64
	URL          string // "" only while it is disabled
	Enabled      bool
	FriendlyName string
	// Events are the settings turned on, in WebhookEvents order.
	Events []WebhookEvent
	// Signed: its POSTs carry SendGrid's signature headers.
	Signed bool
	// PublicKey verifies its signatures (events.Signer.PublicKeyBase64):
	// "" when it has no key yet. Turning signing off keeps the key, so
	// PublicKey may be set while Signed is false; turning it on again
	// brings back the same key.
	PublicKey string
	CreatedAt time.Time
	UpdatedAt time.Time
	// What the dispatcher last saw: the last batch the receiver took, the
	// last failure (short, safe to show the owner).
	LastSuccessAt time.Time
	LastError     string
	LastErrorAt   time.Time
}

// Has reports whether the webhook takes the event.
func (w Webhook) Has(e WebhookEvent) bool { return slices.Contains(w.Events, e) }

// WebhookSettings are the settings to change: nil (or, for Events, a
// missing key) leaves a setting as it is; at creation that is off, ""
// and no events.
type WebhookSettings struct {
	URL          *string
	Enabled      *bool
	FriendlyName *string
	Events       map[WebhookEvent]bool
	// Signed turns signing on (generating the key the first time) or off
	// (keeping the key).
	Signed *bool
}

// ListWebhooks returns the webhooks of the Actor's user, oldest first.
func (s *Service) ListWebhooks(ctx context.Context, a Actor) ([]Webhook, error) {
	if err := a.need(ScopeWebhookRead); err != nil {
		return nil, err
	}
	if err := a.needUser("webhooks"); err != nil {
		return nil, err
	}
	list, err := s.Store.Webhooks(ctx, a.User.ID)
	if err != nil {
		return nil, fmt.Errorf("admin: webhooks of %q: %w", a.User.Name, err)
	}
	out := make([]Webhook, 0, len(list))
	for _, w := range list {
		v, err := webhookOf(w)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// GetWebhook returns the webhook id; id "" is the user's first (oldest)
// webhook, as SendGrid's settings endpoints without an id have it, and
// ErrNotFound when it has none.
func (s *Service) GetWebhook(ctx context.Context, a Actor, id string) (Webhook, error) {
	if err := a.need(ScopeWebhookRead); err != nil {
		return Webhook{}, err
	}
	w, err := s.webhook(ctx, a, id)
	if err != nil {
		return Webhook{}, err
	}
	return webhookOf(w)
}

// WebhookBacklog counts the events waiting in the webhook's outbox (id
// "": the user's first webhook's).
func (s *Service) WebhookBacklog(ctx context.Context, a Actor, id string) (int, error) {
	if err := a.need(ScopeWebhookRead); err != nil {
		return 0, err
	}
	w, err := s.webhook(ctx, a, id)
	if err != nil {
		return 0, err
	}
	n, err := s.Store.OutboxBacklog(ctx, w.ID)
	if err != nil {
		return 0, fmt.Errorf("admin: backlog of webhook %s: %w", w.ID, err)
	}
	return n, nil
}

// CreateWebhook adds a webhook for the Actor's user: a URL is required,
// the rest is off unless set. A user's MaxWebhooks+1st, and a URL one of
// its webhooks has already, are *InvalidErrors, as SendGrid refuses them.
func (s *Service) CreateWebhook(ctx context.Context, a Actor, set WebhookSettings) (Webhook, error) {
	if err := a.need(ScopeWebhookUpdate); err != nil {
		return Webhook{}, err
	}
	if err := a.needUser("webhook"); err != nil {
		return Webhook{}, err
	}
	if set.URL == nil || strings.TrimSpace(*set.URL) == "" {
		return Webhook{}, Invalid("url", "required: where the events are POSTed")
	}
	return s.createWebhook(ctx, a, set)
}

// UpdateWebhook changes the settings set names of the webhook id and
// returns it. id "" is the user's first webhook, created (as by
// CreateWebhook, but a URL is not required while it stays disabled) when
// it has none: SendGrid's settings endpoints without an id, which older
// clients use, and the CLI's webhook set.
func (s *Service) UpdateWebhook(ctx context.Context, a Actor, id string, set WebhookSettings) (Webhook, error) {
	if err := a.need(ScopeWebhookUpdate); err != nil {
		return Webhook{}, err
	}
	w, err := s.webhook(ctx, a, id)
	if id == "" && errors.Is(err, ErrNotFound) {
		return s.createWebhook(ctx, a, set)
	}
	if err != nil {
		return Webhook{}, err
	}
	if err := s.apply(ctx, &w, set); err != nil {
		return Webhook{}, err
	}
	w.UpdatedAt = s.now()
	err = s.Store.UpdateWebhook(ctx, w)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Webhook{}, fmt.Errorf("%w: webhook %s", ErrNotFound, w.ID)
	case err != nil:
		return Webhook{}, fmt.Errorf("admin: update webhook %s: %w", w.ID, err)
	}
	return webhookOf(w)
}

// DeleteWebhook removes the webhook id and the events waiting for it.
// Unlike the others, it takes no "" for the first webhook (SendGrid's
// DELETE needs an id, lest one be deleted by mistake).
func (s *Service) DeleteWebhook(ctx context.Context, a Actor, id string) error {
	if err := a.need(ScopeWebhookUpdate); err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("%w: webhook without an id", ErrNotFound)
	}
	w, err := s.webhook(ctx, a, id)
	if err != nil {
		return err
	}
	err = s.Store.DeleteWebhook(ctx, w.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: webhook %s", ErrNotFound, w.ID)
	case err != nil:
		return fmt.Errorf("admin: delete webhook %s: %w", w.ID, err)
	}
	return nil
}

// TestWebhook has the WebhookTester POST a test event to url, signed as
// the webhook id is (id "": the user's first webhook, if it has one).
// url "" is the webhook's own URL. The receiver's failure is an
// *InvalidError of field url; without a WebhookTester it is
// ErrUnavailable.
func (s *Service) TestWebhook(ctx context.Context, a Actor, id, rawURL string) error {
	if err := a.need(ScopeWebhookTest); err != nil {
		return err
	}
	if err := a.needUser("webhook"); err != nil {
		return err
	}
	w, err := s.webhook(ctx, a, id)
	switch {
	case id == "" && errors.Is(err, ErrNotFound):
		// No webhook yet: a test of the URL alone, unsigned.
		w = store.Webhook{UserID: a.User.ID}
	case err != nil:
		return err
	}
	if strings.TrimSpace(rawURL) == "" {
		rawURL = w.URL
	}
	if rawURL == "" {
		return Invalid("url", "required: where the test event is POSTed (the webhook has no URL)")
	}
	u, err := checkWebhookURL(rawURL)
	if err != nil {
		return err
	}
	if s.WebhookTester == nil {
		return fmt.Errorf("%w: webhook tests need the event dispatcher, which this process does not run", ErrUnavailable)
	}
	if err := s.WebhookTester.SendTest(ctx, w, u); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("admin: test webhook: %w", ctx.Err())
		}
		return Invalid("url", "the test POST failed: %s", clip(err.Error(), 200))
	}
	return nil
}

// createWebhook makes the Actor's user a webhook with set applied.
func (s *Service) createWebhook(ctx context.Context, a Actor, set WebhookSettings) (Webhook, error) {
	if err := a.needUser("webhook"); err != nil {
		return Webhook{}, err
	}
	list, err := s.Store.Webhooks(ctx, a.User.ID)
	if err != nil {
		return Webhook{}, fmt.Errorf("admin: webhooks of %q: %w", a.User.Name, err)
	}
	if len(list) >= MaxWebhooks {
		return Webhook{}, Invalid("", "user %s has %d webhooks, the most there may be", a.User.Name, len(list))
	}
	id, err := newWebhookID(s.identityRand())
	if err != nil {
		return Webhook{}, err
	}
	now := s.now()
	w := store.Webhook{ID: id, UserID: a.User.ID, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(ctx, &w, set); err != nil {
		return Webhook{}, err
	}
	err = s.Store.CreateWebhook(ctx, w)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Webhook{}, fmt.Errorf("%w: user %q", ErrNotFound, a.User.Name)
	case err != nil:
		return Webhook{}, fmt.Errorf("admin: create webhook for %q: %w", a.User.Name, err)
	}
	return webhookOf(w)
}

// apply checks set and writes it into w: a URL that is http or https
// and no other of the user's webhooks has, a friendly name fit to print,
// an enabled webhook only with a URL, and a signing key made the first
// time signing is turned on.
func (s *Service) apply(ctx context.Context, w *store.Webhook, set WebhookSettings) error {
	if set.URL != nil {
		u := strings.TrimSpace(*set.URL)
		if u != "" {
			var err error
			if u, err = checkWebhookURL(u); err != nil {
				return err
			}
			others, err := s.Store.Webhooks(ctx, w.UserID)
			if err != nil {
				return fmt.Errorf("admin: webhooks of user %d: %w", w.UserID, err)
			}
			for _, o := range others {
				if o.ID != w.ID && o.URL == u {
					return Invalid("url", "webhook %s posts to this URL already: a URL is one webhook's", o.ID)
				}
			}
		}
		w.URL = u
	}
	if set.Enabled != nil {
		w.Enabled = *set.Enabled
	}
	if w.Enabled && w.URL == "" {
		return Invalid("url", "required: an enabled webhook needs a URL")
	}
	if set.FriendlyName != nil {
		if err := checkFriendlyName(*set.FriendlyName); err != nil {
			return err
		}
		w.FriendlyName = *set.FriendlyName
	}
	if len(set.Events) > 0 {
		on := map[WebhookEvent]bool{}
		for _, e := range eventsOf(w.Events) {
			on[e] = true
		}
		for e, v := range set.Events {
			if !slices.Contains(WebhookEvents(), e) {
				return Invalid("events", "unknown event %.40q", e)
			}
			on[e] = v
		}
		w.Events = nil
		for _, m := range webhookEventTypes() {
			if on[m.event] {
				w.Events = append(w.Events, m.types...)
			}
		}
	}
	if set.Signed != nil {
		w.Signed = *set.Signed
		if w.Signed && len(w.PrivateKey) == 0 {
			key, err := events.NewKey(s.identityRand())
			if err != nil {
				return fmt.Errorf("admin: webhook signing key: %w", err)
			}
			if w.PrivateKey, err = events.MarshalKey(key); err != nil {
				return fmt.Errorf("admin: webhook signing key: %w", err)
			}
		}
	}
	return nil
}

// webhook loads the webhook id ("": the user's first) if the Actor
// reaches it; anything else is ErrNotFound.
func (s *Service) webhook(ctx context.Context, a Actor, id string) (store.Webhook, error) {
	if id == "" {
		if err := a.needUser("webhook"); err != nil {
			return store.Webhook{}, err
		}
		list, err := s.Store.Webhooks(ctx, a.User.ID)
		if err != nil {
			return store.Webhook{}, fmt.Errorf("admin: webhooks of %q: %w", a.User.Name, err)
		}
		if len(list) == 0 {
			return store.Webhook{}, fmt.Errorf("%w: user %s has no webhook", ErrNotFound, a.User.Name)
		}
		return list[0], nil
	}
	if !WebhookIDShape(id) {
		return store.Webhook{}, fmt.Errorf("%w: webhook (malformed id)", ErrNotFound)
	}
	w, err := s.Store.Webhook(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !a.reaches(w.UserID):
		return store.Webhook{}, fmt.Errorf("%w: webhook %s", ErrNotFound, id)
	case err != nil:
		return store.Webhook{}, fmt.Errorf("admin: webhook %s: %w", id, err)
	}
	return w, nil
}

// needUser is an *InvalidError when the Actor acts for no user (the
// operator without a name).
func (a Actor) needUser(what string) error {
	if a.User.ID == 0 {
		return Invalid("user", "name the user whose %s it is", what)
	}
	return nil
}

// webhookOf is the webhook as the operations show it.
func webhookOf(w store.Webhook) (Webhook, error) {
	v := Webhook{
		ID: w.ID, UserID: w.UserID, URL: w.URL, Enabled: w.Enabled, FriendlyName: w.FriendlyName,
		Events: eventsOf(w.Events), Signed: w.Signed,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		LastSuccessAt: w.LastSuccessAt, LastError: w.LastError, LastErrorAt: w.LastErrorAt,
	}
	if len(w.PrivateKey) > 0 {
		key, err := events.ParseKey(w.PrivateKey)
		if err != nil {
			return Webhook{}, fmt.Errorf("admin: webhook %s: %w", w.ID, err)
		}
		signer, err := events.NewSigner(key)
		if err != nil {
			return Webhook{}, fmt.Errorf("admin: webhook %s: %w", w.ID, err)
		}
		v.PublicKey = signer.PublicKeyBase64()
	}
	return v, nil
}

// eventsOf are the settings the store's event types turn on, in
// WebhookEvents order. A setting is on when its first type is selected.
func eventsOf(types []store.EventType) []WebhookEvent {
	var out []WebhookEvent
	for _, m := range webhookEventTypes() {
		if slices.Contains(types, m.types[0]) {
			out = append(out, m.event)
		}
	}
	return out
}

// newWebhookID is a random id in the shape of SendGrid's, a version 4
// UUID: 8-4-4-4-12 lowercase hex digits.
func newWebhookID(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("admin: webhook id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// WebhookIDShape reports whether id has the shape of a webhook id (a
// UUID in lowercase hex), so that anything else is not looked up, nor
// echoed in an error.
func WebhookIDShape(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, r := range id {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if r != '-' {
				return false
			}
		case !('0' <= r && r <= '9' || 'a' <= r && r <= 'f'):
			return false
		}
	}
	return true
}

// checkWebhookURL checks a webhook's URL and returns it trimmed: http or
// https, a host, no user name or password (which would be sent along,
// and shown), no fragment, at most maxWebhookURL bytes. Which addresses
// the host may stand for is the dispatcher's to check when it connects
// (internal/netguard), since DNS may change its answer after this.
//
// TODO(issue 15): use webhook.ValidateURL (internal/webhook) once it is
// in, so that the settings and the dispatcher hold one rule.
func checkWebhookURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	// The URL is not echoed: its path or query may hold a token, and a
	// refusal is logged.
	bad := func(why string) error { return Invalid("url", "not a valid URL: %s", why) }
	if len(raw) > maxWebhookURL {
		return "", Invalid("url", "longer than %d bytes", maxWebhookURL)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", bad("it contains white space or a control character")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", bad("it does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", bad("only http and https URLs are POSTed to")
	case u.Opaque != "" || u.Hostname() == "":
		return "", bad("it names no host")
	case u.User != nil:
		return "", bad("it holds a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", bad("it has a fragment")
	}
	return raw, nil
}

// checkFriendlyName checks a webhook's friendly name: at most
// maxFriendlyName bytes of UTF-8 without control characters.
func checkFriendlyName(name string) error {
	switch {
	case len(name) > maxFriendlyName:
		return Invalid("friendly_name", "longer than %d bytes", maxFriendlyName)
	case !utf8.ValidString(name):
		return Invalid("friendly_name", "not valid UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return Invalid("friendly_name", "contains a control character")
	}
	return nil
}

// clip shortens s to at most n bytes, on a rune boundary, for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
