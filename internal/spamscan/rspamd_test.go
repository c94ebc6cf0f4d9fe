package spamscan

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseReply(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    Verdict
		wantErr string
	}{
		{"no action", `{"action":"no action","score":0.9,"required_score":15,"symbols":{"B":{"score":1},"A":{"score":-0.1}}}`,
			Verdict{Action: ActionAccept, Score: 0.9, Symbols: []string{"A", "B"}}, ""},
		{"add header, default headers", `{"action":"add header","score":7.25,"symbols":{}}`,
			Verdict{Action: ActionAddHeader, Score: 7.25, Symbols: []string{}, Headers: map[string]string{
				"X-Spam": "Yes", "X-Spam-Score": "7.25", "X-Spam-Status": "Yes, score=7.25"}}, ""},
		{"add header, milter headers in every form", `{"action":"add header","score":7,"milter":{"add_headers":{
			"X-Spam-Status":{"order":-1,"value":"Yes, score=7.00"},
			"X-Spamd-Result":{"value":"default: True [7.00 / 15.00];\r\n\tSYM(7.00)[]"},
			"X-Plain":"plain",
			"X-List":[{"value":"first","order":0},{"value":"second","order":1}],
			"X-Injected":{"value":"x\r\nBcc: victim@example.com"},
			"Bad Name":"x",
			"X-No-Value":{"order":1}}}}`,
			Verdict{Action: ActionAddHeader, Score: 7, Symbols: []string{}, Headers: map[string]string{
				"X-Spam": "Yes", "X-Spam-Score": "7.00", "X-Spam-Status": "Yes, score=7.00",
				"X-Spamd-Result": "default: True [7.00 / 15.00];\r\n\tSYM(7.00)[]", "X-Plain": "plain", "X-List": "first"}}, ""},
		{"rewrite subject", `{"action":"rewrite subject","score":8,"subject":"***SPAM*** hi"}`,
			Verdict{Action: ActionAddHeader, Score: 8, Symbols: []string{}, Headers: map[string]string{
				"X-Spam": "Yes", "X-Spam-Score": "8.00", "X-Spam-Status": "Yes, score=8.00"}}, ""},
		{"greylist", `{"action":"greylist","score":4}`,
			Verdict{Action: ActionGreylist, Score: 4, Symbols: []string{}, Reason: "greylisted, try again later"}, ""},
		{"soft reject", `{"action":"soft reject","score":3,"messages":{"smtp_message":"Try again later"}}`,
			Verdict{Action: ActionSoftReject, Score: 3, Symbols: []string{}, Reason: "message temporarily refused by the spam filter (Try again later)"}, ""},
		{"reject with smtp_message", `{"action":"reject","score":15,"symbols":{"GTUBE":{"score":0}},"messages":{"smtp_message":"Gtube pattern"},"milter":{"add_headers":{"X-Spam":"Yes"}}}`,
			Verdict{Action: ActionReject, Score: 15, Symbols: []string{"GTUBE"}, Reason: "message looks like spam (Gtube pattern)"}, ""},
		{"reject without message", `{"action":"reject","score":21.5}`,
			Verdict{Action: ActionReject, Score: 21.5, Symbols: []string{}, Reason: "message looks like spam (score 21.5)"}, ""},
		{"reject, message made safe", `{"action":"reject","score":15,"messages":{"smtp_message":"spam\r\n250 2.0.0 ok"}}`,
			Verdict{Action: ActionReject, Score: 15, Symbols: []string{}, Reason: "message looks like spam (spam??250 2.0.0 ok)"}, ""},
		{"discard", `{"action":"discard","score":30}`,
			Verdict{Action: ActionReject, Score: 30, Symbols: []string{}, Reason: "message looks like spam (score 30.0)"}, ""},
		{"quarantine", `{"action":"quarantine","score":30}`,
			Verdict{Action: ActionReject, Score: 30, Symbols: []string{}, Reason: "message looks like spam (score 30.0)"}, ""},

		{"unknown action", `{"action":"explode","score":1}`, Verdict{}, `unknown action "explode"`},
		{"no action field", `{"score":1}`, Verdict{}, "without action or score"},
		{"no score", `{"action":"no action"}`, Verdict{}, "without action or score"},
		{"rspamd error", `{"error":"cannot parse input"}`, Verdict{}, "rspamd error: cannot parse input"},
		{"not JSON", `<html>Bad Gateway</html>`, Verdict{}, "unparseable reply"},
		{"empty", ``, Verdict{}, "unparseable reply"},
		{"wrong types", `{"action":1,"score":"x"}`, Verdict{}, "unparseable reply"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := parseReply([]byte(c.body))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Action != c.want.Action || v.Score != c.want.Score || !slices.Equal(v.Symbols, c.want.Symbols) ||
				v.Reason != c.want.Reason || !maps.Equal(v.Headers, c.want.Headers) {
				t.Fatalf("verdict %#v\nwant    %#v", v, c.want)
			}
		})
	}
}

// fakeRspamd is an in-process stand-in for rspamd that records the last
// request and answers with reply.
func fakeRspamd(t *testing.T, status int, reply string) (*httptest.Server, func() (*http.Request, []byte)) {
	t.Helper()
	var last *http.Request
	var body []byte
	done := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last = r.Clone(context.Background())
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
		io.WriteString(w, reply)
		done <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv, func() (*http.Request, []byte) { <-done; return last, body }
}

func TestRspamdRequest(t *testing.T) {
	srv, last := fakeRspamd(t, http.StatusOK, `{"action":"no action","score":0}`)
	r := &Rspamd{URL: srv.URL + "/"}
	env := Envelope{
		ClientIP:   netip.MustParseAddr("::ffff:192.0.2.7"),
		Helo:       "client.example.com",
		From:       "alice@example.com",
		User:       "acme",
		Recipients: []string{"bob@example.org", "carol@example.net"},
		QueueID:    "Q123",
	}
	v, err := r.Scan(context.Background(), env, normal)
	if err != nil || v.Action != ActionAccept {
		t.Fatalf("Scan = %+v, %v", v, err)
	}
	req, body := last()
	if req.Method != http.MethodPost || req.URL.Path != "/checkv2" {
		t.Fatalf("request %s %s, want POST /checkv2", req.Method, req.URL.Path)
	}
	want := map[string][]string{
		"Ip":       {"192.0.2.7"},
		"Helo":     {"client.example.com"},
		"From":     {"alice@example.com"},
		"Rcpt":     {"bob@example.org", "carol@example.net"},
		"User":     {"acme"},
		"Queue-Id": {"Q123"},
	}
	for name, values := range want {
		if got := req.Header.Values(name); !slices.Equal(got, values) {
			t.Errorf("header %s = %q, want %q", name, got, values)
		}
	}
	if string(body) != string(normal) {
		t.Errorf("body %q, want the message", body)
	}

	// An empty envelope sends no empty headers.
	if _, err := r.Scan(context.Background(), Envelope{}, normal); err != nil {
		t.Fatal(err)
	}
	req, _ = last()
	for name := range want {
		if _, ok := req.Header[name]; ok {
			t.Errorf("header %s sent for an empty envelope", name)
		}
	}
}

func TestRspamdHTTPErrors(t *testing.T) {
	cases := []struct {
		name   string
		status int
		reply  string
	}{
		{"HTTP 500", http.StatusInternalServerError, `{"error":"internal"}`},
		{"HTTP 404", http.StatusNotFound, "not found"},
		{"garbage", http.StatusOK, "garbage"},
		{"huge reply", http.StatusOK, `{"action":"no action","score":0,"x":"` + strings.Repeat("a", maxReplyBytes) + `"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := fakeRspamd(t, c.status, c.reply)
			_, err := (&Rspamd{URL: srv.URL}).Scan(context.Background(), Envelope{}, normal)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("error %v, want ErrUnavailable", err)
			}
		})
	}
}

// slowRspamd is an in-process HTTP server that answers after delay: a
// stand-in for an rspamd behind a slow network.
func slowRspamd(t *testing.T, delay time.Duration) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the whole request lets the server notice the client
		// hang up, which ends r.Context().
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(delay):
			io.WriteString(w, `{"action":"no action","score":0}`)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRspamdSlowTimesOut(t *testing.T) {
	r := &Rspamd{URL: slowRspamd(t, time.Minute), Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err := r.Scan(context.Background(), Envelope{}, normal)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want ErrUnavailable and a deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Scan took %v with a 200ms timeout", d)
	}

	// The caller's context bounds it too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := (&Rspamd{URL: r.URL}).Scan(ctx, Envelope{}, normal); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the caller's deadline", err)
	}
}
