package delivery

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
)

// WorkerConfig configures the delivery worker.
type WorkerConfig struct {
	Store    store.Store
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
	RetryFirst     time.Duration
	GiveUpAfter    time.Duration
	DelayNotice    time.Duration
	Poll           time.Duration // how often to look for due messages; default 1s
	Batch          int           // messages claimed at once; default 100
	// MaxLookups bounds the route lookups (a domain's MX, then its hosts'
	// addresses) running at once, over all domains; default 16.
	MaxLookups int

	// AllowPrivateNetworks lets delivery connect to loopback, private,
	// link-local and the other addresses privateRange names. Off (the
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

	Now  func() time.Time
	Rand io.Reader
	Log  *slog.Logger
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
	cfg  WorkerConfig
	wake chan struct{}
	sem  chan struct{} // a slot per connection, Concurrency of them

	// A slot per route (Concurrency) and per route lookup (MaxLookups),
	// both taken before the route's goroutine starts, so a batch to many
	// domains starts no more goroutines and DNS queries than these allow.
	routes  chan struct{}
	lookups chan struct{}
}

// NewWorker returns a worker; Run starts it.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 20
	}
	if cfg.PerDestination <= 0 {
		cfg.PerDestination = 3
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
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
		cfg:     cfg,
		wake:    make(chan struct{}, 1),
		sem:     make(chan struct{}, cfg.Concurrency),
		routes:  make(chan struct{}, cfg.Concurrency),
		lookups: make(chan struct{}, cfg.MaxLookups),
	}
}

// Wake makes the worker look for due messages now (after a commit).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Deliveries in progress when it ends are
// cut; their recipients stay pending and are retried at the next attempt
// time saved when they were claimed.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.cfg.Log.Error("delivery round", "err", err)
		}
		if n > 0 && err == nil {
			continue // there may be more due at once
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// RunOnce claims one batch of due messages and attempts each. It returns
// how many were claimed.
func (w *Worker) RunOnce(ctx context.Context) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("delivery: panic: %v", p)
		}
	}()
	now := w.cfg.Now()
	claims, err := w.cfg.Store.ClaimDue(ctx, now, w.cfg.Batch, func(attempt int) time.Time {
		return now.Add(queue.Backoff(attempt, w.cfg.RetryFirst, w.jitter()))
	})
	if err != nil || len(claims) == 0 {
		return 0, err
	}
	w.attempt(ctx, claims)
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

// job is one message's recipients in one domain (or, with per-recipient
// envelope senders, one recipient).
type job struct {
	claim *store.Claim
	from  string // the envelope sender
	body  []byte
	rcpts []int // indexes into claim.Recipients
	out   []outcome
	left  *atomic.Int32 // the claim's jobs not yet done
}

// done records that jb finished; the last job of a message commits the
// message's attempt at once, so little is delivered-but-unrecorded when a
// crash comes (that window is what can be delivered twice).
func (w *Worker) done(ctx context.Context, jb *job) {
	if jb.left.Add(-1) == 0 {
		w.finish(ctx, jb.claim, jb.out)
	}
}

func (w *Worker) attempt(ctx context.Context, claims []store.Claim) {
	byDomain := map[string][]*job{}
	var order []string
	for i := range claims {
		c := &claims[i]
		outs := make([]outcome, len(c.Recipients))
		body, err := w.cfg.Store.MessageBody(ctx, c.ID)
		if err != nil {
			if ctx.Err() != nil {
				return // shutting down: the saved next attempt retries it
			}
			w.cfg.Log.Error("load message", "msg_id", c.ID, "err", err)
			for j := range outs {
				outs[j] = outcome{res: Temp("message could not be read from the queue"), done: true}
			}
			w.finish(ctx, c, outs)
			continue
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
		left := new(atomic.Int32)
		perDomain := map[string]*job{}
		for j, r := range c.Recipients {
			if s, ok := supp[r.Address]; ok {
				outs[j] = outcome{dropped: "suppressed: " + s.Reason, done: true}
				continue
			}
			d := domainOf(r.Address)
			key, from := d, c.From
			if sender != nil {
				key, from = d+"\x00"+strconv.Itoa(r.Idx), sender(r.Idx)
			}
			jb := perDomain[key]
			if jb == nil {
				jb = &job{claim: c, from: from, body: body, out: outs, left: left}
				perDomain[key] = jb
				left.Add(1)
				if byDomain[d] == nil {
					order = append(order, d)
				}
				byDomain[d] = append(byDomain[d], jb)
			}
			jb.rcpts = append(jb.rcpts, j)
		}
		if len(perDomain) == 0 {
			w.finish(ctx, c, outs)
		}
	}
	var wg sync.WaitGroup
	for _, d := range order {
		// Both slots are taken here, before the goroutine exists: the
		// goroutine gives the lookup slot back when its route is known
		// and the route slot when it is done.
		if !w.acquire(ctx, w.routes) {
			w.failJobs(ctx, byDomain[d], Temp("shutting down"))
			continue
		}
		if !w.acquire(ctx, w.lookups) {
			<-w.routes
			w.failJobs(ctx, byDomain[d], Temp("shutting down"))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-w.routes }()
			w.deliverDomain(ctx, d, byDomain[d])
		}()
	}
	wg.Wait()
}

// acquire takes a slot of sem, or reports false when ctx ends first.
func (w *Worker) acquire(ctx context.Context, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// deliverDomain delivers jobs for one domain over at most PerDestination
// connections, each carrying several messages in turn. The caller holds a
// lookup slot for it, which it gives back once the route is resolved.
func (w *Worker) deliverDomain(ctx context.Context, domain string, jobs []*job) {
	seed := w.jitter()
	targets, res := resolveRoute(ctx, w.cfg.Resolver, domain, mrand.New(mrand.NewPCG(uint64(seed*(1<<53)), 1)))
	<-w.lookups
	if !res.OK() {
		w.failJobs(ctx, jobs, res)
		return
	}
	ch := make(chan *job)
	n := min(w.cfg.PerDestination, len(jobs))
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.connectionLoop(ctx, targets, ch)
		}()
	}
	for _, jb := range jobs {
		ch <- jb
	}
	close(ch)
	wg.Wait()
}

// connectionLoop keeps one connection to the destination and sends each
// job over it, reconnecting when it breaks.
func (w *Worker) connectionLoop(ctx context.Context, targets []target, jobs <-chan *job) {
	var conn *Conn
	var connHost string
	defer func() {
		if conn != nil {
			conn.Close()
			<-w.sem
		}
	}()
	for jb := range jobs {
		if conn == nil {
			select {
			case w.sem <- struct{}{}:
			case <-ctx.Done():
				w.failJob(ctx, jb, Temp("shutting down"))
				continue
			}
			var res Result
			conn, connHost, res = w.dial(ctx, targets)
			if conn == nil {
				<-w.sem
				w.failJob(ctx, jb, res)
				continue
			}
		}
		env := Envelope{From: jb.from, Body: jb.body}
		for _, j := range jb.rcpts {
			env.Recipients = append(env.Recipients, jb.claim.Recipients[j].Address)
		}
		_, rcptRes, err := conn.Send(ctx, env)
		info := conn.TLS()
		for k, j := range jb.rcpts {
			r := Temp("no result for this recipient")
			if k < len(rcptRes) {
				r = rcptRes[k]
			}
			jb.out[j] = outcome{res: r, remoteMTA: connHost, tls: info, done: true}
		}
		w.done(ctx, jb)
		if err != nil {
			conn.Close()
			conn = nil
			<-w.sem
		}
	}
}

func (w *Worker) failJob(ctx context.Context, jb *job, res Result) {
	for _, j := range jb.rcpts {
		jb.out[j] = outcome{res: res, done: true}
	}
	w.done(ctx, jb)
}

func (w *Worker) failJobs(ctx context.Context, jobs []*job, res Result) {
	for _, jb := range jobs {
		w.failJob(ctx, jb, res)
	}
}

// dial tries the targets in order until one gives a usable connection.
// Unless AllowPrivateNetworks is on, each address is checked right before
// it is dialed, and Dial connects to that very IP literal: no name is
// resolved between the check and the connect (DNS rebinding). When every
// target is refused, the result is the permanent privateRefusal.
func (w *Worker) dial(ctx context.Context, targets []target) (*Conn, string, Result) {
	last := Temp("no MX host could be reached")
	var refused []target
	for _, t := range targets {
		if !w.cfg.AllowPrivateNetworks {
			if r := privateRange(t.Addr); r != "" {
				w.cfg.Log.Warn("private address refused", "host", t.Host, "addr", t.Addr.String(), "range", r)
				refused = append(refused, t)
				continue
			}
		}
		addr := net.JoinHostPort(t.Addr.String(), strconv.Itoa(w.cfg.Port))
		c, res, err := Dial(ctx, addr, t.Host, ClientOptions{Hostname: w.cfg.Hostname, TLS: w.cfg.TLS, Timeouts: w.cfg.Timeouts})
		if err == nil {
			return c, fmt.Sprintf("%s [%s]", t.Host, t.Addr), Result{Code: 220}
		}
		w.cfg.Log.Info("connect failed", "host", t.Host, "addr", addr, "result", res.String())
		last = res
		if ctx.Err() != nil {
			break
		}
	}
	if len(refused) == len(targets) && len(refused) > 0 {
		return nil, "", privateRefusal(refused)
	}
	return nil, "", last
}

// finish turns an attempt's outcomes into recipient states, events,
// suppressions and DSNs, committed together.
func (w *Worker) finish(ctx context.Context, c *store.Claim, outs []outcome) {
	now := w.cfg.Now()
	a := store.Attempt{MessageID: c.ID, At: now}
	var bounced, delayed []dsn.Recipient
	pending := 0
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
	if err := w.cfg.Store.RecordAttempt(ctx, a); err != nil {
		// The next attempt time is already saved: the message is retried.
		if ctx.Err() == nil {
			w.cfg.Log.Error("record attempt", "msg_id", c.ID, "err", err)
		}
		return
	}
	w.cfg.Log.Info("attempt", "msg_id", c.ID, "attempt", c.Attempts, "pending", pending, "bounced", len(bounced))
	if len(bounced) > 0 && c.From != "" {
		reason, err := w.cfg.Abuse.Bounced(ctx, c.UserName, now)
		if err != nil {
			w.cfg.Log.Error("bounce rate check", "user", c.UserName, "err", err)
		} else if reason != "" {
			w.cfg.Log.Warn("user suspended", "user", c.UserName, "reason", reason)
		}
	}
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
