package sendapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/submit/submittest"
	"github.com/postern/postern/internal/testenv"
	"github.com/postern/postern/internal/web"
	"github.com/postern/postern/internal/web/sendapi"
)

// env is the whole listener (web's mux with sendapi mounted) on a
// 127.0.0.1 port, in front of a real funnel: real SQLite store, real
// account service, real queue committer; allow-all doubles for the
// controls a test does not exercise.
type env struct {
	t        *testing.T
	store    *sqlite.DB
	accounts *account.Service
	srv      *httptest.Server
	base     string // http(s)://127.0.0.1:PORT
	logs     *testenv.LogBuffer
	key      string // a mail.send key of user acme
	keyID    string
}

type envOptions struct {
	maxBody  int64 // sendapi.Config.MaxBodyBytes
	maxBytes int64 // submit.Config.MaxMessageBytes; default 1 MiB
	maxRcpts int   // default 5
	quota    submit.Quota
	scanner  spamscan.Scanner
	enqueuer submit.Enqueuer
	proxies  []netip.Prefix
	tls      bool
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/p.db")
	if err != nil {
		t.Fatal(err)
	}
	accts := &account.Service{Store: st, Rand: rand.Reader, Now: time.Now}
	if _, err := accts.CreateUser(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	key, rec, err := accts.CreateKey(ctx, "acme", "test", []string{account.ScopeMailSend})
	if err != nil {
		t.Fatal(err)
	}
	q := queue.New(st, queue.Options{})
	qctx, cancelQ := context.WithCancel(ctx)
	qdone := make(chan struct{})
	go func() { defer close(qdone); q.Run(qctx) }()

	if o.maxBytes == 0 {
		o.maxBytes = 1 << 20
	}
	if o.maxRcpts == 0 {
		o.maxRcpts = 5
	}
	logs := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fc := submittest.Config(accts, q)
	fc.MaxMessageBytes, fc.MaxRecipients, fc.Logger = o.maxBytes, o.maxRcpts, log
	if o.quota != nil {
		fc.Quota = o.quota
	}
	if o.scanner != nil {
		fc.Scanner = o.scanner
	}
	if o.enqueuer != nil {
		fc.Queue = o.enqueuer
	}
	funnel, err := submit.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	wc := web.Config{Senders: st, TrustedProxies: o.proxies, Log: log}
	send, err := sendapi.New(sendapi.Config{Funnel: funnel, ClientIP: wc.ClientIP, Log: log, TLS: o.tls, MaxBodyBytes: o.maxBody})
	if err != nil {
		t.Fatal(err)
	}
	wc.Send = send
	wc.Manage = http.NotFoundHandler()
	h, err := web.New(wc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h) // on 127.0.0.1
	if o.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	e := &env{t: t, store: st, accounts: accts, srv: srv, base: srv.URL, logs: logs, key: key, keyID: rec.ID}
	t.Cleanup(func() {
		srv.Close()
		cancelQ()
		<-qdone
		st.Close()
		if strings.Contains(logs.String(), key) {
			t.Errorf("the log holds an API key")
		}
	})
	return e
}

// response is what a SendGrid client got back.
type response struct {
	status int
	header http.Header
	body   string
}

// api sends body to POST /v3/mail/send with sendgrid-go's request API;
// edit changes the request before it is sent.
func (e *env) api(key, body string, edit ...func(*rest.Request)) response {
	e.t.Helper()
	req := sendgrid.GetRequest(key, "/v3/mail/send", e.base)
	req.Method = "POST"
	req.Body = []byte(body)
	for _, f := range edit {
		f(&req)
	}
	send := sendgrid.API
	if strings.HasPrefix(e.base, "https:") { // trust the test server's certificate
		send = (&rest.Client{HTTPClient: e.srv.Client()}).Send
	}
	res, err := send(req)
	if err != nil {
		e.t.Fatalf("sendgrid client: %v", err)
	}
	return response{res.StatusCode, http.Header(res.Headers), res.Body}
}

// messages lists the stored messages.
func (e *env) messages() []store.Message {
	e.t.Helper()
	msgs, err := e.store.Messages(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

// apiError is one entry of SendGrid's error body, nulls kept apart.
type apiError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

type errorBody struct {
	Errors []apiError `json:"errors"`
	ID     string     `json:"id"`
}

// errorsOf decodes SendGrid's error body strictly.
func errorsOf(t *testing.T, r response) errorBody {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var b errorBody
	dec := json.NewDecoder(strings.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || len(b.Errors) == 0 {
		t.Fatalf("not SendGrid's error body (%v):\n%s", err, r.body)
	}
	for _, e := range b.Errors {
		if e.Message == "" {
			t.Errorf("an error without message: %s", r.body)
		}
	}
	return b
}

// field is an error's field, "<null>" for null.
func (a apiError) field() string {
	if a.Field == nil {
		return "<null>"
	}
	return *a.Field
}

// simple is a valid request body from sender@acme.test.
func simple(to ...string) string {
	var rcpts []string
	for _, a := range to {
		rcpts = append(rcpts, `{"email":"`+a+`"}`)
	}
	return `{"personalizations":[{"to":[` + strings.Join(rcpts, ",") + `]}],` +
		`"from":{"email":"sender@acme.test","name":"Acme"},"subject":"Hello",` +
		`"content":[{"type":"text/plain","value":"Hello from the API."}]}`
}
