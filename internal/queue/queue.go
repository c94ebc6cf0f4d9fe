package queue

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/postern/postern/internal/store"
)

// ErrClosed is returned by Enqueue once the committer has stopped.
var ErrClosed = errors.New("queue: closed")

// DefaultMaxBatch bounds how many messages share one transaction.
const DefaultMaxBatch = 128

// batchStore is what the queue needs of the store: the durable commit of
// a batch (store.QueueStore's EnqueueBatch).
type batchStore interface {
	EnqueueBatch(ctx context.Context, msgs []store.NewMessage) error
}

// Queue batches Enqueue calls into group commits.
type Queue struct {
	store    batchStore
	log      *slog.Logger
	maxBatch int
	notify   func()
	reqs     chan *request
	done     chan struct{}
}

type request struct {
	msg    store.NewMessage
	result chan error
}

// Options configure a Queue.
type Options struct {
	MaxBatch int // default DefaultMaxBatch
	Logger   *slog.Logger
	// Committed, if set, is called after each successful commit (the
	// delivery worker's wake-up).
	Committed func()
}

// New returns a queue over st. Run must be started for Enqueue to proceed.
func New(st batchStore, opts Options) *Queue {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		store:    st,
		log:      opts.Logger,
		maxBatch: opts.MaxBatch,
		notify:   opts.Committed,
		reqs:     make(chan *request),
		done:     make(chan struct{}),
	}
}

// Enqueue stores m durably. It returns nil only after the commit is synced.
func (q *Queue) Enqueue(ctx context.Context, m store.NewMessage) error {
	r := &request{msg: m, result: make(chan error, 1)}
	select {
	case q.reqs <- r:
	case <-q.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over, the outcome must be waited for: the message may be
	// committed even if ctx ends, and the caller must not report otherwise.
	return <-r.result
}

// Run commits batches until ctx is done. Requests already handed over are
// always committed before Run returns; later Enqueue calls get ErrClosed.
func (q *Queue) Run(ctx context.Context) {
	defer close(q.done)
	batch := make([]*request, 0, q.maxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-q.reqs:
			batch = append(batch[:0], r)
		}
		// Take whatever else is waiting, without waiting for more: latency
		// stays one commit, and under load the batch grows by itself.
	fill:
		for len(batch) < q.maxBatch {
			select {
			case r := <-q.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		q.commit(batch)
	}
}

func (q *Queue) commit(batch []*request) {
	msgs := make([]store.NewMessage, len(batch))
	for i, r := range batch {
		msgs[i] = r.msg
	}
	// The commit must not be cut short by shutdown: a context of its own.
	err := q.store.EnqueueBatch(context.Background(), msgs)
	if q.notify != nil {
		defer q.notify()
	}
	if err == nil || len(batch) == 1 {
		for _, r := range batch {
			r.result <- err
		}
		return
	}
	// One bad message must not fail its neighbours: commit one by one.
	q.log.Warn("group commit failed, committing singly", "batch", len(batch), "err", err)
	for i, r := range batch {
		r.result <- q.store.EnqueueBatch(context.Background(), msgs[i:i+1])
	}
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewID returns a queue id: 48 bits of milliseconds then 80 random bits,
// in lowercase base32hex (26 characters), so ids sort by creation time.
func NewID(now time.Time, rand io.Reader) (string, error) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := io.ReadFull(rand, b[6:]); err != nil {
		return "", fmt.Errorf("queue: id: %w", err)
	}
	return idEncoding.EncodeToString(b[:]), nil
}

// Direct stores each message in a transaction of its own, without the
// committer: for one-off writers such as the CLI, where nothing runs Run.
type Direct struct{ Store batchStore }

// Enqueue stores m durably; it returns nil only after the commit is synced.
func (d Direct) Enqueue(ctx context.Context, m store.NewMessage) error {
	return d.Store.EnqueueBatch(ctx, []store.NewMessage{m})
}
