package app_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

// One-click unsubscribe in process (issue 15): a user with
// list_unsubscribe on sends to ann; the delivered copy's URL, POSTed as
// RFC 8058 says, puts ann on the user's unsubscribe list, and the
// user's webhook gets the unsubscribe event; a GET and an altered token
// change nothing, and the next message to ann is dropped.
func TestOneClickUnsubscribe(t *testing.T) {
	ctx := context.Background()
	d, sink := startPeers(t)
	cfg := peerConfig(t, d, sink)
	cfg.Webhooks.AllowPrivateNetworks = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Listen = l.Addr().String()
	l.Close()
	cfg.HTTP.PublicURL = "http://" + cfg.HTTP.Listen
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.Accounts.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	on := true
	if err := a.Store.UpdateUserSettings(ctx, "acme", store.UserSettings{ListUnsubscribe: &on}); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.AddDomain(ctx, store.Domain{Name: "example.test", UserID: u.ID, State: store.DomainTrusted, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	key, _, err := a.Accounts.CreateKey(ctx, "acme", "send", nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []map[string]any
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var evs []map[string]any
		json.Unmarshal(body, &evs)
		mu.Lock()
		got = append(got, evs...)
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	signKey, _ := events.NewKey(rand.Reader)
	der, _ := events.MarshalKey(signKey)
	if err := a.Store.CreateWebhook(ctx, store.Webhook{ID: "wh1", UserID: u.ID, URL: recv.URL + "/events", Enabled: true,
		Events: []store.EventType{store.EventUnsubscribe}, Signed: true, PrivateKey: der,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r, err := a.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop(context.Background()); a.Close() })
	base := "http://" + r.HTTPAddr.String()
	send := func(subject string) string {
		t.Helper()
		body := `{"personalizations":[{"to":[{"email":"ann@example.test"}]}],"from":{"email":"app@example.test"},` +
			`"subject":"` + subject + `","content":[{"type":"text/plain","value":"hello"}]}`
		req, _ := http.NewRequest(http.MethodPost, base+"/v3/mail/send", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("send: %d", resp.StatusCode)
		}
		return resp.Header.Get("X-Message-Id")
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	first := send("first")
	var delivered []byte
	wait("delivery", func() bool {
		if m := sink.Messages(); len(m) > 0 {
			delivered = m[0].Body
			return true
		}
		return false
	})
	m := regexp.MustCompile(`(?m)^List-Unsubscribe: <(` + regexp.QuoteMeta(base) + `/unsubscribe/[A-Za-z0-9_-]+)>\r$`).FindSubmatch(delivered)
	if m == nil || !strings.Contains(string(delivered), "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") {
		t.Fatalf("delivered without one-click List-Unsubscribe:\n%s", delivered)
	}
	link := string(m[1])
	post := func(url, body string) int {
		t.Helper()
		resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	suppressed := func() []store.Suppression {
		t.Helper()
		s, err := a.Store.FindSuppressions(ctx, store.SuppressionFilter{UserID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(suppressed()) != 0 {
		t.Fatalf("GET: %d, suppressions %v", resp.StatusCode, suppressed())
	}
	altered := link[:len(link)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(link, "A")]
	if st := post(altered, "List-Unsubscribe=One-Click"); st != 404 {
		t.Errorf("altered token: %d, want 404", st)
	}
	if st := post(link, ""); st != 400 {
		t.Errorf("empty body: %d, want 400", st)
	}
	if len(suppressed()) != 0 {
		t.Fatalf("refused POSTs suppressed: %v", suppressed())
	}
	for i := 0; i < 2; i++ {
		if st := post(link, "List-Unsubscribe=One-Click"); st != 200 {
			t.Fatalf("POST %d: %d", i+1, st)
		}
	}
	if s := suppressed(); len(s) != 1 || s[0].Address != "ann@example.test" || s[0].Kind != store.SuppressUnsubscribe {
		t.Fatalf("suppressions after two POSTs: %v", s)
	}
	evs, _ := a.Store.Events(ctx, first)
	n := 0
	for _, e := range evs {
		if e.Type == store.EventUnsubscribe {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d unsubscribe events, want 1: %v", n, evs)
	}
	wait("the unsubscribe webhook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	mu.Lock()
	if ev := got[0]; len(got) != 1 || ev["event"] != "unsubscribe" || ev["email"] != "ann@example.test" || ev["sg_message_id"] != first {
		t.Errorf("webhook events %v", got)
	}
	mu.Unlock()
	second := send("second")
	wait("the second message dropped", func() bool {
		rs, _ := a.Store.Recipients(ctx, second)
		return len(rs) == 1 && rs[0].State == store.RcptDropped
	})
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("%d messages delivered, want 1", n)
	}
}
