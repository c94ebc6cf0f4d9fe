package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/postern/postern/internal/store"
)

// DefaultMaxRecordBatch bounds how many attempts share one transaction.
const DefaultMaxRecordBatch = 128

// attemptStore is what the recorder needs of the store
// (store.DeliveryStore).
type attemptStore interface {
	RecordAttempt(ctx context.Context, a store.Attempt) error
	RecordAttempts(ctx context.Context, as []store.Attempt) error
}

// recorder commits the attempts that end at about the same time together,
// in one transaction and one sync (group commit, as internal/queue does for
// acceptance), instead of a transaction each.
//
// It needs no goroutine of its own: the first caller to find no commit
// going on leads, commits what has gathered (its own attempt among it),
// hands the lead to the first of those that arrived meanwhile, and
// returns. A caller that arrives during a commit waits, and is either
// answered by a leader or made one. Every caller returns only once its own
// attempt is committed or has failed: a message leaves flight only after
// its outcome is durable, as before (the next attempt time saved at the
// claim still covers a crash before that).
//
// A batch that fails is committed again one attempt at a time, so that one
// bad attempt fails only itself.
type recorder struct {
	store attemptStore
	log   *slog.Logger
	max   int

	mu      sync.Mutex
	leading bool
	waiting []*recording
}

// recording is one attempt handed to the recorder.
type recording struct {
	a    store.Attempt
	done chan bool // true: lead; false: err is set
	err  error
}

// record commits a and returns the outcome. The commit runs without ctx's
// cancellation: an attempt handed over at shutdown is still recorded, so a
// delivery that happened is not made again.
func (r *recorder) record(ctx context.Context, a store.Attempt) error {
	me := &recording{a: a, done: make(chan bool, 1)}
	r.mu.Lock()
	r.waiting = append(r.waiting, me)
	if r.leading {
		r.mu.Unlock()
		if lead := <-me.done; !lead {
			return me.err
		}
		r.mu.Lock() // made the leader: r.leading stayed true for us
	}
	r.leading = true
	n := min(len(r.waiting), r.max)
	batch := make([]*recording, n)
	copy(batch, r.waiting)
	r.waiting = append(r.waiting[:0], r.waiting[n:]...)
	r.mu.Unlock()

	defer r.handOff() // a panic in the store included: the others go on
	r.commit(context.WithoutCancel(ctx), batch)
	return me.err
}

// handOff ends a leader's turn: the first recording that arrived during
// it leads next, or nobody leads.
func (r *recorder) handOff() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.waiting) > 0 {
		r.waiting[0].done <- true // the next leader; leading stays true
	} else {
		r.leading = false
	}
}

// commit records batch, setting each one's err, and answers each (the
// leader's own too, which reads its err on return instead).
//
// A panic in the store fails every attempt of the batch (each one's
// message then waits for its saved next attempt) and goes on up the
// leader's stack, where the worker counts it.
func (r *recorder) commit(ctx context.Context, batch []*recording) {
	answered := false
	defer func() {
		if answered {
			return
		}
		p := recover()
		for _, b := range batch {
			b.err = fmt.Errorf("delivery: recording the attempt panicked: %v", p)
			b.done <- false
		}
		if p != nil {
			panic(p)
		}
	}()
	as := make([]store.Attempt, len(batch))
	for i, b := range batch {
		as[i] = b.a
	}
	var err error
	if len(batch) == 1 {
		err = r.store.RecordAttempt(ctx, as[0])
	} else {
		err = r.store.RecordAttempts(ctx, as)
	}
	if err != nil && len(batch) > 1 {
		r.log.Warn("delivery results: group commit failed, recording singly", "batch", len(batch), "err", err)
		for _, b := range batch {
			b.err = r.store.RecordAttempt(ctx, b.a)
		}
	} else {
		for _, b := range batch {
			b.err = err
		}
	}
	for _, b := range batch {
		// Room for it always: a recording gets one answer, or the lead
		// and then this (the leader's own, which nobody reads).
		b.done <- false
	}
	answered = true
}
