package manageapi_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

const (
	hookSettings = "/v3/user/webhooks/event/settings"
	hookSigned   = hookSettings + "/signed"
	hookTest     = "/v3/user/webhooks/event/test"
)

var (
	uuidRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	isoDateRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
)

// settingsKeys are the keys of SendGrid's settings object, every one of
// which each answer has (public_key and account_status_change aside).
var settingsKeys = []string{"enabled", "url", "group_resubscribe", "delivered", "group_unsubscribe", "spam_report", "bounce",
	"deferred", "unsubscribe", "processed", "open", "click", "dropped", "friendly_name", "id", "created_date", "updated_date"}

// hookOf checks that body is SendGrid's settings object and returns it.
func hookOf(t *testing.T, body any) map[string]any {
	t.Helper()
	m := obj(t, body)
	for _, k := range settingsKeys {
		if _, ok := m[k]; !ok {
			t.Fatalf("settings lack %q: %v", k, m)
		}
	}
	for k := range m {
		if !slices.Contains(settingsKeys, k) && k != "public_key" && k != "account_status_change" {
			t.Fatalf("settings have %q, which SendGrid's have not: %v", k, m)
		}
	}
	return m
}

// on lists the event booleans that are true.
func on(m map[string]any) string {
	var out []string
	for _, k := range settingsKeys {
		if v, ok := m[k].(bool); ok && v && k != "enabled" {
			out = append(out, k)
		}
	}
	return strings.Join(out, ",")
}

// hooksOf returns user's webhooks as the store has them.
func (e *env) hooksOf(user string) []store.Webhook {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.store.UserByName(ctx, user)
	if err != nil {
		e.t.Fatal(err)
	}
	list, err := e.store.Webhooks(ctx, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// hooksSnapshot is what a refused request must not change.
func (e *env) hooksSnapshot(user string) string {
	e.t.Helper()
	var b strings.Builder
	for _, w := range e.hooksOf(user) {
		fmt.Fprintf(&b, "%s %s %v %v %v %q %d %s|", w.ID, w.URL, w.Enabled, w.Signed, w.Events, w.FriendlyName, len(w.PrivateKey), w.UpdatedAt)
	}
	return b.String()
}

// raw sends body as it is, signed with user's full key.
func (e *env) raw(method, path, user, body string) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.keys[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestWebhookSettings (issue 15): the legacy settings (the first
// webhook, made by the first PATCH), the multi-webhook API beside them,
// and their shapes.
func TestWebhookSettings(t *testing.T) {
	e := newEnv(t)
	// Before any: blank settings, as SendGrid's legacy endpoint has them.
	blank := hookOf(t, e.want(call{method: "GET", path: hookSettings, as: "acme"}, http.StatusOK))
	if blank["enabled"] != false || blank["url"] != "" || blank["id"] != "" || on(blank) != "" || blank["created_date"] != nil || blank["public_key"] != nil {
		t.Fatalf("blank settings: %v", blank)
	}
	if s := obj(t, e.want(call{method: "GET", path: hookSigned, as: "acme"}, http.StatusOK)); s["id"] != "" || s["public_key"] != "" || len(s) != 2 {
		t.Fatalf("blank signed: %v", s)
	}
	if l := obj(t, e.want(call{method: "GET", path: hookSettings + "/all", as: "acme"}, http.StatusOK)); l["max_allowed"] != float64(5) || len(l["webhooks"].([]any)) != 0 {
		t.Fatalf("all, none yet: %v", l)
	}

	// The first PATCH makes the webhook; events Postern never has are
	// taken and read back false.
	first := hookOf(t, e.want(call{method: "PATCH", path: hookSettings, as: "acme", body: map[string]any{
		"enabled": true, "url": "https://hooks.acme.test/sg", "delivered": true, "bounce": true, "open": true, "click": true,
		"group_unsubscribe": true, "oauth_client_id": "", "oauth_token_url": ""}}, http.StatusOK))
	id := first["id"].(string)
	if !uuidRE.MatchString(id) || first["enabled"] != true || first["url"] != "https://hooks.acme.test/sg" || on(first) != "delivered,bounce" ||
		!isoDateRE.MatchString(first["created_date"].(string)) || first["created_date"] != first["updated_date"] || first["public_key"] != nil {
		t.Fatalf("first PATCH: %v", first)
	}
	if got := hookOf(t, e.want(call{method: "GET", path: hookSettings, as: "acme"}, http.StatusOK)); fmt.Sprint(got) != fmt.Sprint(first) {
		t.Fatalf("GET after PATCH: %v, want %v", got, first)
	}
	// A PATCH changes what it names.
	renamed := hookOf(t, e.want(call{method: "PATCH", path: hookSettings, as: "acme", body: map[string]any{"friendly_name": "Delivery", "bounce": false}}, http.StatusOK))
	if renamed["id"] != id || renamed["friendly_name"] != "Delivery" || on(renamed) != "delivered" || renamed["url"] != first["url"] || renamed["enabled"] != true {
		t.Fatalf("second PATCH: %v", renamed)
	}

	// A second webhook; the legacy settings stay the first.
	second := hookOf(t, e.want(call{method: "POST", path: hookSettings, as: "acme", body: map[string]any{
		"url": "http://second.acme.test/in", "processed": true, "deferred": true, "friendly_name": "Two"}}, http.StatusCreated))
	id2 := second["id"].(string)
	if id2 == id || second["enabled"] != false || on(second) != "deferred,processed" {
		t.Fatalf("POST: %v", second)
	}
	if got := hookOf(t, e.want(call{method: "GET", path: hookSettings, as: "acme"}, http.StatusOK)); got["id"] != id {
		t.Fatalf("the legacy settings after a POST: %v", got)
	}
	list := obj(t, e.want(call{method: "GET", path: hookSettings + "/all", as: "acme"}, http.StatusOK))
	hooks := list["webhooks"].([]any)
	if len(hooks) != 2 || hookOf(t, hooks[0])["id"] != id || hookOf(t, hooks[1])["id"] != id2 {
		t.Fatalf("all: %v", list)
	}
	if got := hookOf(t, e.want(call{method: "GET", path: hookSettings + "/" + id2, as: "acme"}, http.StatusOK)); fmt.Sprint(got) != fmt.Sprint(second) {
		t.Fatalf("GET {id}: %v, want %v", got, second)
	}
	if got := hookOf(t, e.want(call{method: "PATCH", path: hookSettings + "/" + id2, as: "acme", body: map[string]any{"enabled": true, "processed": false}}, http.StatusOK)); got["enabled"] != true || on(got) != "deferred" {
		t.Fatalf("PATCH {id}: %v", got)
	}
	withStatus := hookOf(t, e.want(call{method: "GET", path: hookSettings + "/" + id2 + "?include=account_status_change", as: "acme"}, http.StatusOK))
	if withStatus["account_status_change"] != false {
		t.Fatalf("include=account_status_change: %v", withStatus)
	}

	// Signing: the legacy form signs the first webhook.
	signed := obj(t, e.want(call{method: "PATCH", path: hookSigned, as: "acme", body: map[string]any{"enabled": true}}, http.StatusOK))
	pub, _ := signed["public_key"].(string)
	if signed["id"] != id || pub == "" || len(signed) != 2 {
		t.Fatalf("PATCH signed: %v", signed)
	}
	if _, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(pub); err != nil {
		t.Fatalf("sendgrid-go does not read the public key: %v", err)
	}
	for _, p := range []string{hookSigned, hookSigned + "/" + id} {
		if got := obj(t, e.want(call{method: "GET", path: p, as: "acme"}, http.StatusOK)); got["id"] != id || got["public_key"] != pub {
			t.Fatalf("GET %s: %v", p, got)
		}
	}
	if got := hookOf(t, e.want(call{method: "GET", path: hookSettings, as: "acme"}, http.StatusOK)); got["public_key"] != pub {
		t.Fatalf("the signed webhook's settings: %v", got)
	}
	if got := obj(t, e.want(call{method: "GET", path: hookSigned + "/" + id2, as: "acme"}, http.StatusOK)); got["id"] != id2 || got["public_key"] != "" {
		t.Fatalf("the unsigned one: %v", got)
	}
	// Off: "" (the key is kept); on again: the same key.
	if got := obj(t, e.want(call{method: "PATCH", path: hookSigned + "/" + id, as: "acme", body: map[string]any{"enabled": false}}, http.StatusOK)); got["public_key"] != "" {
		t.Fatalf("signing off: %v", got)
	}
	if got := hookOf(t, e.want(call{method: "GET", path: hookSettings + "/" + id, as: "acme"}, http.StatusOK)); got["public_key"] != nil {
		t.Fatalf("unsigned settings show a key: %v", got)
	}
	if got := obj(t, e.want(call{method: "PATCH", path: hookSigned, as: "acme", body: map[string]any{"enabled": true}}, http.StatusOK)); got["public_key"] != pub {
		t.Fatalf("signing on again: %v, want the key %s", got, pub)
	}

	// Refusals, with SendGrid's error body; nothing changes.
	before := e.hooksSnapshot("acme")
	for _, tc := range []struct {
		name   string
		c      call
		status int
		field  string
	}{
		{"POST without url", call{method: "POST", path: hookSettings, body: map[string]any{"enabled": true}}, 400, "url"},
		{"ftp", call{method: "POST", path: hookSettings, body: map[string]any{"url": "ftp://hooks.acme.test/"}}, 400, "url"},
		{"userinfo", call{method: "PATCH", path: hookSettings, body: map[string]any{"url": "https://u:secret@hooks.acme.test/"}}, 400, "url"},
		{"a URL taken", call{method: "PATCH", path: hookSettings + "/" + id2, body: map[string]any{"url": "https://hooks.acme.test/sg"}}, 400, "url"},
		{"enabled without a URL", call{method: "PATCH", path: hookSettings, body: map[string]any{"url": ""}}, 400, "url"},
		{"OAuth", call{method: "POST", path: hookSettings, body: map[string]any{"url": "https://o.acme.test/", "oauth_client_id": "a835e7", "oauth_token_url": "https://oauth.test"}}, 400, "oauth_client_id"},
		{"OAuth secret", call{method: "PATCH", path: hookSettings + "/" + id, body: map[string]any{"oauth_client_secret": "335a9b"}}, 400, "oauth_client_secret"},
		{"a control character in the name", call{method: "PATCH", path: hookSettings, body: map[string]any{"friendly_name": "a\u001bb"}}, 400, "friendly_name"},
		{"enabled is a string", call{method: "PATCH", path: hookSettings, body: map[string]any{"enabled": "yes"}}, 400, ""},
		{"signed without enabled", call{method: "PATCH", path: hookSigned, body: map[string]any{}}, 400, "enabled"},
		{"signed not a bool", call{method: "PATCH", path: hookSigned + "/" + id, body: map[string]any{"enabled": 1}}, 400, ""},
		{"unknown id", call{method: "GET", path: hookSettings + "/0f8fad5b-d9cb-469f-a165-70867728950e"}, 404, ""},
		{"malformed id", call{method: "PATCH", path: hookSettings + "/nope", body: map[string]any{"enabled": false}}, 404, ""},
		{"unknown id signed", call{method: "PATCH", path: hookSigned + "/0f8fad5b-d9cb-469f-a165-70867728950e", body: map[string]any{"enabled": true}}, 404, ""},
		{"DELETE without an id", call{method: "DELETE", path: hookSettings}, 405, ""},
		{"DELETE signed", call{method: "DELETE", path: hookSigned}, 405, ""},
		{"PATCH all", call{method: "PATCH", path: hookSettings + "/all", body: map[string]any{}}, 405, ""},
		{"POST {id}", call{method: "POST", path: hookSettings + "/" + id, body: map[string]any{}}, 405, ""},
		{"no tester", call{method: "POST", path: hookTest, body: map[string]any{"url": "https://hooks.acme.test/sg"}}, 503, ""},
	} {
		tc.c.as = "acme"
		e.wantRefusal(t, tc.name, tc.c, tc.status, tc.field)
	}
	if st := e.raw("PATCH", hookSettings, "acme", `{"enabled": true`); st != 400 {
		t.Errorf("truncated JSON: %d", st)
	}
	if st := e.raw("POST", hookSettings, "acme", ``); st != 400 {
		t.Errorf("no body: %d", st)
	}
	if after := e.hooksSnapshot("acme"); after != before {
		t.Errorf("refusals changed the webhooks:\n%s\n%s", before, after)
	}
	if strings.Contains(e.logs.String(), "secret@") {
		t.Error("a refused URL's password reached the log")
	}

	// At most five.
	for i := 3; i <= 5; i++ {
		e.want(call{method: "POST", path: hookSettings, as: "acme", body: map[string]any{"url": fmt.Sprintf("https://h%d.acme.test/", i)}}, http.StatusCreated)
	}
	e.wantRefusal(t, "a sixth", call{method: "POST", path: hookSettings, as: "acme", body: map[string]any{"url": "https://h6.acme.test/"}}, 400, "")

	// DELETE needs an id; the legacy settings then are the oldest left.
	e.want(call{method: "DELETE", path: hookSettings + "/" + id, as: "acme"}, http.StatusNoContent)
	e.want(call{method: "GET", path: hookSettings + "/" + id, as: "acme"}, http.StatusNotFound)
	e.want(call{method: "DELETE", path: hookSettings + "/" + id, as: "acme"}, http.StatusNotFound)
	if got := hookOf(t, e.want(call{method: "GET", path: hookSettings, as: "acme"}, http.StatusOK)); got["id"] != id2 {
		t.Fatalf("the legacy settings after the first's deletion: %v", got)
	}
}

// postingTester POSTs a signed test event to the URL, as the dispatcher
// does, and words a receiver's refusal as it does.
type postingTester struct{ client *http.Client }

func (p postingTester) SendTest(ctx context.Context, w store.Webhook, url string) error {
	body := []byte(`[{"email":"example@test.com","timestamp":1,"event":"processed","sg_event_id":"test"}]`)
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if w.Signed {
		key, err := events.ParseKey(w.PrivateKey)
		if err != nil {
			return err
		}
		signer, err := events.NewSigner(key)
		if err != nil {
			return err
		}
		sig, ts, err := signer.Sign(body, time.Now(), rand.Reader)
		if err != nil {
			return err
		}
		req.Header.Set(events.SignatureHeader, sig)
		req.Header.Set(events.TimestampHeader, ts)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return errors.New("connect failed")
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// hookReceiver records the POSTs a webhook receiver on loopback gets.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	got    []struct {
		path, sig, ts, body string
	}
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{status: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, struct{ path, sig, ts, body string }{req.URL.Path,
			req.Header.Get(events.SignatureHeader), req.Header.Get(events.TimestampHeader), string(b)})
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// TestWebhookTestEndpoint: POST /v3/user/webhooks/event/test sends the
// test to the URL given, signed with the webhook's key, which
// sendgrid-go's verifier accepts with the public key the API gave; a
// receiver's failure is 400 on url; a bad URL is never POSTed to.
func TestWebhookTestEndpoint(t *testing.T) {
	e := newEnv(t)
	rcv := newHookReceiver(t)
	e.admin.WebhookTester = postingTester{client: rcv.srv.Client()}
	w := hookOf(t, e.want(call{method: "PATCH", path: hookSettings, as: "acme", body: map[string]any{"url": rcv.srv.URL + "/events", "enabled": true}}, http.StatusOK))
	pub := obj(t, e.want(call{method: "PATCH", path: hookSigned, as: "acme", body: map[string]any{"enabled": true}}, http.StatusOK))["public_key"].(string)

	e.want(call{method: "POST", path: hookTest, as: "acme", body: map[string]any{"id": w["id"], "url": rcv.srv.URL + "/try"}}, http.StatusNoContent)
	e.want(call{method: "POST", path: hookTest, as: "acme", body: map[string]any{"id": w["id"]}}, http.StatusNoContent)
	rcv.mu.Lock()
	got := slices.Clone(rcv.got)
	rcv.mu.Unlock()
	if len(got) != 2 || got[0].path != "/try" || got[1].path != "/events" {
		t.Fatalf("the receiver got %+v", got)
	}
	key, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(pub)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := eventwebhook.VerifySignature(key, []byte(got[0].body), got[0].sig, got[0].ts); !ok || err != nil {
		t.Fatalf("sendgrid-go does not verify the test POST with the API's public key: %v %v", ok, err)
	}

	rcv.mu.Lock()
	rcv.status = http.StatusInternalServerError
	rcv.mu.Unlock()
	st, body := e.do(call{method: "POST", path: hookTest, as: "acme", body: map[string]any{"url": rcv.srv.URL + "/down"}})
	if st != 400 || errorField(body) != "url" || !strings.Contains(errorMessage(body), "HTTP 500") {
		t.Fatalf("a receiver's 500: %d %v", st, body)
	}
	n := len(rcv.got)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"ftp", map[string]any{"url": "ftp://" + rcv.srv.Listener.Addr().String() + "/"}, "url"},
		{"OAuth", map[string]any{"url": rcv.srv.URL, "oauth_client_id": "x"}, "oauth_client_id"},
		{"no URL, no webhook", map[string]any{}, "url"},
	} {
		as := "acme"
		if tc.name == "no URL, no webhook" {
			as = "beta"
		}
		e.wantRefusal(t, tc.name, call{method: "POST", path: hookTest, as: as, body: tc.body}, 400, tc.field)
	}
	e.wantRefusal(t, "another user's id", call{method: "POST", path: hookTest, as: "beta", body: map[string]any{"id": w["id"], "url": rcv.srv.URL}}, 404, "")
	if len(rcv.got) != n {
		t.Fatalf("refused tests were POSTed: %+v", rcv.got[n:])
	}
}

// TestWebhooksWithSendGridGo: SendGrid's Go client, unmodified, sets the
// legacy settings, signs them and reads them back.
func TestWebhooksWithSendGridGo(t *testing.T) {
	e := newEnv(t)
	key := e.keys["acme"]
	st, body := e.sgCall(key, "PATCH", hookSettings, "", map[string]any{"enabled": true, "url": "https://hooks.acme.test/sg",
		"group_resubscribe": true, "delivered": true, "group_unsubscribe": true, "spam_report": true, "bounce": true, "deferred": true,
		"unsubscribe": true, "processed": true, "open": true, "click": true, "dropped": true})
	if st != http.StatusOK || on(hookOf(t, body)) != "delivered,spam_report,bounce,deferred,unsubscribe,processed,dropped" {
		t.Fatalf("PATCH: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "PATCH", hookSigned, "", map[string]any{"enabled": true}); st != http.StatusOK || obj(t, body)["public_key"] == "" {
		t.Fatalf("PATCH signed: %d %v", st, body)
	}
	pub := obj(t, body)["public_key"]
	if st, body = e.sgCall(key, "GET", hookSigned, "", nil); st != http.StatusOK || obj(t, body)["public_key"] != pub {
		t.Fatalf("GET signed: %d %v", st, body)
	}
	if st, body = e.sgCall(key, "GET", hookSettings+"/all", "", nil); st != http.StatusOK || len(obj(t, body)["webhooks"].([]any)) != 1 {
		t.Fatalf("GET all: %d %v", st, body)
	}
	// On behalf of a subuser: the subuser's own first webhook.
	if st, body = e.sgCall(key, "PATCH", hookSettings, "shop", map[string]any{"url": "https://hooks.shop.test/"}); st != http.StatusOK {
		t.Fatalf("PATCH for shop: %d %v", st, body)
	}
	shopID := hookOf(t, body)["id"]
	if st, body = e.sgCall(e.keys["shop"], "GET", hookSettings, "", nil); st != http.StatusOK || hookOf(t, body)["id"] != shopID {
		t.Fatalf("shop's own GET: %d %v", st, body)
	}
	if st, _ = e.sgCall(key, "DELETE", hookSettings+"/"+fmt.Sprint(shopID), "shop", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE for shop: %d", st)
	}
}

// TestWebhookScopes: each endpoint with a key holding every scope but
// its own (403, SendGrid's error body, nothing changed) and with a key
// holding only its own.
func TestWebhookScopes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op, err := e.admin.Operator(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://hooks.acme.test/"
	first, err := e.admin.CreateWebhook(ctx, op, admin.WebhookSettings{URL: &url})
	if err != nil {
		t.Fatal(err)
	}
	e.admin.WebhookTester = okTester{}
	fresh := func() string {
		t.Helper()
		u := fmt.Sprintf("https://%d.acme.test/", len(e.hooksOf("acme")))
		w, err := e.admin.CreateWebhook(ctx, op, admin.WebhookSettings{URL: &u})
		if err != nil {
			t.Fatal(err)
		}
		return w.ID
	}
	one := hookSettings + "/" + first.ID
	for _, tc := range []struct {
		name, scope, method string
		path                func() string
		body                any
		status              int
	}{
		{"legacy get", admin.ScopeWebhookRead, "GET", func() string { return hookSettings }, nil, 200},
		{"legacy patch", admin.ScopeWebhookUpdate, "PATCH", func() string { return hookSettings }, map[string]any{"friendly_name": "x"}, 200},
		{"create", admin.ScopeWebhookUpdate, "POST", func() string { return hookSettings }, map[string]any{"url": "https://new.acme.test/"}, 201},
		{"all", admin.ScopeWebhookRead, "GET", func() string { return hookSettings + "/all" }, nil, 200},
		{"get", admin.ScopeWebhookRead, "GET", func() string { return one }, nil, 200},
		{"patch", admin.ScopeWebhookUpdate, "PATCH", func() string { return one }, map[string]any{"delivered": true}, 200},
		{"delete", admin.ScopeWebhookUpdate, "DELETE", func() string { return hookSettings + "/" + fresh() }, nil, 204},
		{"legacy signed get", admin.ScopeWebhookRead, "GET", func() string { return hookSigned }, nil, 200},
		{"legacy signed patch", admin.ScopeWebhookUpdate, "PATCH", func() string { return hookSigned }, map[string]any{"enabled": true}, 200},
		{"signed get", admin.ScopeWebhookRead, "GET", func() string { return hookSigned + "/" + first.ID }, nil, 200},
		{"signed patch", admin.ScopeWebhookUpdate, "PATCH", func() string { return hookSigned + "/" + first.ID }, map[string]any{"enabled": false}, 200},
		{"test", admin.ScopeWebhookTest, "POST", func() string { return hookTest }, map[string]any{"id": first.ID}, 204},
	} {
		p := tc.path()
		without, only := e.scopeKeys(t, "acme", tc.scope)
		before := e.hooksSnapshot("acme")
		st, resp := e.do(call{method: tc.method, path: p, as: "key:" + without, body: tc.body})
		if !forbidden(st, resp) {
			t.Errorf("%s without %s: %d %v, want 403 with SendGrid's error body", tc.name, tc.scope, st, resp)
		}
		if after := e.hooksSnapshot("acme"); after != before {
			t.Errorf("%s without %s changed the webhooks", tc.name, tc.scope)
		}
		if st, resp := e.do(call{method: tc.method, path: p, as: "key:" + only, body: tc.body}); st != tc.status {
			t.Errorf("%s with only %s: %d %v, want %d", tc.name, tc.scope, st, resp, tc.status)
		}
	}
}

// okTester accepts every test POST without sending it.
type okTester struct{}

func (okTester) SendTest(context.Context, store.Webhook, string) error { return nil }

// TestWebhookTenantIsolation: a webhook is its user's; another user,
// the user's subuser, and its account without On-Behalf-Of alike get 404
// for it by every endpoint, see nothing of it in their lists and legacy
// settings, and change nothing.
func TestWebhookTenantIsolation(t *testing.T) {
	e := newEnv(t)
	e.admin.WebhookTester = okTester{}
	w := hookOf(t, e.want(call{method: "PATCH", path: hookSettings, as: "acme", body: map[string]any{"url": "https://hooks.acme.test/", "enabled": true, "delivered": true}}, http.StatusOK))
	e.want(call{method: "PATCH", path: hookSigned, as: "acme", body: map[string]any{"enabled": true}}, http.StatusOK)
	id := w["id"].(string)
	// shop's own webhook, made by its account on its behalf.
	s := hookOf(t, e.want(call{method: "PATCH", path: hookSettings, as: "acme", obo: "shop", body: map[string]any{"url": "https://hooks.shop.test/"}}, http.StatusOK))
	shopID := s["id"].(string)
	before := e.hooksSnapshot("acme") + e.hooksSnapshot("shop")
	for _, a := range []struct {
		name, as, obo string
		target        string // the webhook id it does not reach
	}{
		{"A's subuser", "shop", "", id},
		{"A for its subuser", "acme", "shop", id},
		{"B", "beta", "", id},
		{"B's subuser", "bsub", "", id},
		{"A without On-Behalf-Of", "acme", "", shopID},
		{"B for A's subuser", "beta", "shop", shopID},
	} {
		c := func(method, p string, body any) call {
			return call{method: method, path: p, as: a.as, obo: a.obo, body: body}
		}
		for _, cc := range []call{
			c("GET", hookSettings+"/"+a.target, nil),
			c("PATCH", hookSettings+"/"+a.target, map[string]any{"url": "https://evil.test/"}),
			c("DELETE", hookSettings+"/"+a.target, nil),
			c("GET", hookSigned+"/"+a.target, nil),
			c("PATCH", hookSigned+"/"+a.target, map[string]any{"enabled": false}),
			c("POST", hookTest, map[string]any{"id": a.target, "url": "https://evil.test/"}),
		} {
			if st, body := e.do(cc); st != http.StatusNotFound {
				t.Errorf("%s: %s %s: %d %v, want 404", a.name, cc.method, cc.path, st, body)
			}
		}
		if a.name == "B for A's subuser" {
			continue // On-Behalf-Of itself is 404
		}
		// Its lists and legacy settings are its own.
		list := obj(t, e.want(c("GET", hookSettings+"/all", nil), http.StatusOK))["webhooks"].([]any)
		for _, h := range list {
			if hid := hookOf(t, h)["id"]; hid == a.target {
				t.Errorf("%s lists %s", a.name, hid)
			}
		}
		if got := hookOf(t, e.want(c("GET", hookSettings, nil), http.StatusOK)); got["id"] == a.target {
			t.Errorf("%s's legacy settings are the other's: %v", a.name, got)
		}
		if got := obj(t, e.want(c("GET", hookSigned, nil), http.StatusOK)); got["id"] == a.target {
			t.Errorf("%s's legacy signed settings are the other's: %v", a.name, got)
		}
	}
	if after := e.hooksSnapshot("acme") + e.hooksSnapshot("shop"); after != before {
		t.Errorf("other tenants changed the webhooks:\n%s\n%s", before, after)
	}
}
