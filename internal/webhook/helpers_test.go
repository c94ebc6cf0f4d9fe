package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

// base is when the tests' messages were accepted.
var base = time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)

// clock is the injected Now, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// receiver is a real HTTP webhook receiver on 127.0.0.1 that keeps every
// request, counts connections, and answers with status (0: 200), or
// redirects from /redirect.
type receiver struct {
	srv    *httptest.Server
	conns  atomic.Int64
	status atomic.Int64
	// onRequest, when set, runs as each request arrives.
	onRequest atomic.Pointer[func()]

	mu   sync.Mutex
	reqs []request
}

type request struct {
	path   string
	query  string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, request{path: req.URL.Path, query: req.URL.RawQuery, header: req.Header.Clone(), body: body})
	r.mu.Unlock()
	if f := r.onRequest.Load(); f != nil {
		(*f)()
	}
	if req.URL.Path == "/redirect" {
		http.Redirect(w, req, "/elsewhere", http.StatusFound)
		return
	}
	code := int(r.status.Load())
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	io.WriteString(w, "SECRET-BODY the receiver's own words")
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// env is a real SQLite store with user acme, one webhook of acme's
// pointing at a receiver, and a clock.
type env struct {
	t      *testing.T
	ctx    context.Context
	st     *sqlite.DB
	clock  *clock
	user   store.User
	recv   *receiver
	hook   store.Webhook
	signer events.Signer // of hook, when signed
}

// newEnv makes the environment; the webhook takes types (all that
// Postern emits when none) and is signed when signed.
func newEnv(t *testing.T, signed bool, types ...store.EventType) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/w.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(types) == 0 {
		types = []store.EventType{store.EventProcessed, store.EventDeferred, store.EventDelivered,
			store.EventBounced, store.EventDropped, store.EventDelayed}
	}
	e := &env{t: t, ctx: ctx, st: st, clock: &clock{t: base.Add(time.Minute)}, user: u, recv: newReceiver(t)}
	e.hook = store.Webhook{ID: "wh-acme", UserID: u.ID, URL: e.recv.srv.URL + "/hook?token=hunter2", Enabled: true,
		Events: types, CreatedAt: base, UpdatedAt: base}
	if signed {
		key, err := events.NewKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if e.hook.PrivateKey, err = events.MarshalKey(key); err != nil {
			t.Fatal(err)
		}
		if e.signer, err = events.NewSigner(key); err != nil {
			t.Fatal(err)
		}
		e.hook.Signed = true
	}
	if err := st.CreateWebhook(ctx, e.hook); err != nil {
		t.Fatal(err)
	}
	return e
}

// dispatcher returns a Dispatcher on the env's store and clock that may
// reach the receiver on loopback; mod changes its Config first.
func (e *env) dispatcher(mod func(*Config)) *Dispatcher {
	e.t.Helper()
	cfg := Config{Store: e.st, Now: e.clock.Now, AllowPrivateNetworks: true}
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// message is a new message of acme's at base with these recipients
// and Meta.
func (e *env) message(id, meta string, rcpts ...string) store.NewMessage {
	return store.NewMessage{ID: id, UserID: e.user.ID, KeyID: "k1", From: "news@acme.example",
		Recipients: rcpts, Body: []byte("Subject: " + id + "\r\n\r\nhello\r\n"), CreatedAt: base, Meta: meta}
}

func (e *env) enqueue(msgs ...store.NewMessage) {
	e.t.Helper()
	if err := e.st.EnqueueBatch(e.ctx, msgs); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) attempt(a store.Attempt) {
	e.t.Helper()
	if err := e.st.RecordAttempt(e.ctx, a); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) backlog() int {
	e.t.Helper()
	n, err := e.st.OutboxBacklog(e.ctx, e.hook.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) webhook() store.Webhook {
	e.t.Helper()
	w, err := e.st.Webhook(e.ctx, e.hook.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// expected is every webhook event the stored events of these messages
// stand for, of the types the webhook takes, by sg_event_id: what the
// receiver must get in the end.
func (e *env) expected(msgIDs ...string) map[string]events.Event {
	e.t.Helper()
	out := map[string]events.Event{}
	for _, id := range msgIDs {
		m, err := e.st.Message(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		evs, err := e.st.Events(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, se := range evs {
			if !slices.Contains(e.hook.Events, se.Type) {
				continue
			}
			ws, err := events.FromStore(m, se)
			if err != nil {
				e.t.Fatal(err)
			}
			for _, w := range ws {
				out[w.SGEventID] = w
			}
		}
	}
	return out
}

// posted decodes a POST's body, a JSON array of event objects.
func posted(t *testing.T, r request) []map[string]any {
	t.Helper()
	var evs []map[string]any
	if err := json.Unmarshal(r.body, &evs); err != nil {
		t.Fatalf("POST body is not a JSON array of objects: %v\n%s", err, r.body)
	}
	return evs
}

// verify checks a POST's signature with sendgrid-go's verifier, on the
// body as received.
func (e *env) verify(r request) {
	e.t.Helper()
	pk, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(e.signer.PublicKeyBase64())
	if err != nil {
		e.t.Fatal(err)
	}
	sig, ts := r.header.Get(eventwebhook.VerificationHTTPHeader), r.header.Get(eventwebhook.TimestampHTTPHeader)
	if sig == "" || ts == "" {
		e.t.Fatalf("unsigned POST: headers %v", r.header)
	}
	if ok, err := eventwebhook.VerifySignature(pk, r.body, sig, ts); err != nil || !ok {
		e.t.Fatalf("sendgrid-go does not verify the POST: %v, %v", ok, err)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline; it asserts nothing about how long it took.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
