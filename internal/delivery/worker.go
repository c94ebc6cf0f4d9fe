package delivery

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
)

// WorkerConfig configures the delivery worker.
type WorkerConfig struct {
	Store    workerStore
	Resolver dnsres.Resolver
	Hostname string // EHLO name, Reporting-MTA, DSN From
	Port     int    // destination port (25)
	TLS      *tls.Config
	Timeouts Timeouts

	// Concurrency bounds the connections in all, and also the recipient
	// domains worked on at once (routes); default 20. A route cannot get
	// on without a connection, so more routes than connections would only
	// hold goroutines and DNS answers going stale while they wait, and
	// fewer would leave connections idle behind routes that need one.
	Concurrency    int
	PerDestination int // connections per recipient domain; default 3
	// ConnLinger is how long a connection with nothing more to send stays
	// open for more mail to its destination; default 1s, negative: none.
	// (Postfix caches a connection for 2s: smtp_connection_cache_time_limit.)
	ConnLinger time.Duration
	RetryFirst time.Duration
	// ClaimLease is the least time a claimed message stays with this
	// node: the next attempt saved at the claim is at least this far
	// ahead, and the attempt's result then saves the real retry time
	// (its end plus the backoff). It is what another node waits before
	// taking over the message of a node that died; an attempt that runs
	// longer than it may be taken over while it runs, and delivered twice.
	// Zero: the backoff alone (one node, which never claims a message it
	// has in flight).
	ClaimLease  time.Duration
	GiveUpAfter time.Duration
	DelayNotice time.Duration
	Poll        time.Duration // how often to look for due messages; default 1s
	// ClaimInterval is the least time between two claims that did not
	// fill up: commits that wake the worker a moment apart are claimed
	// together, in one write transaction, rather than one claim (and one
	// fsync) each. Default 50ms; negative: none.
	ClaimInterval time.Duration
	Batch         int // messages claimed at once; default 100
	// MaxInFlight bounds the messages this node has claimed and not yet
	// recorded: the bodies it holds in memory and the leases it has
	// taken from the queue. Run claims only into the free room, at most
	// Batch at a time; default max(Batch, 4*Concurrency).
	MaxInFlight int
	// MaxLookups bounds the route lookups (a domain's MX, then its hosts'
	// addresses) running at once, over all domains; default 16.
	MaxLookups int

	// AllowPrivateNetworks lets delivery connect to loopback, private,
	// link-local and the other addresses netguard.Private names. Off (the
	// zero value), a destination that resolves only to such addresses
	// fails permanently (private.go).
	AllowPrivateNetworks bool

	// Abuse, when set, suspends users whose bounce rate crosses its
	// threshold.
	Abuse *abuse.Watch
	// ReturnPath, when set, gives a message per-recipient envelope
	// senders (internal/bounce: VERP on the domain's return path).
	ReturnPath ReturnPath
	// Notices checks and stamps the DSNs and delay notices the worker
	// writes, Postern's own mail (internal/submit.Notices); nil: one for
	// Hostname.
	Notices Notices

	// Metrics counts attempts by result and times them; MailLog gets a
	// line per recipient and attempt. Nil: nothing is counted or logged
	// there (app always passes both).
	Metrics *observe.Metrics
	MailLog *observe.MailLog

	Now  func() time.Time
	Rand io.Reader
	Log  *slog.Logger
}

// workerStore is what the worker needs of the store: claiming due
// messages, reading their bodies and their owners' suppressions, and
// recording the outcome (store.DeliveryStore, store.QueueStore).
type workerStore interface {
	ClaimDue(ctx context.Context, now time.Time, limit int, next func(attempt int) time.Time) ([]store.Claim, error)
	MessageBody(ctx context.Context, id string) ([]byte, error)
	Suppressed(ctx context.Context, userID int64, addresses []string) (map[string]store.Suppression, error)
	RecordAttempt(ctx context.Context, a store.Attempt) error
	RecordAttempts(ctx context.Context, as []store.Attempt) error
}

// Notices prepares a message of Postern's own for the queue without
// storing it, so that a DSN commits with the attempt that caused it.
type Notices interface {
	Prepare(n submit.Notice) (store.NewMessage, error)
}

// ReturnPath chooses envelope senders: for a claimed message, the sender
// of each recipient by its index, or nil to keep the message's own.
type ReturnPath interface {
	Sender(ctx context.Context, c *store.Claim, attempt time.Time) (func(idx int) string, error)
}

// Worker claims due messages and delivers them.
type Worker struct {
	cfg   WorkerConfig
	wake  chan struct{}
	freed chan struct{} // a message in flight was recorded: room for another
	sem   chan struct{} // a slot per connection, Concurrency of them

	// A slot per route (Concurrency) and per route lookup (MaxLookups),
	// both taken before the route's goroutine starts, so a queue of mail
	// to many domains starts no more goroutines and DNS queries than
	// these allow.
	routes  chan struct{}
	lookups chan struct{}

	// connWaiting counts the connection loops waiting for a slot of sem;
	// while there are some, a destination with more than one connection
	// gives its extra ones up between messages (sched.go).
	connWaiting atomic.Int32
	panics      atomic.Int64

	rec *recorder // attempts' outcomes, group-committed (record.go)

	mu       sync.Mutex
	inFlight map[string]struct{} // ids of the messages claimed and not yet recorded
}

// NewWorker returns a worker; Run starts it.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 20
	}
	if cfg.PerDestination <= 0 {
		cfg.PerDestination = 3
	}
	if cfg.ConnLinger == 0 {
		cfg.ConnLinger = time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.ClaimInterval == 0 {
		cfg.ClaimInterval = 50 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = max(cfg.Batch, 4*cfg.Concurrency)
	}
	if cfg.MaxLookups <= 0 {
		cfg.MaxLookups = 16
	}
	if cfg.Port == 0 {
		cfg.Port = 25
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
	if cfg.Notices == nil {
		cfg.Notices = submit.Notices{Hostname: cfg.Hostname, Now: cfg.Now, Rand: cfg.Rand}
	}
	return &Worker{
		cfg:      cfg,
		wake:     make(chan struct{}, 1),
		freed:    make(chan struct{}, 1),
		sem:      make(chan struct{}, cfg.Concurrency),
		routes:   make(chan struct{}, cfg.Concurrency),
		lookups:  make(chan struct{}, cfg.MaxLookups),
		inFlight: map[string]struct{}{},
		rec:      &recorder{store: cfg.Store, log: cfg.Log, max: DefaultMaxRecordBatch},
	}
}

// Wake makes the worker look for due messages now (after a commit).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Panics returns how many panics the worker has recovered from. Each was
// logged; the mail it touched was left to be retried.
func (w *Worker) Panics() int64 { return w.panics.Load() }

// panicked counts and logs a recovered panic; attrs say where (msg_id
// when known).
func (w *Worker) panicked(p any, attrs ...any) {
	w.panics.Add(1)
	w.cfg.Log.Error("delivery panic", append(attrs, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))...)
}

// Run delivers until ctx ends, without batches: it claims due messages
// whenever there is room (MaxInFlight), on Wake, on the Poll ticker and
// when a message in flight is recorded, and hands their recipients to
// the scheduler (sched.go), where each destination goes at its own pace.
// It returns once every goroutine it started has ended. Deliveries in
// progress when ctx ends are cut; their recipients stay pending and are
// retried at the next attempt time saved when they were claimed.
func (w *Worker) Run(ctx context.Context) {
	s := w.newSched(ctx)
	defer s.close()
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		var freed <-chan struct{}
		if room := w.cfg.MaxInFlight - w.flying(); room > 0 {
			limit := min(room, w.cfg.Batch)
			n, err := w.claim(ctx, s, limit, nil)
			if err != nil && ctx.Err() == nil {
				w.cfg.Log.Error("delivery claim", "err", err)
			}
			if err == nil && n == limit {
				continue // there may be more due at once
			}
		} else {
			freed = w.freed // full: claim again when a message is recorded
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		case <-freed:
		}
		// Woken by a commit: let the commits of the next moment join.
		if w.cfg.ClaimInterval > 0 {
			pause := time.NewTimer(w.cfg.ClaimInterval)
			select {
			case <-ctx.Done():
				pause.Stop()
				return
			case <-pause.C:
			}
		}
	}
}

// RunOnce claims one batch of due messages and attempts each, and returns
// when all of them are recorded. It returns how many were claimed. It has
// a scheduler of its own: the global limits are shared with a Run of the
// same worker, PerDestination is not.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	s := w.newSched(ctx)
	var batch sync.WaitGroup
	n, err := w.claim(ctx, s, w.cfg.Batch, &batch)
	batch.Wait()
	s.close()
	return n, err
}

// claim claims up to limit due messages and hands them to s; batch, when
// not nil, counts the ones taken until they are recorded. It returns how
// many the store gave, including any skipped because they were still in
// flight here.
func (w *Worker) claim(ctx context.Context, s *sched, limit int, batch *sync.WaitGroup) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			w.panicked(p, "where", "claim")
			err = fmt.Errorf("delivery: panic: %v", p)
		}
	}()
	now := w.cfg.Now()
	claims, err := w.cfg.Store.ClaimDue(ctx, now, limit, func(attempt int) time.Time {
		return now.Add(max(queue.Backoff(attempt, w.cfg.RetryFirst, w.jitter()), w.cfg.ClaimLease))
	})
	if err != nil || len(claims) == 0 {
		return 0, err
	}
	byDomain := map[string][]*job{}
	var order []string
	for i := range claims {
		f := w.take(&claims[i], batch)
		if f == nil {
			continue
		}
		if ctx.Err() != nil {
			w.land(f) // shutting down: the saved next attempt retries it
			continue
		}
		w.plan(ctx, f, byDomain, &order)
	}
	s.add(byDomain, order)
	return len(claims), nil
}

func (w *Worker) jitter() float64 {
	var b [8]byte
	if _, err := io.ReadFull(w.cfg.Rand, b[:]); err != nil {
		return 0
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}

// outcome is what happened to one recipient in this attempt.
type outcome struct {
	res       Result
	remoteMTA string
	tls       TLSInfo
	dropped   string // suppression reason, when not sent
	done      bool
}

// flight is a claimed message on this node, from its claim until its
// attempt is recorded.
type flight struct {
	claim *store.Claim
	out   []outcome    // by index into claim.Recipients
	left  atomic.Int32 // the message's jobs not yet done
	batch *sync.WaitGroup
}

// job is one message's recipients in one domain (or, with per-recipient
// envelope senders, one recipient).
type job struct {
	f     *flight
	from  string // the envelope sender
	body  []byte
	rcpts []int // indexes into f.claim.Recipients
}

// take puts c in flight, or returns nil when it is in flight already: its
// saved next attempt came due while a delivery of it is still going on
// here. That claim moved the next attempt on, which is all it does; the
// delivery going on records the outcome.
func (w *Worker) take(c *store.Claim, batch *sync.WaitGroup) *flight {
	w.mu.Lock()
	_, flying := w.inFlight[c.ID]
	if !flying {
		w.inFlight[c.ID] = struct{}{}
	}
	w.mu.Unlock()
	if flying {
		w.cfg.Log.Debug("claimed while in flight here; not attempted again now", "msg_id", c.ID)
		return nil
	}
	if batch != nil {
		batch.Add(1)
	}
	return &flight{claim: c, out: make([]outcome, len(c.Recipients)), batch: batch}
}

// land takes f out of flight, which frees room for another claim.
func (w *Worker) land(f *flight) {
	w.mu.Lock()
	delete(w.inFlight, f.claim.ID)
	w.mu.Unlock()
	if f.batch != nil {
		f.batch.Done()
	}
	select {
	case w.freed <- struct{}{}:
	default:
	}
}

// flying returns how many messages are in flight.
func (w *Worker) flying() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.inFlight)
}

// done records that jb finished; the last job of a message commits the
// message's attempt at once, so little is delivered-but-unrecorded when a
// crash comes (that window is what can be delivered twice).
func (w *Worker) done(ctx context.Context, jb *job) {
	if jb.f.left.Add(-1) == 0 {
		w.settle(ctx, jb.f)
	}
}

// settle records f's attempt and takes it out of flight. A panic while
// recording is counted and leaves the message to its saved next attempt.
func (w *Worker) settle(ctx context.Context, f *flight) {
	defer w.land(f)
	defer func() {
		if p := recover(); p != nil {
			w.panicked(p, "msg_id", f.claim.ID)
		}
	}()
	w.finish(ctx, f.claim, f.out)
}

// plan loads f's body, drops its suppressed recipients and adds its jobs,
// one per domain (or per recipient, with per-recipient senders), to
// byDomain, or settles f when nothing is left to send. The jobs are added
// only once all are made, so a panic here (a ReturnPath, the store) fails
// the whole message temporarily, never half of it.
func (w *Worker) plan(ctx context.Context, f *flight, byDomain map[string][]*job, order *[]string) {
	c := f.claim
	defer func() {
		if p := recover(); p != nil {
			w.panicked(p, "msg_id", c.ID)
			for j := range f.out {
				f.out[j] = outcome{res: Temp("internal error"), done: true}
			}
			w.settle(ctx, f)
		}
	}()
	body, err := w.cfg.Store.MessageBody(ctx, c.ID)
	if err != nil {
		if ctx.Err() != nil {
			w.land(f) // shutting down: the saved next attempt retries it
			return
		}
		w.cfg.Log.Error("load message", "msg_id", c.ID, "err", err)
		for j := range f.out {
			f.out[j] = outcome{res: Temp("message could not be read from the queue"), done: true}
		}
		w.settle(ctx, f)
		return
	}
	addrs := make([]string, len(c.Recipients))
	for j, r := range c.Recipients {
		addrs[j] = r.Address
	}
	supp, err := w.cfg.Store.Suppressed(ctx, c.UserID, addrs)
	if err != nil && ctx.Err() == nil {
		w.cfg.Log.Error("suppression lookup", "msg_id", c.ID, "err", err)
	}
	var sender func(int) string
	if w.cfg.ReturnPath != nil {
		if sender, err = w.cfg.ReturnPath.Sender(ctx, c, w.cfg.Now()); err != nil && ctx.Err() == nil {
			// Delivered with its own sender: bounces then come to it
			// instead of the return path, nothing is lost.
			w.cfg.Log.Error("return path", "msg_id", c.ID, "err", err)
		}
	}
	perKey := map[string]*job{}
	var domains []string
	mine := map[string][]*job{}
	for j, r := range c.Recipients {
		if s, ok := supp[r.Address]; ok {
			f.out[j] = outcome{dropped: "suppressed: " + s.Reason, done: true}
			continue
		}
		d := domainOf(r.Address)
		key, from := d, c.From
		if sender != nil {
			key, from = d+"\x00"+strconv.Itoa(r.Idx), sender(r.Idx)
		}
		jb := perKey[key]
		if jb == nil {
			jb = &job{f: f, from: from, body: body}
			perKey[key] = jb
			if mine[d] == nil {
				domains = append(domains, d)
			}
			mine[d] = append(mine[d], jb)
		}
		jb.rcpts = append(jb.rcpts, j)
	}
	if len(perKey) == 0 {
		w.settle(ctx, f)
		return
	}
	f.left.Store(int32(len(perKey)))
	for _, d := range domains {
		if byDomain[d] == nil {
			*order = append(*order, d)
		}
		byDomain[d] = append(byDomain[d], mine[d]...)
	}
}

func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// finish turns an attempt's outcomes into recipient states, events,
// suppressions and DSNs, committed together.
func (w *Worker) finish(ctx context.Context, c *store.Claim, outs []outcome) {
	now := w.cfg.Now()
	a, pending, bounced := w.attemptOf(ctx, c, outs, now)
	if err := w.rec.record(ctx, a); err != nil {
		// The next attempt time is already saved: the message is retried.
		if ctx.Err() == nil {
			w.cfg.Log.Error("record attempt", "msg_id", c.ID, "err", err)
		}
		return
	}
	w.cfg.Log.Info("attempt", "msg_id", c.ID, "attempt", c.Attempts, "pending", pending, "bounced", bounced)
	if bounced > 0 && c.From != "" {
		reason, err := w.cfg.Abuse.Bounced(ctx, c.UserName, now)
		if err != nil {
			w.cfg.Log.Error("bounce rate check", "user", c.UserName, "err", err)
		} else if reason != "" {
			w.cfg.Log.Warn("user suspended", "user", c.UserName, "reason", reason)
		}
	}
}

// attemptOf builds the attempt to record from the outcomes. A panic while
// building it (a DSN, Notices) is counted, and the attempt recorded is
// then unsure's.
func (w *Worker) attemptOf(ctx context.Context, c *store.Claim, outs []outcome, now time.Time) (a store.Attempt, pending, bounces int) {
	defer func() {
		if p := recover(); p != nil {
			w.panicked(p, "msg_id", c.ID)
			a, pending, bounces = w.unsure(c, outs, now)
		}
	}()
	a = store.Attempt{MessageID: c.ID, At: now, NextAttempt: w.retryAt(c, now)}
	var bounced, delayed []dsn.Recipient
	expired := now.Sub(c.CreatedAt) >= w.cfg.GiveUpAfter
	for j, r := range c.Recipients {
		o := outs[j]
		ev := store.Event{MessageID: c.ID, Recipient: r.Address, At: now}
		up := store.RecipientUpdate{Idx: r.Idx}
		switch {
		case !o.done:
			o.res = Temp("not attempted")
			fallthrough
		case o.dropped == "" && !o.res.OK() && !o.res.Permanent && !expired:
			up.State, up.Result = store.RcptPending, o.res.String()
			ev.Type, ev.Detail = store.EventDeferred, o.res.String()+remote(o)
			pending++
			delayed = append(delayed, w.dsnRecipient(r.Address, dsn.Delayed, o, c.NextAttempt))
		case o.dropped != "":
			up.State, up.Result = store.RcptDropped, o.dropped
			ev.Type, ev.Detail = store.EventDropped, o.dropped
		case o.res.OK():
			up.State, up.Result = store.RcptDelivered, o.res.String()
			ev.Type, ev.Detail = store.EventDelivered, o.res.String()+remote(o)
		default:
			reason := o.res.String()
			if !o.res.Permanent {
				reason = fmt.Sprintf("gave up after %s: %s", w.cfg.GiveUpAfter, reason)
			}
			up.State, up.Result = store.RcptBounced, reason
			ev.Type, ev.Detail = store.EventBounced, reason+remote(o)
			bounced = append(bounced, w.dsnRecipient(r.Address, dsn.Failed, o, time.Time{}))
			if suppressible(o.res) {
				a.Suppress = append(a.Suppress, store.Suppression{UserID: c.UserID, Address: r.Address, Reason: o.res.String(), CreatedAt: now})
			}
		}
		a.Updates = append(a.Updates, up)
		a.Events = append(a.Events, ev)
	}
	// Never a DSN to the null sender: that is how bounce loops are avoided.
	if c.From != "" && len(bounced) > 0 {
		if n, ok := w.notice(ctx, c, bounced, now); ok {
			a.Notices = append(a.Notices, n)
		}
	}
	if c.From != "" && pending > 0 && !c.DelayNotified && now.Sub(c.CreatedAt) >= w.cfg.DelayNotice {
		if n, ok := w.notice(ctx, c, delayed, now); ok {
			a.Notices = append(a.Notices, n)
			a.DelayNotified = true
			a.Events = append(a.Events, store.Event{MessageID: c.ID, Type: store.EventDelayed, Detail: "delay notice sent to " + c.From, At: now})
		}
	}
	w.report(c, outs, a.Events[:len(c.Recipients)])
	return a, pending, len(bounced)
}

// retryAt is the retry time an attempt ending at now saves: with a claim
// lease, the claim saved the lease, and the retry is due a backoff after
// the attempt's end; without, zero keeps what the claim saved (the
// backoff from the claim).
func (w *Worker) retryAt(c *store.Claim, now time.Time) time.Time {
	if w.cfg.ClaimLease <= 0 {
		return time.Time{}
	}
	return now.Add(queue.Backoff(c.Attempts, w.cfg.RetryFirst, w.jitter()))
}

// unsure is the attempt recorded when building the real one panicked: what
// is certain is kept (delivered, dropped), every other recipient stays
// pending with a temporary "internal error" and is tried again at the
// saved next attempt. Nothing is bounced, suppressed or notified without
// its DSN, and nothing delivered is sent twice.
func (w *Worker) unsure(c *store.Claim, outs []outcome, now time.Time) (store.Attempt, int, int) {
	a := store.Attempt{MessageID: c.ID, At: now, NextAttempt: w.retryAt(c, now)}
	pending := 0
	for j, r := range c.Recipients {
		o := outs[j]
		ev := store.Event{MessageID: c.ID, Recipient: r.Address, At: now}
		up := store.RecipientUpdate{Idx: r.Idx}
		switch {
		case o.done && o.dropped != "":
			up.State, up.Result = store.RcptDropped, o.dropped
			ev.Type, ev.Detail = store.EventDropped, o.dropped
		case o.done && o.res.OK():
			up.State, up.Result = store.RcptDelivered, o.res.String()
			ev.Type, ev.Detail = store.EventDelivered, o.res.String()+remote(o)
		default:
			res := Temp("internal error")
			up.State, up.Result = store.RcptPending, res.String()
			ev.Type, ev.Detail = store.EventDeferred, res.String()
			pending++
		}
		a.Updates = append(a.Updates, up)
		a.Events = append(a.Events, ev)
	}
	w.report(c, outs, a.Events)
	return a, pending, 0
}

func remote(o outcome) string {
	if o.remoteMTA == "" {
		return ""
	}
	s := " (" + o.remoteMTA
	if o.tls.Used {
		s += ", " + o.tls.Version + " " + o.tls.Cipher
		if o.tls.Verified {
			s += ", certificate verified"
		} else {
			s += ", certificate not verified"
		}
	} else {
		s += ", no TLS"
	}
	return s + ")"
}

// suppressible reports a permanent failure about the address itself
// (RFC 3463 X.1.x addressing, X.2.1 mailbox disabled), as opposed to one
// about this message (content, size, policy).
func suppressible(r Result) bool {
	return r.Permanent && r.Code >= 500 && dsn.AboutAddress(r.Enhanced)
}

func (w *Worker) dsnRecipient(addr string, action dsn.Action, o outcome, retryUntil time.Time) dsn.Recipient {
	status := o.res.Enhanced
	if status[0] == 0 {
		if action == dsn.Failed {
			status = [3]int{5, 0, 0}
		} else {
			status = [3]int{4, 0, 0}
		}
	}
	if action == dsn.Failed && !o.res.Permanent {
		status = [3]int{4, 4, 7} // delivery time expired (RFC 3463)
	}
	r := dsn.Recipient{Address: addr, Action: action, Status: status, LastAttempt: w.cfg.Now()}
	if o.remoteMTA != "" {
		r.RemoteMTA = "dns; " + strings.Fields(o.remoteMTA)[0]
	}
	if o.res.Code != 0 {
		r.Diagnostic = o.res.Line
		if !strings.HasPrefix(r.Diagnostic, strconv.Itoa(o.res.Code)) {
			r.Diagnostic = strconv.Itoa(o.res.Code) + " " + r.Diagnostic
		}
	} else {
		r.Diagnostic = o.res.Line
	}
	if action == dsn.Delayed {
		r.WillRetryUntil = retryUntil
	}
	return r
}

// notice builds a DSN to the message's sender.
func (w *Worker) notice(ctx context.Context, c *store.Claim, rcpts []dsn.Recipient, now time.Time) (store.NewMessage, bool) {
	orig, err := w.cfg.Store.MessageBody(ctx, c.ID)
	if err != nil {
		w.cfg.Log.Error("dsn: load original", "msg_id", c.ID, "err", err)
		return store.NewMessage{}, false
	}
	for i := range rcpts {
		if rcpts[i].Action == dsn.Delayed {
			rcpts[i].WillRetryUntil = c.CreatedAt.Add(w.cfg.GiveUpAfter)
		}
	}
	body, err := dsn.Build(dsn.Report{
		ReportingMTA: w.cfg.Hostname,
		QueueID:      c.ID,
		ArrivalDate:  c.CreatedAt,
		Sender:       c.From,
		Recipients:   rcpts,
		Original:     orig,
		Now:          now,
		Rand:         w.cfg.Rand,
	})
	if err != nil {
		w.cfg.Log.Error("dsn: build", "msg_id", c.ID, "err", err)
		return store.NewMessage{}, false
	}
	m, err := w.cfg.Notices.Prepare(submit.Notice{UserID: c.UserID, To: c.From, Body: body})
	if err != nil {
		w.cfg.Log.Error("dsn: prepare", "msg_id", c.ID, "err", err)
		return store.NewMessage{}, false
	}
	return m, true
}
