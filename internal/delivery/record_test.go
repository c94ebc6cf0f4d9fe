package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

// gatedStore is a real SQLite store whose commits of attempts can be held
// at a gate, and which counts them.
type gatedStore struct {
	store.Store
	gate chan struct{} // when not nil, each commit first takes a token

	mu      sync.Mutex
	batches []int // the attempts of each commit, in order
}

func (g *gatedStore) RecordAttempt(ctx context.Context, a store.Attempt) error {
	return g.RecordAttempts(ctx, []store.Attempt{a})
}

func (g *gatedStore) RecordAttempts(ctx context.Context, as []store.Attempt) error {
	if g.gate != nil {
		<-g.gate
	}
	g.mu.Lock()
	g.batches = append(g.batches, len(as))
	g.mu.Unlock()
	return g.Store.RecordAttempts(ctx, as)
}

func newRecorderEnv(t *testing.T, n int) (*gatedStore, *recorder, int64) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/r.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []store.NewMessage
	for i := range n {
		msgs = append(msgs, store.NewMessage{ID: fmt.Sprintf("m%02d", i), UserID: u.ID, KeyID: "k", From: "a@acme.test",
			Recipients: []string{"r@far.test"}, Body: []byte("Subject: x\r\n\r\nx\r\n"), CreatedAt: time.Unix(1, 0)})
	}
	if err := st.EnqueueBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{Store: st}
	return g, &recorder{store: g, log: slog.New(slog.DiscardHandler), max: DefaultMaxRecordBatch}, u.ID
}

func deliveredAttempt(id string) store.Attempt {
	at := time.Unix(2, 0)
	return store.Attempt{MessageID: id, At: at,
		Updates: []store.RecipientUpdate{{Idx: 0, State: store.RcptDelivered, Result: "250 ok"}},
		Events:  []store.Event{{MessageID: id, Recipient: "r@far.test", Type: store.EventDelivered, Detail: "250 ok", At: at}}}
}

// waitWaiting waits until n recordings wait behind the commit going on.
func waitWaiting(r *recorder, n int) {
	for {
		r.mu.Lock()
		k := len(r.waiting)
		r.mu.Unlock()
		if k >= n {
			return
		}
		runtime.Gosched()
	}
}

// Attempts that end while a commit is going on are committed together,
// in the next transaction, and each caller returns with its attempt
// durable.
func TestRecorderGroupsConcurrentAttempts(t *testing.T) {
	g, r, _ := newRecorderEnv(t, 11)
	g.gate = make(chan struct{})
	ctx := context.Background()
	errs := make([]error, 11)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = r.record(ctx, deliveredAttempt("m00")) })
	// m00's commit is held at the gate; ten more arrive meanwhile.
	for {
		r.mu.Lock()
		leading := r.leading && len(r.waiting) == 0
		r.mu.Unlock()
		if leading {
			break
		}
		runtime.Gosched()
	}
	for i := 1; i <= 10; i++ {
		wg.Go(func() { errs[i] = r.record(ctx, deliveredAttempt(fmt.Sprintf("m%02d", i))) })
	}
	waitWaiting(r, 10)
	close(g.gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("m%02d: %v", i, err)
		}
		m, err := g.Message(ctx, fmt.Sprintf("m%02d", i))
		if err != nil || m.State != store.StateDone {
			t.Errorf("m%02d after record returned: %+v %v", i, m, err)
		}
	}
	if fmt.Sprint(g.batches) != "[1 10]" {
		t.Errorf("commits of %v attempts, want [1 10]", g.batches)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leading || len(r.waiting) != 0 {
		t.Errorf("recorder left leading=%v with %d waiting", r.leading, len(r.waiting))
	}
}

// A batch bounded by max leaves the rest to the next leader, one of the
// waiting callers.
func TestRecorderBatchBound(t *testing.T) {
	g, r, _ := newRecorderEnv(t, 8)
	r.max = 3
	g.gate = make(chan struct{}, 100)
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.record(ctx, deliveredAttempt("m00")); err != nil {
			t.Error(err)
		}
	})
	for {
		r.mu.Lock()
		leading := r.leading
		r.mu.Unlock()
		if leading {
			break
		}
		runtime.Gosched()
	}
	for i := 1; i < 8; i++ {
		wg.Go(func() {
			if err := r.record(ctx, deliveredAttempt(fmt.Sprintf("m%02d", i))); err != nil {
				t.Error(err)
			}
		})
	}
	waitWaiting(r, 7)
	for range 100 {
		g.gate <- struct{}{}
	}
	wg.Wait()
	if fmt.Sprint(g.batches) != "[1 3 3 1]" {
		t.Errorf("commits of %v attempts, want [1 3 3 1]", g.batches)
	}
}

// One attempt that cannot be recorded fails alone: the batch is recorded
// again one by one.
func TestRecorderFallsBackToSingleCommits(t *testing.T) {
	g, r, userID := newRecorderEnv(t, 4)
	g.gate = make(chan struct{}, 100)
	ctx := context.Background()
	// m03's DSN takes an id that exists (m00's): its attempt cannot commit.
	bad := deliveredAttempt("m03")
	bad.Notices = []store.NewMessage{{ID: "m00", UserID: userID, Recipients: []string{"a@acme.test"},
		Body: []byte("Subject: dsn\r\n\r\nx\r\n"), CreatedAt: time.Unix(2, 0)}}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	wg.Go(func() { errs[0] = r.record(ctx, deliveredAttempt("m00")) })
	for {
		r.mu.Lock()
		leading := r.leading
		r.mu.Unlock()
		if leading {
			break
		}
		runtime.Gosched()
	}
	wg.Go(func() { errs[1] = r.record(ctx, deliveredAttempt("m01")) })
	wg.Go(func() { errs[2] = r.record(ctx, deliveredAttempt("m02")) })
	wg.Go(func() { errs[3] = r.record(ctx, bad) })
	waitWaiting(r, 3)
	for range 100 {
		g.gate <- struct{}{}
	}
	wg.Wait()
	for i := range 3 {
		if errs[i] != nil {
			t.Errorf("m%02d: %v", i, errs[i])
		}
		if m, _ := g.Message(ctx, fmt.Sprintf("m%02d", i)); m.State != store.StateDone {
			t.Errorf("m%02d: %s", i, m.State)
		}
	}
	if !errors.Is(errs[3], store.ErrExists) {
		t.Errorf("bad attempt: %v", errs[3])
	}
	if m, _ := g.Message(ctx, "m03"); m.State != store.StateQueued {
		t.Errorf("m03: %s", m.State)
	}
	// [m00] alone, then the three failing together, then one by one.
	if fmt.Sprint(g.batches) != "[1 3 1 1 1]" {
		t.Errorf("commits of %v attempts, want [1 3 1 1 1]", g.batches)
	}
}

// The commit outlives a cancelled context: an attempt handed over at
// shutdown is recorded.
func TestRecorderCommitsAfterCancel(t *testing.T) {
	g, r, _ := newRecorderEnv(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.record(ctx, deliveredAttempt("m00")); err != nil {
		t.Fatal(err)
	}
	if m, _ := g.Message(context.Background(), "m00"); m.State != store.StateDone {
		t.Fatalf("m00: %s", m.State)
	}
}

// panicStore panics on its second commit of attempts.
type panicStore struct {
	*gatedStore
	calls int
}

func (p *panicStore) RecordAttempts(ctx context.Context, as []store.Attempt) error {
	if p.calls++; p.calls == 2 {
		panic("store broke")
	}
	return p.gatedStore.RecordAttempts(ctx, as)
}

func (p *panicStore) RecordAttempt(ctx context.Context, a store.Attempt) error {
	return p.RecordAttempts(ctx, []store.Attempt{a})
}

// A panic in the store while a batch commits fails that batch's attempts
// (the leader's goes up as the panic, which the worker counts; the
// others get an error) and leaves the recorder working.
func TestRecorderSurvivesAPanic(t *testing.T) {
	g, r, _ := newRecorderEnv(t, 4)
	g.gate = make(chan struct{})
	r.store = &panicStore{gatedStore: g}
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.record(ctx, deliveredAttempt("m00")); err != nil {
			t.Error(err)
		}
	})
	for { // m00 commits alone, held at the gate
		r.mu.Lock()
		leading := r.leading && len(r.waiting) == 0
		r.mu.Unlock()
		if leading {
			break
		}
		runtime.Gosched()
	}
	var mu sync.Mutex
	var panics []any
	var errs []error
	for _, id := range []string{"m01", "m02"} {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					panics = append(panics, p)
					mu.Unlock()
				}
			}()
			err := r.record(ctx, deliveredAttempt(id))
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	waitWaiting(r, 2)
	close(g.gate) // m00 commits; m01 and m02, together, panic
	wg.Wait()
	if len(panics) != 1 || panics[0] != "store broke" || len(errs) != 1 || errs[0] == nil {
		t.Fatalf("the panicking batch: panics %v, errors %v; want one of each", panics, errs)
	}
	if err := r.record(ctx, deliveredAttempt("m03")); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]store.MessageState{"m00": store.StateDone, "m01": store.StateQueued,
		"m02": store.StateQueued, "m03": store.StateDone} {
		if m, _ := g.Message(ctx, id); m.State != want {
			t.Errorf("%s: %s, want %s", id, m.State, want)
		}
	}
}
