package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/postern/postern/internal/web"
)

// FuzzUnsubscribe sends arbitrary methods, paths, content types and
// bodies to the one-click unsubscribe URLs: the handler never panics,
// answers with a known status and the security headers, never shows an
// internal error's text, never unsubscribes on anything but a POST, and
// unsubscribes only when it answers 200.
func FuzzUnsubscribe(f *testing.F) {
	f.Add("POST", "/unsubscribe/good", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	f.Add("GET", "/unsubscribe/good", "", "")
	f.Add("POST", "/unsubscribe/broken", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	f.Add("POST", "/unsubscribe/good", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b--\r\n")
	f.Add("POST", "/unsubscribe/forged", "", "List-Unsubscribe=One-Click")
	f.Add("HEAD", "/unsubscribe/good", "", "")
	allowed := map[int]bool{200: true, 400: true, 404: true, 405: true, 413: true, 500: true}
	f.Fuzz(func(t *testing.T, method, path, contentType, body string) {
		fu := &fakeUnsubs{}
		h, err := web.New(web.Config{Senders: noSenders{}, Send: sendStub, Manage: manageStub, Unsubscribe: fu})
		if err != nil {
			t.Fatal(err)
		}
		req := &http.Request{
			Method: method, URL: &url.URL{Path: path}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {contentType}}, Body: http.NoBody, Host: "postern.test",
		}
		if body != "" {
			req.Body = io.NopCloser(strings.NewReader(body))
			req.ContentLength = int64(len(body))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(context.Background()))
		if !strings.HasPrefix(path, "/v3") && !allowed[rec.Code] {
			t.Fatalf("status %d", rec.Code)
		}
		for k, v := range wantHeaders {
			if got := rec.Header().Get(k); got != v {
				t.Fatalf("%s: %q, want %q", k, got, v)
			}
		}
		if strings.Contains(rec.Body.String(), "disk on fire") {
			t.Fatal("an internal error's text shown")
		}
		if fu.unsubs > 0 && (method != http.MethodPost || rec.Code != http.StatusOK) {
			t.Fatalf("%s answered %d and unsubscribed", method, rec.Code)
		}
	})
}
