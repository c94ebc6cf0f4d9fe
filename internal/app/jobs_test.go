package app

import (
	"context"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
)

func TestRetentionPurgesFinishedMessages(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.LoopbackConfig(t)
	cfg.Queue.Retention.Duration = 24 * time.Hour
	a, err := Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	u, err := a.Store.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	msg := func(id string, created time.Time) store.NewMessage {
		return store.NewMessage{ID: id, UserID: u.ID, KeyID: "k1", From: "a@acme.test", Recipients: []string{"x@example.com"},
			Body: []byte("Subject: " + id + "\r\n\r\nbody\r\n"), CreatedAt: created}
	}
	if err := a.Store.EnqueueBatch(ctx, []store.NewMessage{msg("old", at), msg("new", at.Add(30*time.Hour)), msg("queued", at)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"old", "new"} {
		if err := a.Store.RecordAttempt(ctx, store.Attempt{MessageID: id, At: at.Add(31 * time.Hour),
			Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.retain(ctx, at.Add(48*time.Hour)); err != nil {
		t.Fatalf("retain: %v", err)
	}
	for id, wantEmpty := range map[string]bool{"old": true, "new": false, "queued": false} {
		body, err := a.Store.MessageBody(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if (len(body) == 0) != wantEmpty {
			t.Errorf("%s: body of %d bytes after retention; want removed: %v", id, len(body), wantEmpty)
		}
	}
}
