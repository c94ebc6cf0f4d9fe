package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

// gatedStore is the real SQLite store with EnqueueBatch watched: it
// records batch sizes and holds the first commit until released, so the
// test can pile requests up behind it deterministically.
type gatedStore struct {
	store.Store
	mu      sync.Mutex
	batches []int
	first   chan struct{}
	entered chan struct{}
}

func (g *gatedStore) EnqueueBatch(ctx context.Context, msgs []store.NewMessage) error {
	g.mu.Lock()
	n := len(g.batches)
	g.batches = append(g.batches, len(msgs))
	g.mu.Unlock()
	if n == 0 {
		close(g.entered)
		<-g.first
	}
	return g.Store.EnqueueBatch(ctx, msgs)
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/q.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(context.Background(), "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	_ = u
	return st
}

func msg(i int) store.NewMessage {
	return store.NewMessage{
		ID:         fmt.Sprintf("m%04d", i),
		UserID:     1,
		KeyID:      "k",
		From:       "a@example.test",
		Recipients: []string{"b@example.test"},
		Body:       []byte(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)),
		CreatedAt:  time.Unix(1700000000, 0).UTC(),
	}
}

func TestGroupCommit(t *testing.T) {
	g := &gatedStore{Store: openStore(t), first: make(chan struct{}), entered: make(chan struct{})}
	q := queue.New(g, queue.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()

	errs := make(chan error, 11)
	go func() { errs <- q.Enqueue(context.Background(), msg(0)) }()
	<-g.entered // the first commit is in progress and held
	for i := 1; i <= 10; i++ {
		go func() { errs <- q.Enqueue(context.Background(), msg(i)) }()
	}
	// Let the ten line up behind the committer; then release the first.
	time.Sleep(100 * time.Millisecond)
	close(g.first)
	for i := 0; i < 11; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	// One of the ten was taken as the next batch's head; the rest joined it.
	if len(g.batches) != 2 || g.batches[0] != 1 || g.batches[1] != 10 {
		t.Fatalf("batches %v, want [1 10]", g.batches)
	}
	msgs, err := g.Messages(context.Background())
	if err != nil || len(msgs) != 11 {
		t.Fatalf("%d messages, err %v", len(msgs), err)
	}
	body, err := g.MessageBody(context.Background(), "m0007")
	if err != nil || !bytes.Equal(body, msg(7).Body) {
		t.Fatalf("body %q err %v", body, err)
	}
	if err := q.Enqueue(context.Background(), msg(99)); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("enqueue after stop: %v", err)
	}
}

// A failing message does not fail the others of its batch.
func TestBadMessageIsolated(t *testing.T) {
	g := &gatedStore{Store: openStore(t), first: make(chan struct{}), entered: make(chan struct{})}
	q := queue.New(g, queue.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	errs := make(chan error, 4)
	go func() { errs <- q.Enqueue(context.Background(), msg(0)) }()
	<-g.entered
	// Two messages with the same id: the second must fail alone.
	go func() { errs <- q.Enqueue(context.Background(), msg(1)) }()
	go func() { errs <- q.Enqueue(context.Background(), msg(1)) }()
	go func() { errs <- q.Enqueue(context.Background(), msg(2)) }()
	time.Sleep(100 * time.Millisecond)
	close(g.first)
	var failed int
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			if !errors.Is(err, store.ErrExists) {
				t.Errorf("unexpected error %v", err)
			}
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d failed, want 1", failed)
	}
	msgs, _ := g.Messages(context.Background())
	if len(msgs) != 3 {
		t.Fatalf("%d stored, want 3", len(msgs))
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	var ids []string
	base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 50; i++ {
		id, err := queue.NewID(base.Add(time.Duration(i)*time.Millisecond), bytes.NewReader(bytes.Repeat([]byte{byte(255 - i)}, 10)))
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 26 {
			t.Fatalf("id %q has length %d", id, len(id))
		}
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatalf("ids not in time order: %v", ids)
	}
	if _, err := queue.NewID(base, bytes.NewReader(nil)); err == nil {
		t.Fatal("short random source accepted")
	}
}

func BenchmarkEnqueueParallel(b *testing.B) {
	st, err := sqlite.Open(context.Background(), b.TempDir()+"/q.db")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	st.CreateUser(context.Background(), "acme", "")
	q := queue.New(st, queue.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	body := bytes.Repeat([]byte("x"), 4096)
	var n int64
	var mu sync.Mutex
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			id := fmt.Sprintf("b%012d", n)
			mu.Unlock()
			m := store.NewMessage{ID: id, UserID: 1, From: "a@x.test", Recipients: []string{"b@x.test"}, Body: body, CreatedAt: time.Now()}
			if err := q.Enqueue(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
