package webhook

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/store"
)

// Defaults of Config.
const (
	DefaultConcurrency = 4
	DefaultBatchSize   = 100
	DefaultRetryFor    = 72 * time.Hour
	DefaultPoll        = time.Second
	DefaultLease       = time.Minute
	DefaultTimeout     = 30 * time.Second

	// MinRetryFor is the shortest RetryFor: events are retried for at
	// least a day (DESIGN.md, "Events").
	MinRetryFor = 24 * time.Hour
	// MaxBatchSize bounds BatchSize, SendGrid's own largest batches.
	MaxBatchSize = 1000
)

// Store is what the dispatcher needs from the store: the webhooks, their
// outbox and the messages' records.
type Store interface {
	Webhook(ctx context.Context, id string) (store.Webhook, error)
	ClaimOutbox(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.OutboxItem, error)
	OutboxDelivered(ctx context.Context, webhookID string, ids []int64, at time.Time) error
	OutboxFailed(ctx context.Context, webhookID string, ids []int64, next time.Time, errText string, at time.Time) error
	OutboxDiscard(ctx context.Context, webhookID string, ids []int64, errText string, at time.Time) error
	Message(ctx context.Context, id string) (store.Message, error)
}

var _ Store = store.Store(nil)

// Resolver resolves a webhook's host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Dispatcher. Store is required; every other field
// has a default.
type Config struct {
	Store Store
	// Now, Rand and Log default to time.Now, crypto/rand and a logger
	// that discards.
	Now  func() time.Time
	Rand io.Reader
	Log  *slog.Logger
	// Resolver resolves webhook hosts; default net.DefaultResolver.
	Resolver Resolver
	// Metrics counts outbox items by result and failed POSTs (nil:
	// nothing is counted; app always passes them).
	Metrics *observe.Metrics

	// AllowPrivateNetworks lets webhooks POST to loopback, private,
	// link-local and the other addresses netguard.Private names
	// (webhooks.allow_private_networks). Off, such an address is refused
	// before anything connects.
	AllowPrivateNetworks bool
	// Concurrency bounds the webhooks POSTed to at once; default 4.
	Concurrency int
	// BatchSize bounds the events of one POST, 1 to MaxBatchSize;
	// default 100. A stored event that stands for more events (a delay
	// of a message to many recipients) goes whole in a POST of its own.
	BatchSize int
	// RetryFor is how long after it was recorded an event is retried
	// before it is discarded; at least MinRetryFor, default 72h.
	RetryFor time.Duration
	// Poll is how often the outbox is looked at without a Wake;
	// default 1s.
	Poll time.Duration
	// Lease is how long claimed items stay with this node; it must be
	// longer than Timeout. Default 1m.
	Lease time.Duration
	// Timeout bounds one POST, from connecting to the end of the
	// response; default 30s.
	Timeout time.Duration
}

// Dispatcher POSTs the outbox's events to their webhooks. Run it once;
// SendTest may be called at any time, Run or not.
type Dispatcher struct {
	cfg    Config
	client *http.Client
	wake   chan struct{}
	panics atomic.Int64
}

// New checks cfg, fills in its defaults and returns a Dispatcher.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhook: no store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	var errs []error
	if cfg.BatchSize > MaxBatchSize {
		errs = append(errs, fmt.Errorf("webhook: batch size %d: at most %d", cfg.BatchSize, MaxBatchSize))
	}
	if cfg.RetryFor < MinRetryFor {
		errs = append(errs, fmt.Errorf("webhook: retry for %s: at least %s", cfg.RetryFor, MinRetryFor))
	}
	if cfg.Lease <= cfg.Timeout {
		errs = append(errs, fmt.Errorf("webhook: lease %s: must be longer than the timeout, %s", cfg.Lease, cfg.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d := &Dispatcher{cfg: cfg, wake: make(chan struct{}, 1)}
	d.client = d.newClient()
	return d, nil
}

// Wake makes Run look at the outbox now rather than at its next poll.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Panics returns how many panics Run has recovered from. Each was
// logged; the items it held stay leased and are retried after the lease.
func (d *Dispatcher) Panics() int64 { return d.panics.Load() }

// panicked counts and logs a recovered panic; attrs say where.
func (d *Dispatcher) panicked(p any, attrs ...any) {
	d.panics.Add(1)
	d.cfg.Log.Error("webhook panic", append(attrs, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))...)
}

// Run dispatches until ctx ends: on Wake, every Poll, and again at once
// after a round that claimed as much as it could. It returns once every
// goroutine it started has ended. POSTs in progress when ctx ends are
// cut; their items stay leased and are due again when the lease ends.
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.client.CloseIdleConnections()
	t := time.NewTimer(d.cfg.Poll)
	defer t.Stop()
	for {
		full := d.round(ctx)
		if ctx.Err() != nil {
			return
		}
		if full {
			continue
		}
		t.Reset(d.cfg.Poll)
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
	}
}

// round claims due items and dispatches them, a goroutine per webhook,
// at most Concurrency at once, and waits for them. It reports whether the
// claim was full, so that more may be due.
func (d *Dispatcher) round(ctx context.Context) (full bool) {
	defer func() {
		if p := recover(); p != nil {
			d.panicked(p, "where", "claim")
			full = false
		}
	}()
	claimed := d.cfg.Now()
	limit := d.cfg.Concurrency * d.cfg.BatchSize
	items, err := d.cfg.Store.ClaimOutbox(ctx, claimed, limit, d.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Log.Error("webhook claim", "err", err)
		}
		return false
	}
	if len(items) == 0 {
		return false
	}
	msgs := newMessages(d.cfg.Store)
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, g := range groupByWebhook(items) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			defer func() {
				if p := recover(); p != nil {
					d.panicked(p, "where", "dispatch", "webhook", g.id)
				}
			}()
			d.dispatch(ctx, claimed, g.id, g.items, msgs)
		})
	}
	wg.Wait()
	return len(items) == limit
}

// group is one webhook's claimed items, oldest first.
type group struct {
	id    string
	items []store.OutboxItem
}

// groupByWebhook groups items by webhook, keeping the claim's order
// (oldest first) within and between groups.
func groupByWebhook(items []store.OutboxItem) []group {
	var gs []group
	at := map[string]int{}
	for _, it := range items {
		i, ok := at[it.WebhookID]
		if !ok {
			i = len(gs)
			at[it.WebhookID] = i
			gs = append(gs, group{id: it.WebhookID})
		}
		gs[i].items = append(gs[i].items, it)
	}
	return gs
}

// messages reads each message's record once per round, for all the
// round's goroutines.
type messages struct {
	st Store
	mu sync.Mutex
	m  map[string]*messageEntry
}

type messageEntry struct {
	once sync.Once
	msg  store.Message
	err  error
}

func newMessages(st Store) *messages {
	return &messages{st: st, m: map[string]*messageEntry{}}
}

// get returns message id's record; one that is gone (store.ErrNotFound)
// is a record with the id alone, so its events render without Meta.
func (ms *messages) get(ctx context.Context, id string) (store.Message, error) {
	ms.mu.Lock()
	e := ms.m[id]
	if e == nil {
		e = &messageEntry{}
		ms.m[id] = e
	}
	ms.mu.Unlock()
	e.once.Do(func() {
		// Should Message panic, the entry keeps this error rather
		// than a zero record.
		e.err = fmt.Errorf("webhook: message %s: read did not finish", id)
		e.msg, e.err = ms.st.Message(ctx, id)
		if errors.Is(e.err, store.ErrNotFound) {
			e.msg, e.err = store.Message{ID: id}, nil
		}
	})
	return e.msg, e.err
}
