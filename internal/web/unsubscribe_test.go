package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/postern/postern/internal/testenv"
	"github.com/postern/postern/internal/unsub"
	"github.com/postern/postern/internal/web"
)

// fakeUnsubs takes "good" and "broken" as tokens and counts what it is
// asked; the redemption itself is internal/unsub's, tested there.
type fakeUnsubs struct {
	mu             sync.Mutex
	checks, unsubs int
}

func (f *fakeUnsubs) Check(_ context.Context, tok string) (unsub.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	switch tok {
	case "good":
		return unsub.Token{UserID: 1, MessageID: "m", Recipient: "a@b.test"}, nil
	case "broken":
		return unsub.Token{}, errors.New("store: disk on fire")
	}
	return unsub.Token{}, unsub.ErrInvalid
}

func (f *fakeUnsubs) Unsubscribe(ctx context.Context, tok string) (unsub.Outcome, error) {
	t, err := f.Check(ctx, tok)
	if err != nil {
		return unsub.Outcome{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unsubs++
	return unsub.Outcome{Token: t}, nil
}

func TestUnsubscribeEndpoint(t *testing.T) {
	fu := &fakeUnsubs{}
	logs := &testenv.LogBuffer{}
	h, err := web.New(web.Config{Senders: noSenders{}, Send: sendStub, Manage: manageStub, Unsubscribe: fu,
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	do := func(method, path, ctype, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	const form = "application/x-www-form-urlencoded"

	// GET: the form, nothing redeemed.
	st, body := do("GET", "/unsubscribe/good", "", "")
	if st != 200 || !strings.Contains(body, `<form method="post">`) || !strings.Contains(body, `name="List-Unsubscribe" value="One-Click"`) {
		t.Errorf("GET: %d\n%s", st, body)
	}
	if fu.unsubs != 0 {
		t.Error("GET unsubscribed")
	}
	if st, _ := do("GET", "/unsubscribe/forged", "", ""); st != 404 {
		t.Errorf("GET of a forged token: %d", st)
	}

	// POST: RFC 8058's body, form-urlencoded or multipart.
	if st, body := do("POST", "/unsubscribe/good", form, "List-Unsubscribe=One-Click"); st != 200 || !strings.Contains(body, "unsubscribed") {
		t.Errorf("POST: %d\n%s", st, body)
	}
	var mp strings.Builder
	mw := multipart.NewWriter(&mp)
	mw.WriteField("List-Unsubscribe", "One-Click")
	mw.Close()
	if st, _ := do("POST", "/unsubscribe/good", mw.FormDataContentType(), mp.String()); st != 200 {
		t.Errorf("multipart POST: %d", st)
	}
	if fu.unsubs != 2 {
		t.Errorf("%d unsubscriptions, want 2", fu.unsubs)
	}
	for name, c := range map[string][2]string{
		"empty body":      {form, ""},
		"other value":     {form, "List-Unsubscribe=Yes"},
		"another field":   {form, "List-Unsubscribe=One-Click&email=x@y.test"},
		"twice":           {form, "List-Unsubscribe=One-Click&List-Unsubscribe=One-Click"},
		"json":            {"application/json", `{"List-Unsubscribe":"One-Click"}`},
		"multipart blank": {"multipart/form-data", "List-Unsubscribe=One-Click"},
	} {
		if st, _ := do("POST", "/unsubscribe/good", c[0], c[1]); st != 400 {
			t.Errorf("%s: %d, want 400", name, st)
		}
	}
	if st, _ := do("POST", "/unsubscribe/good", form, "List-Unsubscribe=One-Click&x="+strings.Repeat("a", 5000)); st != 413 {
		t.Errorf("a large body: %d, want 413", st)
	}
	if fu.unsubs != 2 {
		t.Errorf("bad bodies unsubscribed: %d", fu.unsubs)
	}
	if st, body := do("POST", "/unsubscribe/forged", form, "List-Unsubscribe=One-Click"); st != 404 || strings.Contains(body, "invalid token") {
		t.Errorf("POST of a forged token: %d\n%s", st, body)
	}
	// A store failure is a 500 with a request id, its text only in the log.
	st, body = do("POST", "/unsubscribe/broken", form, "List-Unsubscribe=One-Click")
	if st != 500 || strings.Contains(body, "disk on fire") || !strings.Contains(body, "Request id") {
		t.Errorf("store failure: %d\n%s", st, body)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the cause is not logged:\n%s", logs.String())
	}
	for _, p := range []string{"/unsubscribe/", "/unsubscribe/good/more", "/unsubscribe"} {
		if st, _ := do("POST", p, form, "List-Unsubscribe=One-Click"); st != 404 {
			t.Errorf("POST %s: %d, want 404", p, st)
		}
	}
	if st, _ := do("DELETE", "/unsubscribe/good", "", ""); st != 405 {
		t.Errorf("DELETE: %d, want 405", st)
	}
}

// Without an Unsubscriber the URLs are not found.
func TestUnsubscribeNotConfigured(t *testing.T) {
	h, err := web.New(web.Config{Senders: noSenders{}, Send: sendStub, Manage: manageStub})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := srv.Client().Post(srv.URL+"/unsubscribe/good", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("status %d, want 404", res.StatusCode)
	}
}
