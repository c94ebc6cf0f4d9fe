package app_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

// A message sent through the API reaches its recipient, and the sender's
// signed webhook on loopback (webhooks.allow_private_networks) gets its
// processed and delivered events with the message's custom arguments.
func TestWebhookEvents(t *testing.T) {
	ctx := context.Background()
	d, sink := startPeers(t)
	cfg := peerConfig(t, d, sink)
	cfg.Webhooks.AllowPrivateNetworks = true
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.Accounts.CreateUser(ctx, "acme", "")
	if err != nil {
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
	var bad []string
	signKey, err := events.NewKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := events.NewSigner(signKey)
	pk, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(signer.PublicKeyBase64())
	if err != nil {
		t.Fatal(err)
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		ok, err := eventwebhook.VerifySignature(pk, body, r.Header.Get(eventwebhook.VerificationHTTPHeader), r.Header.Get(eventwebhook.TimestampHTTPHeader))
		var evs []map[string]any
		if jerr := json.Unmarshal(body, &evs); !ok || err != nil || jerr != nil {
			bad = append(bad, string(body))
		}
		got = append(got, evs...)
	}))
	t.Cleanup(recv.Close)
	der, err := events.MarshalKey(signKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.CreateWebhook(ctx, store.Webhook{ID: "wh1", UserID: u.ID, URL: recv.URL + "/events", Enabled: true,
		Events: []store.EventType{store.EventProcessed, store.EventDelivered}, Signed: true, PrivateKey: der,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	r, err := a.Start()
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			r.Stop(context.Background())
		}
		a.Close()
	})
	body := `{"personalizations":[{"to":[{"email":"ann@example.test"}],"custom_args":{"order":"1234"}}],` +
		`"from":{"email":"app@example.test"},"subject":"hi","categories":["receipts"],"content":[{"type":"text/plain","value":"hello"}]}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+r.HTTPAddr.String()+"/v3/mail/send", strings.NewReader(body))
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
	msgID := resp.Header.Get("X-Message-Id")

	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		kinds := map[string]map[string]any{}
		for _, ev := range got {
			kinds[ev["event"].(string)] = ev
		}
		n, nbad := len(got), len(bad)
		mu.Unlock()
		if nbad > 0 {
			t.Fatalf("unverified or malformed POSTs: %q", bad)
		}
		if kinds["processed"] != nil && kinds["delivered"] != nil {
			for k, ev := range kinds {
				if ev["email"] != "ann@example.test" || ev["order"] != "1234" || ev["category"] != "receipts" ||
					(msgID != "" && ev["sg_message_id"] != msgID) {
					t.Errorf("%s event %v (X-Message-Id %q)", k, ev, msgID)
				}
			}
			if n != 2 {
				t.Errorf("%d events, want 2", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events so far: %v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if n, err := a.Store.OutboxBacklog(ctx, "wh1"); err != nil || n != 0 {
		t.Errorf("backlog %d, %v", n, err)
	}
}
