package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// recording is the store, keeping what each claim returned.
type recording struct {
	Store
	mu     sync.Mutex
	claims [][]store.OutboxItem
}

func (r *recording) ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.OutboxItem, error) {
	items, err := r.Store.ClaimOutbox(ctx, now, limit, lease)
	r.mu.Lock()
	r.claims = append(r.claims, items)
	r.mu.Unlock()
	return items, err
}

func (r *recording) last() []store.OutboxItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.claims[len(r.claims)-1]
}

// sgIDs is the sg_event_id of every event in evs, in order.
func sgIDs(t *testing.T, evs []map[string]any) []string {
	t.Helper()
	var ids []string
	for _, ev := range evs {
		id, ok := ev["sg_event_id"].(string)
		if !ok || id == "" {
			t.Fatalf("event without sg_event_id: %v", ev)
		}
		ids = append(ids, id)
	}
	return ids
}

const acmeMeta = `{"categories":["welcome","onboarding"],"custom_args":{"user_id":"42","plan":"pro"},"asm_group_id":7}`

// Events recorded when mail is accepted and when it is delivered or
// bounces reach the receiver as SendGrid's, signed, in one POST.
func TestDeliversSignedEvents(t *testing.T) {
	e := newEnv(t, true, store.EventProcessed, store.EventDelivered, store.EventBounced)
	e.enqueue(e.message("m1", acmeMeta, "ann@example.com", "bob@example.com"), e.message("m2", "", "cid@example.org"))
	at := base.Add(30 * time.Second)
	delivered := "250 2.0.0 ok (mx.example.com [192.0.2.1], TLS 1.3 TLS_AES_128_GCM_SHA256, certificate verified)"
	e.attempt(store.Attempt{MessageID: "m1", At: at,
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 2.0.0 ok"}, {Idx: 1, State: store.RcptBounced, Result: "550 5.1.1 no such user"}},
		Events: []store.Event{
			{MessageID: "m1", Recipient: "ann@example.com", Type: store.EventDelivered, Detail: delivered, At: at},
			{MessageID: "m1", Recipient: "bob@example.com", Type: store.EventBounced, Detail: "550 5.1.1 no such user", At: at},
		}})
	want := e.expected("m1", "m2")
	if len(want) != 5 {
		t.Fatalf("%d events expected, want 3 processed, 1 delivered, 1 bounce", len(want))
	}

	d := e.dispatcher(nil)
	if full := d.round(e.ctx); full {
		t.Error("a round of 5 items claimed as many as it could")
	}
	reqs := e.recv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d POSTs, want 1", len(reqs))
	}
	r := reqs[0]
	if r.path != "/hook" || r.query != "token=hunter2" {
		t.Errorf("POSTed to %s?%s", r.path, r.query)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := r.header.Get("User-Agent"); !strings.Contains(ua, "Postern") {
		t.Errorf("User-Agent %q", ua)
	}
	e.verify(r)

	evs := posted(t, r)
	ids := sgIDs(t, evs)
	if len(ids) != len(want) {
		t.Fatalf("%d events posted, want %d: %s", len(ids), len(want), r.body)
	}
	byEmailEvent := map[string]map[string]any{}
	for i, ev := range evs {
		w, ok := want[ids[i]]
		if !ok {
			t.Fatalf("unexpected sg_event_id in %v", ev)
		}
		delete(want, ids[i]) // each once
		if ev["email"] != w.Email || ev["event"] != string(w.Event) || ev["sg_message_id"] != w.SGMessageID ||
			ev["timestamp"] != float64(w.Timestamp) {
			t.Errorf("event %v, want %+v", ev, w)
		}
		byEmailEvent[fmt.Sprint(ev["email"], " ", ev["event"])] = ev
	}
	if len(want) != 0 {
		t.Errorf("not posted: %v", want)
	}
	for _, k := range []string{"ann@example.com processed", "ann@example.com delivered", "bob@example.com processed", "bob@example.com bounce"} {
		ev := byEmailEvent[k]
		if ev == nil {
			t.Fatalf("no %s event", k)
		}
		if !reflect.DeepEqual(ev["category"], []any{"welcome", "onboarding"}) || ev["user_id"] != "42" || ev["plan"] != "pro" ||
			ev["asm_group_id"] != float64(7) || ev["sg_message_id"] != "m1" {
			t.Errorf("%s: message metadata missing: %v", k, ev)
		}
	}
	if ev := byEmailEvent["ann@example.com delivered"]; ev["response"] != delivered || ev["tls"] != float64(1) {
		t.Errorf("delivered: %v", ev)
	}
	if ev := byEmailEvent["bob@example.com bounce"]; ev["reason"] != "550 5.1.1 no such user" || ev["status"] != "5.1.1" || ev["type"] != "bounce" {
		t.Errorf("bounce: %v", ev)
	}
	if ev := byEmailEvent["ann@example.com processed"]; ev["timestamp"] != float64(base.Unix()) {
		t.Errorf("processed at %v, want %d", ev["timestamp"], base.Unix())
	}
	cid := byEmailEvent["cid@example.org processed"]
	if cid == nil || cid["sg_message_id"] != "m2" || cid["category"] != nil || cid["user_id"] != nil {
		t.Errorf("m2's event: %v", cid)
	}

	if n := e.backlog(); n != 0 {
		t.Errorf("backlog %d after delivery", n)
	}
	if w := e.webhook(); !w.LastSuccessAt.Equal(e.clock.Now()) || w.LastError != "" {
		t.Errorf("webhook record: success %v, error %q", w.LastSuccessAt, w.LastError)
	}
	d.round(e.ctx)
	if n := len(e.recv.requests()); n != 1 {
		t.Errorf("%d POSTs after a second round, want still 1", n)
	}
}

// BatchSize cuts a webhook's events into POSTs, oldest first, each signed
// over its own body.
func TestBatches(t *testing.T) {
	e := newEnv(t, true, store.EventProcessed)
	e.enqueue(e.message("m1", acmeMeta, "a@example.com", "b@example.com", "c@example.com"), e.message("m2", "", "d@example.com", "e@example.com"))
	want := e.expected("m1", "m2")
	d := e.dispatcher(func(c *Config) { c.BatchSize = 2 })
	d.round(e.ctx)
	reqs := e.recv.requests()
	var sizes []int
	got := map[string]int{}
	var order []string
	for _, r := range reqs {
		e.verify(r)
		evs := posted(t, r)
		sizes = append(sizes, len(evs))
		for i, id := range sgIDs(t, evs) {
			got[id]++
			order = append(order, fmt.Sprint(evs[i]["email"]))
		}
	}
	if fmt.Sprint(sizes) != "[2 2 1]" {
		t.Errorf("batch sizes %v, want [2 2 1]", sizes)
	}
	if len(got) != len(want) {
		t.Errorf("%d distinct events, want %d", len(got), len(want))
	}
	for id, n := range got {
		if _, ok := want[id]; !ok || n != 1 {
			t.Errorf("event %s posted %d times (expected: %v)", id, n, ok)
		}
	}
	if strings.Join(order, " ") != "a@example.com b@example.com c@example.com d@example.com e@example.com" {
		t.Errorf("order %v", order)
	}
	if n := e.backlog(); n != 0 {
		t.Errorf("backlog %d", n)
	}
}

// A receiver that fails gets the events again, with a growing backoff,
// until it takes them: every event arrives, and none twice but in
// batches it refused.
func TestRetriesUntilAccepted(t *testing.T) {
	e := newEnv(t, false)
	e.enqueue(e.message("m1", acmeMeta, "a@example.com", "b@example.com"), e.message("m2", "", "c@example.com"))
	want := e.expected("m1", "m2")
	rec := &recording{Store: e.st}
	d := e.dispatcher(func(c *Config) { c.Store = rec })

	e.recv.status.Store(503)
	d.round(e.ctx)
	if n := len(e.recv.requests()); n != 1 {
		t.Fatalf("%d POSTs, want 1", n)
	}
	w := e.webhook()
	if w.LastError != "HTTP 503" || !w.LastErrorAt.Equal(e.clock.Now()) || !w.LastSuccessAt.IsZero() {
		t.Fatalf("webhook record after a 503: %q at %v, success %v", w.LastError, w.LastErrorAt, w.LastSuccessAt)
	}
	if n := e.backlog(); n != 3 {
		t.Fatalf("backlog %d, want 3", n)
	}
	d.round(e.ctx)
	if n := len(e.recv.requests()); n != 1 {
		t.Fatalf("retried before the backoff: %d POSTs", n)
	}

	// Waits of 30s, 1m and 2m (each with up to 10% jitter) pass.
	for attempt, wait := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		if attempt == 2 {
			e.recv.status.Store(200)
		}
		e.clock.Add(wait)
		d.round(e.ctx)
		if n := len(e.recv.requests()); n != attempt+2 {
			t.Fatalf("after %v: %d POSTs, want %d", wait, n, attempt+2)
		}
		for _, it := range rec.last() {
			if it.Attempts != attempt+1 {
				t.Errorf("claim %d: item %d has %d attempts", attempt+2, it.ID, it.Attempts)
			}
		}
	}
	if n := e.backlog(); n != 0 {
		t.Errorf("backlog %d after acceptance", n)
	}
	w = e.webhook()
	if !w.LastSuccessAt.Equal(e.clock.Now()) || w.LastError != "HTTP 503" {
		t.Errorf("webhook record: success %v, last error %q", w.LastSuccessAt, w.LastError)
	}
	reqs := e.recv.requests()
	for _, r := range reqs {
		for _, id := range sgIDs(t, posted(t, r)) {
			if _, ok := want[id]; !ok {
				t.Errorf("unknown sg_event_id %s", id)
			}
		}
	}
	accepted := sgIDs(t, posted(t, reqs[len(reqs)-1]))
	seen := map[string]bool{}
	for _, id := range accepted {
		if seen[id] {
			t.Errorf("%s twice in the accepted batch", id)
		}
		seen[id] = true
	}
	if len(seen) != len(want) {
		t.Errorf("accepted %d events, want %d", len(seen), len(want))
	}
	d.round(e.ctx)
	if n := len(e.recv.requests()); n != len(reqs) {
		t.Errorf("POSTed again after acceptance")
	}
}

// After a batch fails, the webhook's other batches of the round are not
// tried; they wait with it.
func TestFailedBatchStopsTheRound(t *testing.T) {
	e := newEnv(t, false, store.EventProcessed)
	e.enqueue(e.message("m1", "", "a@example.com", "b@example.com", "c@example.com"))
	rec := &recording{Store: e.st}
	d := e.dispatcher(func(c *Config) { c.BatchSize = 1; c.Store = rec })
	e.recv.status.Store(500)
	d.round(e.ctx)
	if n := len(e.recv.requests()); n != 1 {
		t.Fatalf("%d POSTs, want 1: the first failed", n)
	}
	if n := e.backlog(); n != 3 {
		t.Fatalf("backlog %d", n)
	}
	e.recv.status.Store(200)
	e.clock.Add(time.Minute)
	d.round(e.ctx)
	if got := rec.last(); len(got) != 3 || got[0].Attempts != 1 || got[2].Attempts != 1 {
		t.Fatalf("retry claim %+v", got)
	}
	if n, b := len(e.recv.requests()), e.backlog(); n != 4 || b != 0 {
		t.Errorf("%d POSTs, backlog %d; want 4 and 0", n, b)
	}
}

// An item is retried until it is RetryFor old, then given up on, and the
// webhook's record says so; an old item is still tried once.
func TestGivesUpAfterRetryFor(t *testing.T) {
	e := newEnv(t, false, store.EventProcessed)
	young := e.message("young", "", "young@example.com")
	young.CreatedAt = base.Add(DefaultRetryFor)
	e.enqueue(e.message("old", "", "old@example.com"), young)
	e.clock.t = base.Add(DefaultRetryFor + time.Minute)
	d := e.dispatcher(nil)

	e.recv.status.Store(500)
	d.round(e.ctx)
	reqs := e.recv.requests()
	if len(reqs) != 1 || len(posted(t, reqs[0])) != 2 {
		t.Fatalf("POSTs %d, want one with both events", len(reqs))
	}
	if n := e.backlog(); n != 1 {
		t.Fatalf("backlog %d, want the young one", n)
	}
	if w := e.webhook(); w.LastError != "gave up after 72h: HTTP 500" {
		t.Errorf("last error %q", w.LastError)
	}

	e.recv.status.Store(200)
	e.clock.Add(time.Minute)
	d.round(e.ctx)
	reqs = e.recv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d POSTs", len(reqs))
	}
	if evs := posted(t, reqs[1]); len(evs) != 1 || evs[0]["email"] != "young@example.com" {
		t.Errorf("retried %v, want the young event alone", evs)
	}
	if n := e.backlog(); n != 0 {
		t.Errorf("backlog %d", n)
	}

	// A receiver that takes an event older than RetryFor gets it.
	e.enqueue(e.message("late", "", "late@example.com"))
	d.round(e.ctx)
	if n, b := len(e.recv.requests()), e.backlog(); n != 3 || b != 0 {
		t.Errorf("old event: %d POSTs, backlog %d; want it delivered", n, b)
	}
}

// Items of an event type the webhook no longer selects, and all items of
// a disabled webhook, are discarded unsent.
func TestDiscardsWhatIsNoLongerWanted(t *testing.T) {
	e := newEnv(t, false, store.EventProcessed, store.EventDelivered)
	e.enqueue(e.message("m1", "", "a@example.com"))
	w := e.webhook()
	w.Events = []store.EventType{store.EventDelivered}
	if err := e.st.UpdateWebhook(e.ctx, w); err != nil {
		t.Fatal(err)
	}
	d := e.dispatcher(nil)
	d.round(e.ctx)
	if n, b := e.recv.conns.Load(), e.backlog(); n != 0 || b != 0 {
		t.Fatalf("%d connections, backlog %d; want 0 and 0", n, b)
	}
	if got := e.webhook().LastError; got != "event type processed no longer selected: not sent" {
		t.Errorf("last error %q", got)
	}

	e.attempt(store.Attempt{MessageID: "m1", At: base.Add(time.Second),
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}},
		Events:  []store.Event{{MessageID: "m1", Recipient: "a@example.com", Type: store.EventDelivered, Detail: "250 ok", At: base.Add(time.Second)}}})
	if n := e.backlog(); n != 1 {
		t.Fatalf("backlog %d", n)
	}
	w = e.webhook()
	w.Enabled = false
	if err := e.st.UpdateWebhook(e.ctx, w); err != nil {
		t.Fatal(err)
	}
	d.round(e.ctx)
	if n, b := e.recv.conns.Load(), e.backlog(); n != 0 || b != 0 {
		t.Fatalf("%d connections, backlog %d; want 0 and 0", n, b)
	}
	if got := e.webhook().LastError; got != "webhook disabled: events not sent" {
		t.Errorf("last error %q", got)
	}
}

// A batch is not POSTed once its claim's lease has less than a request
// timeout left: the rest waits until the lease ends, then goes.
func TestLeaseRunningShort(t *testing.T) {
	e := newEnv(t, false, store.EventProcessed)
	e.enqueue(e.message("m1", "", "a@example.com", "b@example.com", "c@example.com"))
	slow := func() { e.clock.Add(40 * time.Second) } // each POST "takes" 40s of the 1m lease
	e.recv.onRequest.Store(&slow)
	d := e.dispatcher(func(c *Config) { c.BatchSize = 1 })
	d.round(e.ctx)
	if n, b := len(e.recv.requests()), e.backlog(); n != 1 || b != 2 {
		t.Fatalf("%d POSTs, backlog %d; want 1 and 2", n, b)
	}
	e.recv.onRequest.Store(nil)
	d.round(e.ctx)
	if n := len(e.recv.requests()); n != 1 {
		t.Fatalf("the rest went within its lease: %d POSTs", n)
	}
	e.clock.Add(DefaultLease)
	d.round(e.ctx)
	if n, b := len(e.recv.requests()), e.backlog(); n != 3 || b != 0 {
		t.Errorf("%d POSTs, backlog %d; want 3 and 0", n, b)
	}
}

// panicky panics in the first call of Message or ClaimOutbox, as chosen.
type panicky struct {
	Store
	inMessage, inClaim bool
	n                  atomic.Int64
}

func (p *panicky) Message(ctx context.Context, id string) (store.Message, error) {
	if p.inMessage && p.n.Add(1) == 1 {
		panic("message boom")
	}
	return p.Store.Message(ctx, id)
}

func (p *panicky) ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.OutboxItem, error) {
	if p.inClaim && p.n.Add(1) == 1 {
		panic("claim boom")
	}
	return p.Store.ClaimOutbox(ctx, now, limit, lease)
}

// A panic while dispatching is recovered and counted; the items it held
// stay leased and go after the lease.
func TestRecoversPanicInDispatch(t *testing.T) {
	e := newEnv(t, false, store.EventProcessed)
	e.enqueue(e.message("m1", acmeMeta, "a@example.com", "b@example.com"))
	d := e.dispatcher(func(c *Config) { c.Store = &panicky{Store: e.st, inMessage: true} })
	d.round(e.ctx)
	if d.Panics() != 1 {
		t.Fatalf("Panics() = %d, want 1", d.Panics())
	}
	if n, b := e.recv.conns.Load(), e.backlog(); n != 0 || b != 2 {
		t.Fatalf("%d connections, backlog %d after the panic", n, b)
	}
	e.clock.Add(DefaultLease + time.Second)
	d.round(e.ctx)
	reqs := e.recv.requests()
	if len(reqs) != 1 || e.backlog() != 0 {
		t.Fatalf("%d POSTs, backlog %d after the lease", len(reqs), e.backlog())
	}
	for _, ev := range posted(t, reqs[0]) {
		if ev["user_id"] != "42" {
			t.Errorf("event without the message's metadata: %v", ev)
		}
	}
	if d.Panics() != 1 {
		t.Errorf("Panics() = %d", d.Panics())
	}
}

// Run survives a panic in its claim, dispatches on Wake, and returns once
// its context ends.
func TestRun(t *testing.T) {
	e := newEnv(t, true, store.EventProcessed)
	e.enqueue(e.message("m1", "", "a@example.com"))
	d := e.dispatcher(func(c *Config) { c.Store = &panicky{Store: e.st, inClaim: true}; c.Poll = time.Hour })
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	waitFor(t, "the claim's panic", func() bool { return d.Panics() == 1 })
	d.Wake()
	waitFor(t, "the POST", func() bool { return e.backlog() == 0 })
	reqs := e.recv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d POSTs", len(reqs))
	}
	e.verify(reqs[0])
	var evs []map[string]any
	if err := json.Unmarshal(reqs[0].body, &evs); err != nil || len(evs) != 1 || evs[0]["email"] != "a@example.com" {
		t.Errorf("POST %s", reqs[0].body)
	}
	cancel()
	waitFor(t, "Run to return", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	if d.Panics() != 1 {
		t.Errorf("Panics() = %d", d.Panics())
	}
}
