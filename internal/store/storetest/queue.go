package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// testListMessages: every filter of ListMessages alone and together, in
// creation order then id, paged by cursor and by offset; Attempts and
// NextAttempt as the queue left them.
func testListMessages(t *testing.T, s store.Store) {
	ctx := context.Background()
	acme := mustCreateUser(t, s, "acme", "")
	shop := mustCreateUser(t, s, "shop", "acme")
	// m1 and m2 are created at the same instant: the id orders them.
	msgs := []store.NewMessage{
		simpleMessage("m2", acme.ID),
		simpleMessage("m1", acme.ID),
		simpleMessage("m3", shop.ID),
		simpleMessage("m4", acme.ID),
		simpleMessage("m5", shop.ID),
	}
	msgs[2].CreatedAt = base.Add(time.Minute)
	msgs[3].CreatedAt = base.Add(2 * time.Minute)
	msgs[4].CreatedAt = base.Add(3 * time.Minute)
	msgs[4].NotBefore = base.Add(time.Hour) // held
	if err := s.EnqueueBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	// m1 is tried once, and its first recipient delivered; m3 dropped.
	next := func(int) time.Time { return base.Add(10 * time.Minute) }
	cs, err := s.ClaimDue(ctx, base, 1, next)
	if err != nil || len(cs) != 1 || cs[0].ID != "m1" {
		t.Fatalf("claim: %+v %v", cs, err)
	}
	if err := s.RecordAttempt(ctx, store.Attempt{MessageID: "m1", At: base,
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Drop(ctx, "m3", "dropped", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    store.MessageFilter
		want []string
	}{
		{"all", store.MessageFilter{}, []string{"m1", "m2", "m3", "m4", "m5"}},
		{"user", store.MessageFilter{UserID: shop.ID}, []string{"m3", "m5"}},
		{"queued", store.MessageFilter{State: store.StateQueued}, []string{"m1", "m2", "m4", "m5"}},
		{"done", store.MessageFilter{State: store.StateDone}, []string{"m3"}},
		{"retried", store.MessageFilter{Retried: true}, []string{"m1"}},
		{"a recipient delivered", store.MessageFilter{Recipient: store.RcptDelivered}, []string{"m1"}},
		{"a recipient pending", store.MessageFilter{Recipient: store.RcptPending}, []string{"m1", "m2", "m4", "m5"}},
		{"since", store.MessageFilter{Since: base.Add(2 * time.Minute)}, []string{"m4", "m5"}},
		{"limit", store.MessageFilter{Limit: 2}, []string{"m1", "m2"}},
		{"after", store.MessageFilter{After: "m2", Limit: 2}, []string{"m3", "m4"}},
		{"after the same instant", store.MessageFilter{After: "m1"}, []string{"m2", "m3", "m4", "m5"}},
		{"after the last", store.MessageFilter{After: "m5"}, nil},
		{"offset", store.MessageFilter{Offset: 3}, []string{"m4", "m5"}},
		{"offset after", store.MessageFilter{After: "m1", Offset: 1, Limit: 1}, []string{"m3"}},
		{"together", store.MessageFilter{UserID: acme.ID, State: store.StateQueued, Since: base, Limit: 1, After: "m1"}, []string{"m2"}},
		{"nothing", store.MessageFilter{UserID: shop.ID, Retried: true}, nil},
	}
	for _, tc := range tests {
		got, err := s.ListMessages(ctx, tc.f)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var ids []string
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s: ListMessages = %q, want %q", tc.name, ids, tc.want)
		}
	}

	if _, err := s.ListMessages(ctx, store.MessageFilter{After: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after an unknown id: %v, want ErrNotFound", err)
	}

	// The listed messages carry their recipients, attempts and next attempt.
	got, err := s.ListMessages(ctx, store.MessageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]store.Message{}
	for _, m := range got {
		byID[m.ID] = m
	}
	checkMessage(t, byID["m2"], expected(msgs[0], "acme"))
	if m := byID["m1"]; m.Attempts != 1 {
		t.Errorf("m1 Attempts = %d, want 1", m.Attempts)
	}
	checkTime(t, "m1 NextAttempt", byID["m1"].NextAttempt, stored(base.Add(10*time.Minute)))
	checkTime(t, "m2 NextAttempt", byID["m2"].NextAttempt, stored(base))
	checkTime(t, "m5 NextAttempt (held)", byID["m5"].NextAttempt, stored(base.Add(time.Hour)))
	if m := byID["m3"]; m.State != store.StateDone || !m.NextAttempt.IsZero() || m.Attempts != 0 {
		t.Errorf("dropped m3: state %s, attempts %d, next %v; want done, 0, zero", m.State, m.Attempts, m.NextAttempt)
	}
	// Message reads them too.
	m1, err := s.Message(ctx, "m1")
	if err != nil || m1.Attempts != 1 || len(m1.Recipients) != 2 {
		t.Fatalf("Message(m1) = %+v, %v", m1, err)
	}
	checkTime(t, "Message(m1).NextAttempt", m1.NextAttempt, stored(base.Add(10*time.Minute)))
}
