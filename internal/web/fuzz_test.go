package web_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/sendercode"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/web"
)

// fuzzStore knows one code, fails for another and counts its calls.
type fuzzStore struct{ calls int }

const (
	fuzzGood   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	fuzzBroken = "BROKENBROKENBROKENBROKENBROKEN22"
)

func (f *fuzzStore) ConfirmSender(_ context.Context, h []byte, _ time.Time) (store.Sender, error) {
	f.calls++
	switch string(h) {
	case string(sendercode.Hash(fuzzGood)):
		return store.Sender{Address: `me<i>"@example.test`, UserName: "acme", Verified: true}, nil
	case string(sendercode.Hash(fuzzBroken)):
		return store.Sender{}, errors.New("disk on fire")
	}
	return store.Sender{}, store.ErrNotFound
}

// FuzzHandler sends arbitrary methods, paths, queries, content types and
// bodies: the handler never panics, answers with a known status and the
// security headers, never runs script from its input, never lets a GET
// reach the store, and never shows a store error.
func FuzzHandler(f *testing.F) {
	f.Add("GET", "/verify", "code="+fuzzGood, "", "")
	f.Add("POST", "/verify", "", "application/x-www-form-urlencoded", "code="+fuzzGood)
	f.Add("POST", "/verify", "", "application/x-www-form-urlencoded", "code="+fuzzBroken)
	f.Add("POST", "/verify", "", "application/x-www-form-urlencoded", "code=%22%3E%3Cscript%3E")
	f.Add("GET", "/verify", "code=%22%3E%3Cscript%3Ealert(1)%3C/script%3E", "", "")
	f.Add("GET", "/healthz", "", "", "")
	f.Add("PATCH", "/verify", "", "text/plain", "x")
	f.Add("POST", "/v3/mail/send", "", "application/json", "{}")
	f.Add("GET", "/v3/mail/send", "", "", "")
	f.Add("GET", "//verify", "code="+fuzzGood, "", "")

	allowed := map[int]bool{200: true, 400: true, 401: true, 404: true, 405: true, 413: true, 500: true}
	f.Fuzz(func(t *testing.T, method, path, query, contentType, body string) {
		fs := &fuzzStore{}
		h, err := web.New(web.Config{Senders: fs, Send: sendStub, Manage: manageStub})
		if err != nil {
			t.Fatal(err)
		}
		req := &http.Request{
			Method:     method,
			URL:        &url.URL{Path: path, RawQuery: query},
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     http.Header{"Content-Type": {contentType}},
			Body:       http.NoBody,
			Host:       "postern.test",
		}
		if body != "" {
			req.Body = io.NopCloser(strings.NewReader(body))
			req.ContentLength = int64(len(body))
		}
		req = req.WithContext(context.Background())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if !allowed[rec.Code] {
			t.Fatalf("status %d", rec.Code)
		}
		for k, v := range wantHeaders {
			if got := rec.Header().Get(k); got != v {
				t.Fatalf("%s: %q, want %q", k, got, v)
			}
		}
		out := strings.ToLower(rec.Body.String())
		if strings.Contains(out, "<script") || strings.Contains(out, "<i>") {
			t.Fatalf("unescaped markup in:\n%s", out)
		}
		if strings.Contains(out, "disk on fire") {
			t.Fatal("store error shown")
		}
		if method != http.MethodPost && fs.calls != 0 {
			t.Fatalf("%s reached the store", method)
		}
	})
}
