package web_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/sendercode"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/testenv"
	"github.com/postern/postern/internal/web"
)

// env is a handler on a real loopback server in front of a real SQLite
// store holding user acme.
type env struct {
	t    *testing.T
	st   *sqlite.DB
	user store.User
	srv  *httptest.Server
	logs *testenv.LogBuffer
}

func newEnv(t *testing.T, senders sendercode.Confirmer) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if senders == nil {
		senders = st
	}
	logs := &testenv.LogBuffer{}
	h, err := web.New(web.Config{
		Senders: senders,
		Send:    sendStub,
		Manage:  manageStub,
		Log:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, user: u, srv: srv, logs: logs}
}

// addSender stores a pending sender and returns its code.
func (e *env) addSender(addr string, expires time.Time) string {
	e.t.Helper()
	code, err := sendercode.New(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.AddSender(context.Background(), store.Sender{Address: addr, UserID: e.user.ID, CreatedAt: time.Now(),
		CodeHash: sendercode.Hash(code), ExpiresAt: expires}); err != nil {
		e.t.Fatal(err)
	}
	return code
}

func (e *env) verified(addr string) bool {
	e.t.Helper()
	list, err := e.st.Senders(context.Background(), "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, s := range list {
		if s.Address == addr {
			return s.Verified
		}
	}
	e.t.Fatalf("no sender %s", addr)
	return false
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request with net/http's client.
func (e *env) do(method, target, contentType, body string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+target, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

const form = "application/x-www-form-urlencoded"

func post(code string) string { return url.Values{"code": {code}}.Encode() }

var wantHeaders = map[string]string{
	"Cache-Control":           "no-store",
	"Referrer-Policy":         "no-referrer",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}

// TestVerify walks the confirmation page in order: the link shows a form
// and changes nothing, the form's POST confirms once, and every other
// request gets its own status and page.
func TestVerify(t *testing.T) {
	e := newEnv(t, nil)
	code := e.addSender("me@example.test", time.Now().Add(sendercode.TTL))
	expired := e.addSender("old@example.test", time.Now().Add(-time.Minute))
	html := "text/html; charset=utf-8"
	for _, tc := range []struct {
		name         string
		method       string
		target       string
		contentType  string
		body         string
		wantStatus   int
		wantType     string
		wantBody     []string // substrings, matched case-insensitively
		wantVerified bool     // me@example.test afterwards
	}{
		{"link shows the form", "GET", "/verify?code=" + code, "", "", 200, html, []string{
			`<form method="post" action="/verify">`, `<input type="hidden" name="code" value="` + code + `">`,
			`<button type="submit">Confirm</button>`}, false},
		{"link again, still unconfirmed", "GET", "/verify?code=" + strings.ToLower(code), "", "", 200, html, []string{`value="` + strings.ToLower(code) + `"`}, false},
		{"link without code", "GET", "/verify", "", "", 400, html, []string{"no confirmation code"}, false},
		{"link with empty code", "GET", "/verify?code=+", "", "", 400, html, []string{"no confirmation code"}, false},
		{"HEAD does not confirm", "HEAD", "/verify?code=" + code, "", "", 405, html, nil, false},
		{"PUT", "PUT", "/verify", form, post(code), 405, html, []string{"method not allowed"}, false},
		{"DELETE", "DELETE", "/verify?code=" + code, "", "", 405, html, nil, false},
		{"POST without code", "POST", "/verify", form, "", 400, html, []string{"no confirmation code"}, false},
		{"POST code in query only", "POST", "/verify?code=" + code, form, "", 400, html, []string{"no confirmation code"}, false},
		{"POST multipart", "POST", "/verify", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n" + code + "\r\n--x--\r\n", 400, html, []string{"could not be read"}, false},
		{"POST too large", "POST", "/verify", form, post(code) + "&pad=" + strings.Repeat("a", 5000), 413, html, []string{"too large"}, false},
		{"POST bad encoding", "POST", "/verify", form, "code=%zz", 400, html, []string{"could not be read"}, false},
		{"POST malformed code", "POST", "/verify", form, post("not a code!"), 404, html, []string{"unknown or expired code; ask for a new one"}, false},
		{"POST wrong code", "POST", "/verify", form, post(strings.Repeat("A", 32)), 404, html, []string{"unknown or expired code; ask for a new one"}, false},
		{"POST expired code", "POST", "/verify", form, post(expired), 404, html, []string{"unknown or expired code; ask for a new one"}, false},
		{"POST confirms", "POST", "/verify", "application/x-www-form-urlencoded; charset=utf-8", post(strings.ToLower(code)), 200, html, []string{
			"<strong>me@example.test</strong> is now a verified sender"}, true},
		{"POST the same code again", "POST", "/verify", form, post(code), 404, html, []string{"unknown or expired code; ask for a new one"}, true},
		{"healthz", "GET", "/healthz", "", "", 200, "text/plain; charset=utf-8", []string{"ok\n"}, true},
		{"healthz POST", "POST", "/healthz", form, "", 405, html, nil, true},
		{"unknown path", "GET", "/verify/", "", "", 404, html, []string{"not found"}, true},
		{"root", "GET", "/", "", "", 404, html, []string{"not found"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.do(tc.method, tc.target, tc.contentType, tc.body)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.wantStatus, r.body)
			}
			if got := r.header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type %q, want %q", got, tc.wantType)
			}
			for k, v := range wantHeaders {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if r.status == 405 {
				want := "GET, POST"
				if strings.HasPrefix(tc.target, "/healthz") {
					want = "GET, HEAD"
				}
				if got := r.header.Get("Allow"); got != want {
					t.Errorf("Allow %q, want %q", got, want)
				}
			}
			for _, s := range tc.wantBody {
				if !strings.Contains(strings.ToLower(r.body), strings.ToLower(s)) {
					t.Errorf("body lacks %q:\n%s", s, r.body)
				}
			}
			if got := e.verified("me@example.test"); got != tc.wantVerified {
				t.Fatalf("verified = %v, want %v", got, tc.wantVerified)
			}
		})
	}
	e.t = t
	if e.verified("old@example.test") {
		t.Error("an expired code confirmed")
	}
	logs := e.logs.String()
	for _, c := range []string{code, strings.ToLower(code), expired} {
		if strings.Contains(logs, c) {
			t.Errorf("the log holds a code:\n%s", logs)
		}
	}
	if !strings.Contains(logs, "sender verified") || !strings.Contains(logs, "address=me@example.test") {
		t.Errorf("no confirmation logged:\n%s", logs)
	}
}

// TestVerifyEscaping: the address from the store and the code from the
// link are escaped wherever the page shows them.
func TestVerifyEscaping(t *testing.T) {
	e := newEnv(t, nil)
	addr := `x<b onmouseover=alert(1)>"&'@example.test`
	code := e.addSender(addr, time.Now().Add(time.Hour))
	r := e.do("POST", "/verify", form, post(code))
	if r.status != 200 {
		t.Fatalf("status %d\n%s", r.status, r.body)
	}
	if want := `x&lt;b onmouseover=alert(1)&gt;&#34;&amp;&#39;@example.test`; !strings.Contains(r.body, want) {
		t.Errorf("body lacks %q:\n%s", want, r.body)
	}
	if strings.Contains(r.body, "<b ") {
		t.Errorf("address not escaped:\n%s", r.body)
	}

	evil := `"><script>alert(1)</script>`
	r = e.do("GET", "/verify?code="+url.QueryEscape(evil), "", "")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if strings.Contains(r.body, "<script") || !strings.Contains(r.body, `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`) {
		t.Errorf("code not escaped:\n%s", r.body)
	}
}

// TestVerifyStoreError: a store failure is a 500 page with a request id and
// no error text; the error and the same id are in the log, the code is not.
func TestVerifyStoreError(t *testing.T) {
	broken, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "broken.db"))
	if err != nil {
		t.Fatal(err)
	}
	broken.Close()
	e := newEnv(t, broken)
	code := strings.Repeat("B", 32)
	r := e.do("POST", "/verify", form, post(code))
	if r.status != 500 {
		t.Fatalf("status %d\n%s", r.status, r.body)
	}
	m := regexp.MustCompile(`Request id: <code>([0-9a-f]{16})</code>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no request id:\n%s", r.body)
	}
	if strings.Contains(r.body, "sql") || strings.Contains(r.body, "closed") {
		t.Errorf("page shows the error:\n%s", r.body)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "request_id="+m[1]) || !strings.Contains(logs, "closed") {
		t.Errorf("log lacks the id or the error:\n%s", logs)
	}
	if strings.Contains(logs, code) {
		t.Errorf("the log holds the code:\n%s", logs)
	}
}

func TestNewServer(t *testing.T) {
	s := web.NewServer(http.NotFoundHandler(), nil)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 || s.Handler == nil {
		t.Fatalf("limits not set: %+v", s)
	}
}
