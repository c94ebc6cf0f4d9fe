package manageapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/submit/submittest"
	"github.com/postern/postern/internal/testenv"
	"github.com/postern/postern/internal/web"
	"github.com/postern/postern/internal/web/manageapi"
)

// env is the whole HTTP listener (web's mux, the real send API's place
// left to a stub, the management API mounted) on a 127.0.0.1 port, over
// a real SQLite store, account service, funnel and admin service, with
// two tenants:
//
//	acme (account A) with subuser shop (A's subuser)
//	beta (account B) with subuser bsub
//
// and a key of every scope ("full") for each user, plus acme's
// mail.send-only key.
type env struct {
	t        *testing.T
	store    *sqlite.DB
	accounts *account.Service
	admin    *admin.Service
	base     string
	logs     *testenv.LogBuffer
	keys     map[string]string // user → full-access key
	keyIDs   map[string]string // user → that key's id
	sendOnly string            // acme's mail.send key
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/p.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	accts := &account.Service{Store: st, Rand: rand.Reader, Now: time.Now}
	e := &env{t: t, store: st, accounts: accts, keys: map[string]string{}, keyIDs: map[string]string{}}
	for _, u := range [][2]string{{"acme", ""}, {"shop", "acme"}, {"beta", ""}, {"bsub", "beta"}} {
		if _, err := accts.CreateUser(ctx, u[0], u[1]); err != nil {
			t.Fatal(err)
		}
		key, rec, err := accts.CreateKey(ctx, u[0], "full", account.KnownScopes())
		if err != nil {
			t.Fatal(err)
		}
		e.keys[u[0]], e.keyIDs[u[0]] = key, rec.ID
	}
	if e.sendOnly, _, err = accts.CreateKey(ctx, "acme", "send", []string{account.ScopeMailSend}); err != nil {
		t.Fatal(err)
	}
	q := queue.New(st, queue.Options{})
	qctx, cancelQ := context.WithCancel(ctx)
	qdone := make(chan struct{})
	go func() { defer close(qdone); q.Run(qctx) }()
	t.Cleanup(func() { cancelQ(); <-qdone })

	e.logs = &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fc := submittest.Config(accts, q)
	fc.Logger = log
	funnel, err := submit.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	e.admin = &admin.Service{Store: st, Accounts: accts}
	wc := web.Config{Senders: st, Log: log}
	manage, err := manageapi.New(manageapi.Config{Funnel: funnel, Admin: e.admin, ClientIP: wc.ClientIP, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	wc.Manage = manage
	wc.Send = http.NotFoundHandler()
	h, err := web.New(wc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.base = srv.URL
	t.Cleanup(func() {
		for _, k := range e.keys {
			if strings.Contains(e.logs.String(), k) {
				t.Error("an API key reached the log")
			}
		}
	})
	return e
}

// newIdentityEnv is newEnv with what domains and senders need of the
// admin service, set before any request: an in-process DNS server as its
// resolver, the store's queue for confirmation mails, an installation
// that advises SPF. The handler holds the same *admin.Service.
func newIdentityEnv(t *testing.T) (*env, *testenv.DNSServer) {
	t.Helper()
	e := newEnv(t)
	srv := testenv.StartDNS(t)
	res, err := dnsres.New(srv.Addr, dnsres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Hostname = "mail.postern.test"
	cfg.Domains.SPFInclude = "_spf.postern.test"
	cfg.Domains.SPFIPs = []string{"192.0.2.25"}
	cfg.Domains.SenderResendInterval = config.Duration{} // the bound has a test of its own
	e.admin.Config, e.admin.Resolver, e.admin.Queue, e.admin.Rand = cfg, res, queue.Direct{Store: e.store}, rand.Reader
	return e, srv
}

// call is one request: the user whose full key signs it (or a raw key
// with "key:" in front), an optional On-Behalf-Of, a JSON body (nil:
// none), and the loopback address it comes from ("": 127.0.0.1).
type call struct {
	method, path string
	as           string
	obo          string
	body         any
	from         string
}

// do runs c and returns the status and the decoded JSON body (nil when
// empty).
func (e *env) do(c call) (int, any) {
	e.t.Helper()
	var rd io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(c.method, e.base+c.path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	key := e.keys[c.as]
	if k, ok := strings.CutPrefix(c.as, "key:"); ok {
		key = k
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if c.obo != "" {
		req.Header.Set("On-Behalf-Of", c.obo)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := http.DefaultClient
	if c.from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.from)}, Timeout: 10 * time.Second}
		client = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		defer client.CloseIdleConnections()
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s from %q: %v", c.method, c.path, c.from, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			e.t.Fatalf("%s %s: %d, not JSON: %q", c.method, c.path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, v
}

// want runs c and fails unless the status is status; it returns the body.
func (e *env) want(c call, status int) any {
	e.t.Helper()
	got, body := e.do(c)
	if got != status {
		e.t.Fatalf("%s %s as %s (obo %q): %d %v, want %d", c.method, c.path, c.as, c.obo, got, body, status)
	}
	return body
}

// sgCall runs one request with SendGrid's Go client, unmodified, signed
// with key, and returns the status and the decoded JSON body (nil when
// empty).
func (e *env) sgCall(key, method, path, obo string, body any) (int, any) {
	e.t.Helper()
	req := sendgrid.GetRequest(key, path, e.base)
	req.Method = rest.Method(method)
	if obo != "" {
		req.Headers["On-Behalf-Of"] = obo
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		req.Body = b
	}
	resp, err := sendgrid.API(req)
	if err != nil {
		e.t.Fatalf("sendgrid-go %s %s: %v", method, path, err)
	}
	var v any
	if s := strings.TrimSpace(resp.Body); s != "" {
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			e.t.Fatalf("sendgrid-go %s %s: %d, not JSON: %q", method, path, resp.StatusCode, s)
		}
	}
	return resp.StatusCode, v
}

// obj is body as a JSON object, failing the test for anything else.
func obj(t *testing.T, body any) map[string]any {
	t.Helper()
	m, ok := body.(map[string]any)
	if !ok {
		t.Fatalf("not a JSON object: %#v", body)
	}
	return m
}

// errorMessage is the first message of SendGrid's error body.
func errorMessage(body any) string { return firstError(body, "message") }

// errorField is the field of the first error of SendGrid's error body.
func errorField(body any) string { return firstError(body, "field") }

// firstError is the string key of the first error of SendGrid's error
// body ("" when there is none).
func firstError(body any, key string) string {
	m, _ := body.(map[string]any)
	errs, _ := m["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	first, _ := errs[0].(map[string]any)
	s, _ := first[key].(string)
	return s
}

// scopeCase is a row of an endpoint group's scope table: the scope the
// endpoint needs, the request, and the status of a call that succeeds.
type scopeCase struct {
	scope, method, path string
	body                any
	status              int
}

// forbidden reports whether st and body are SendGrid's answer to a key
// that lacks the scope: 403 with the error body "access forbidden".
func forbidden(st int, body any) bool {
	return st == http.StatusForbidden && errorMessage(body) == "access forbidden"
}

// wantRefusal runs c and reports under name unless it answers status
// with SendGrid's error body of exactly one error, whose field is field
// ("": none).
func (e *env) wantRefusal(t *testing.T, name string, c call, status int, field string) {
	t.Helper()
	st, body := e.do(c)
	m, _ := body.(map[string]any)
	errs, _ := m["errors"].([]any)
	if st != status || len(errs) != 1 || errorMessage(body) == "" {
		t.Errorf("%s: %d %v, want %d with an error body", name, st, body, status)
		return
	}
	if f, _ := obj(t, errs[0])["field"].(string); f != field {
		t.Errorf("%s: field %q, want %q", name, f, field)
	}
}

// scopeKeys makes two keys of user: one with every scope but scope, and
// one with scope alone.
func (e *env) scopeKeys(t *testing.T, user, scope string) (without, only string) {
	t.Helper()
	var others []string
	for _, s := range account.KnownScopes() {
		if s != scope {
			others = append(others, s)
		}
	}
	without, _, err := e.accounts.CreateKey(context.Background(), user, "without", others)
	if err != nil {
		t.Fatal(err)
	}
	only, _, err = e.accounts.CreateKey(context.Background(), user, "only", []string{scope})
	if err != nil {
		t.Fatal(err)
	}
	return without, only
}
