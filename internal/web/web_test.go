package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
	"github.com/postern/postern/internal/web"
)

// sendStub stands in for sendapi: it answers every request as
// unauthorized, so a test sees that the request reached it.
// manageStub stands for the management API: its own JSON 404.
var manageStub = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	web.WriteErrors(w, http.StatusNotFound, web.APIError{Message: "not found"})
})

var sendStub = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Stub", "send")
	web.WriteErrors(w, http.StatusUnauthorized, web.APIError{Message: "authorization required"})
})

// noSenders is a Confirmer that is never reached in these tests.
type noSenders struct{}

func (noSenders) ConfirmSender(context.Context, []byte, time.Time) (store.Sender, error) {
	return store.Sender{}, store.ErrNotFound
}

func TestNewRequires(t *testing.T) {
	if _, err := web.New(web.Config{Send: sendStub, Manage: manageStub}); err == nil {
		t.Error("nil Senders accepted")
	}
	if _, err := web.New(web.Config{Senders: noSenders{}}); err == nil {
		t.Error("nil Send accepted")
	}
}

// apiBody is SendGrid's error body, with nulls kept distinguishable.
type apiBody struct {
	Errors []struct {
		Message string  `json:"message"`
		Field   *string `json:"field"`
		Help    *string `json:"help"`
	} `json:"errors"`
	ID string `json:"id"`
}

func decodeAPI(t *testing.T, body string) apiBody {
	t.Helper()
	var b apiBody
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("not SendGrid's error body: %v\n%s", err, body)
	}
	if len(b.Errors) == 0 {
		t.Fatalf("no errors in %s", body)
	}
	return b
}

// TestMux: every route, method and odd path on a real loopback server.
func TestMux(t *testing.T) {
	e := newEnv(t, nil)
	const html, text, js = "text/html; charset=utf-8", "text/plain; charset=utf-8", "application/json"
	for _, tc := range []struct {
		method, target string
		status         int
		ctype          string
		allow          string
		stub           bool // reached the send handler
	}{
		{"GET", "/healthz", 200, text, "", false},
		{"HEAD", "/healthz", 200, text, "", false},
		{"DELETE", "/healthz", 405, html, "GET, HEAD", false},
		{"OPTIONS", "/verify", 405, html, "GET, POST", false},
		{"HEAD", "/verify", 405, html, "GET, POST", false},
		{"POST", "/v3/mail/send", 401, js, "", true},
		{"GET", "/v3/mail/send", 405, js, "POST", false},
		{"HEAD", "/v3/mail/send", 405, js, "POST", false},
		{"PUT", "/v3/mail/send", 405, js, "POST", false},
		{"POST", "/v3/mail/send/", 404, js, "", false},
		{"POST", "/v3/mail/batch", 404, js, "", false},
		{"GET", "/v3", 404, js, "", false},
		{"POST", "/v3/mail//send", 404, js, "", false},
		{"GET", "/v3/mail/../mail/send", 404, js, "", false},
		{"GET", "//healthz", 404, html, "", false},
		{"GET", "/healthz/", 404, html, "", false},
		{"GET", "/./verify", 404, html, "", false},
		{"GET", "/metrics", 404, html, "", false},
		{"POST", "/", 404, html, "", false},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			e.t = t
			r := e.do(tc.method, tc.target, "", "")
			if r.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if got := r.header.Get("X-Stub") == "send"; got != tc.stub {
				t.Errorf("reached the send handler: %v, want %v", got, tc.stub)
			}
			for k, v := range wantHeaders {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tc.ctype == js && tc.method != "HEAD" {
				b := decodeAPI(t, r.body)
				want := map[int]string{401: "authorization required", 404: "not found", 405: "method not allowed"}[tc.status]
				if b.Errors[0].Message != want || b.Errors[0].Field != nil {
					t.Errorf("body %s, want message %q, field null", r.body, want)
				}
			}
			if tc.method == "HEAD" && r.body != "" {
				t.Errorf("HEAD with a body: %q", r.body)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		errs   []web.APIError
		want   string
	}{
		{"one with nulls", 401, []web.APIError{{Message: "authorization required"}},
			`{"errors":[{"message":"authorization required","field":null,"help":null}]}`},
		{"field and help", 400, []web.APIError{
			{Message: "bad address", Field: "from.email", Help: "see the docs"},
			{Message: "templates are not supported", Field: "template_id"}},
			`{"errors":[{"message":"bad address","field":"from.email","help":"see the docs"},{"message":"templates are not supported","field":"template_id","help":null}]}`},
		{"none: the status text", 413, nil,
			`{"errors":[{"message":"request entity too large","field":null,"help":null}]}`},
		{"escaped", 400, []web.APIError{{Message: `a "quoted" <b>`}},
			`{"errors":[{"message":"a \"quoted\" \u003cb\u003e","field":null,"help":null}]}`},
		{"500 hides what it is given", 500, []web.APIError{{Message: "sqlite: database is locked", Field: "x"}},
			`{"errors":[{"message":"internal server error","field":null,"help":null}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			web.WriteErrors(rec, tc.status, tc.errs...)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q", got)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tc.want {
				t.Errorf("body\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestInternalError(t *testing.T) {
	logs := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/v3/mail/send", nil)
	id := web.InternalError(rec, r, log, "send: commit", errors.New("disk on fire"))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	b := decodeAPI(t, rec.Body.String())
	if b.ID != id || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) ||
		b.Errors[0].Message != "internal server error (request id "+id+")" || b.Errors[0].Field != nil {
		t.Errorf("body %s, id %s", rec.Body, id)
	}
	if strings.Contains(rec.Body.String(), "fire") {
		t.Error("body shows the error")
	}
	if l := logs.String(); !strings.Contains(l, "request_id="+id) || !strings.Contains(l, "disk on fire") {
		t.Errorf("log lacks the id or the cause:\n%s", l)
	}
}

// TestPanic: a panic in any handler is a 500 with a request id, JSON
// under /v3, and the panic value is logged, never shown.
func TestPanic(t *testing.T) {
	logs := &testenv.LogBuffer{}
	h, err := web.New(web.Config{
		Senders: noSenders{},
		Send:    http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret panic value") }),
		Manage:  manageStub,
		Log:     slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := srv.Client().Post(srv.URL+"/v3/mail/send", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 500 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", res.StatusCode, res.Header)
	}
	b := decodeAPI(t, string(body))
	if b.ID == "" || strings.Contains(string(body), "secret") {
		t.Errorf("body %s", body)
	}
	if l := logs.String(); !strings.Contains(l, "request_id="+b.ID) || !strings.Contains(l, "secret panic value") {
		t.Errorf("log:\n%s", l)
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48")}
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies: the peer", nil, "192.0.2.7:5555", nil, "192.0.2.7"},
		{"no proxies: XFF forged by the client is ignored", nil, "192.0.2.7:5555", []string{"198.51.100.1"}, "192.0.2.7"},
		{"untrusted peer: XFF ignored", proxies, "192.0.2.7:5555", []string{"10.0.0.1, 198.51.100.1"}, "192.0.2.7"},
		{"trusted peer without XFF: the peer", proxies, "10.1.1.1:5555", nil, "10.1.1.1"},
		{"trusted peer: the entry it appended", proxies, "10.1.1.1:5555", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a client's forged entry left of the real one", proxies, "10.1.1.1:5555", []string{"203.0.113.9, 198.51.100.1"}, "198.51.100.1"},
		{"forged trusted entry left of the real one", proxies, "10.1.1.1:5555", []string{"10.9.9.9, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", proxies, "10.1.1.1:5555", []string{"198.51.100.1, 10.2.2.2"}, "198.51.100.1"},
		{"several header lines", proxies, "10.1.1.1:5555", []string{"203.0.113.9", "198.51.100.1,10.2.2.2"}, "198.51.100.1"},
		{"all trusted: the left-most", proxies, "10.1.1.1:5555", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{"garbage stops at the proxy that wrote it", proxies, "10.1.1.1:5555", []string{"198.51.100.1, unknown, 10.2.2.2"}, "10.2.2.2"},
		{"garbage from the peer: the peer", proxies, "10.1.1.1:5555", []string{"not-an-ip"}, "10.1.1.1"},
		{"entries with ports", proxies, "10.1.1.1:5555", []string{"198.51.100.1:1234, [2001:db8:1::5]:443"}, "198.51.100.1"},
		{"IPv6 peer and client", proxies, "[2001:db8:1::2]:443", []string{"2001:db8:99::1"}, "2001:db8:99::1"},
		{"bracketed IPv6 entry", proxies, "[2001:db8:1::2]:443", []string{"[2001:db8:99::1]"}, "2001:db8:99::1"},
		{"IPv4-mapped peer is IPv4", proxies, "[::ffff:10.1.1.1]:443", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"empty entries skipped as garbage", proxies, "10.1.1.1:5555", []string{""}, "10.1.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := web.Config{TrustedProxies: tc.proxies}.ClientIP(r)
			if got != netip.MustParseAddr(tc.want) {
				t.Errorf("ClientIP = %v, want %s", got, tc.want)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "pipe"
	if got := (web.Config{}).ClientIP(r); got.IsValid() {
		t.Errorf("unparseable peer gave %v", got)
	}
}

func TestNeedsTLS(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080":         false,
		"127.0.0.53:80":          false,
		"[::1]:8080":             false,
		"localhost:8080":         false,
		"LOCALHOST:8080":         false,
		"localhost.:8080":        false,
		"[::ffff:127.0.0.1]:1":   false,
		"::1":                    false,
		"localhost":              false,
		":8080":                  true,
		"0.0.0.0:8080":           true,
		"[::]:8080":              true,
		"192.0.2.1:443":          true,
		"10.0.0.1:80":            true,
		"[2001:db8::1]:443":      true,
		"api.example.test:443":   true,
		"localhost.evil.test:80": true,
		"":                       true,
	} {
		if got := web.NeedsTLS(addr); got != want {
			t.Errorf("NeedsTLS(%q) = %v, want %v", addr, got, want)
		}
	}
}
