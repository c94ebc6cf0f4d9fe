package delivery

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/netguard"
)

// sched is the scheduler of Run and RunOnce: claimed jobs go to a queue
// per destination (recipient domain), and each destination is served on
// its own, so one that is slow or hangs delays only its own mail.
//
// A destination waits in line for a route slot and a lookup slot, which
// the dispatcher goroutine takes before the destination's route goroutine
// starts (so mail to many domains starts no more goroutines and DNS
// queries than Concurrency and MaxLookups allow). The route goroutine
// resolves the route, gives the lookup slot back and runs up to
// PerDestination connection loops, each taking the next job of the queue
// and sending it over its connection, reused from job to job. Jobs for a
// destination already in line or served join its queue. When the queue
// is empty the loops end, and with them the destination, which gives its
// route slot back. A destination that hangs holds its route slot and its
// connections (at most PerDestination slots of the Concurrency), no more.
type sched struct {
	w    *Worker
	ctx  context.Context
	quit chan struct{} // closed by close
	kick chan struct{} // a destination joined the line
	wg   sync.WaitGroup

	mu      sync.Mutex
	dests   map[string]*dest // in line or served, by domain
	line    []*dest          // waiting for their slots, first come first
	stopped bool             // ctx ended or closed: no more destinations start
	// idle, when not nil, is closed when a destination joins the line or
	// a loop waits for a connection: loops lingering on idle connections
	// (next) then give their slots up at once.
	idle chan struct{}
}

// dest is one destination. Its fields are guarded by sched.mu.
type dest struct {
	domain  string
	queue   []*job
	targets []target // once the route is known
	serving bool     // connection loops take from queue
	loops   int      // connection loops running
	wg      sync.WaitGroup

	// waitingConn counts d's loops waiting for a connection slot: a loop
	// of d does not give its connection up to them (next).
	waitingConn atomic.Int32
	// more, when not nil, is closed by add when jobs join d's queue: the
	// loops lingering on an idle connection (next) wait on it.
	more chan struct{}
	// lingering counts d's loops waiting in next for more mail: jobs
	// joining are theirs first, before new loops are started.
	lingering int
}

// newSched starts a scheduler whose deliveries run under ctx.
func (w *Worker) newSched(ctx context.Context) *sched {
	s := &sched{w: w, ctx: ctx, quit: make(chan struct{}), kick: make(chan struct{}, 1), dests: map[string]*dest{}}
	s.wg.Add(1)
	go s.dispatch()
	return s
}

// close stops the scheduler and waits for all its goroutines. Jobs still
// in line fail temporarily ("shutting down"); RunOnce closes only once
// its batch is recorded, so it has none.
func (s *sched) close() {
	close(s.quit)
	s.wg.Wait()
}

// add queues jobs by domain, in order.
func (s *sched) add(byDomain map[string][]*job, order []string) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		for _, d := range order {
			s.w.failJobs(s.ctx, byDomain[d], Temp("shutting down"))
		}
		return
	}
	for _, domain := range order {
		d := s.dests[domain]
		if d == nil {
			d = &dest{domain: domain}
			s.dests[domain] = d
			s.line = append(s.line, d)
			s.wakeIdle()
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		d.queue = append(d.queue, byDomain[domain]...)
		if d.more != nil {
			close(d.more)
			d.more = nil
		}
		if d.serving {
			s.spawn(d)
		}
	}
	s.mu.Unlock()
}

// dispatch starts the destinations in line as slots come free, until the
// scheduler stops.
func (s *sched) dispatch() {
	defer s.wg.Done()
	for s.dispatchOne() {
	}
}

// dispatchOne waits for a destination in line and its two slots, and
// starts its route goroutine. It reports false when the scheduler stops.
// A panic is counted and fails the jobs in line, and dispatching goes on.
func (s *sched) dispatchOne() (more bool) {
	var route, lookup bool
	defer func() {
		if p := recover(); p != nil {
			s.w.panicked(p, "where", "delivery dispatcher")
			if lookup {
				<-s.w.lookups
			}
			if route {
				<-s.w.routes
			}
			s.mu.Lock()
			line := s.leaveLine()
			s.mu.Unlock()
			failLine(s, line, Temp("internal error"))
			more = true
		}
	}()
	s.mu.Lock()
	waiting := len(s.line) > 0
	s.mu.Unlock()
	if !waiting {
		select {
		case <-s.kick:
			return true
		case <-s.ctx.Done():
		case <-s.quit:
		}
		s.stop()
		return false
	}
	// Both slots are taken here, before the goroutine exists: the route
	// goroutine gives the lookup slot back when its route is known and
	// the route slot when the destination ends.
	select {
	case s.w.routes <- struct{}{}:
		route = true
	case <-s.ctx.Done():
	case <-s.quit:
	}
	if route {
		select {
		case s.w.lookups <- struct{}{}:
			lookup = true
		case <-s.ctx.Done():
		case <-s.quit:
		}
	}
	if !lookup {
		if route {
			<-s.w.routes
		}
		s.stop()
		return false
	}
	s.mu.Lock()
	d := s.line[0]
	s.line = s.line[1:]
	s.wg.Add(1)
	go s.route(d)
	s.mu.Unlock()
	return true
}

// stop ends the line: its jobs fail temporarily, and jobs added from now
// on too. Destinations being served finish on their own (ctx has ended,
// or their queues are empty).
func (s *sched) stop() {
	s.mu.Lock()
	s.stopped = true
	line := s.leaveLine()
	s.mu.Unlock()
	failLine(s, line, Temp("shutting down"))
}

// leaveLine takes every destination out of the line and the map and
// returns them. The caller holds s.mu.
func (s *sched) leaveLine() []*dest {
	line := s.line
	s.line = nil
	for _, d := range line {
		s.forget(d)
	}
	return line
}

func failLine(s *sched, line []*dest, res Result) {
	for _, d := range line {
		s.w.failJobs(s.ctx, d.queue, res)
	}
}

// route resolves d's route and serves its queue. The caller has taken a
// route slot and a lookup slot for it.
func (s *sched) route(d *dest) {
	defer s.wg.Done()
	defer func() { <-s.w.routes }()
	defer func() {
		if p := recover(); p != nil {
			s.w.panicked(p, "where", "route", "domain", d.domain)
			s.mu.Lock()
			var q []*job
			if !d.serving {
				q, d.queue = d.queue, nil
				s.forget(d)
			}
			s.mu.Unlock()
			s.w.failJobs(s.ctx, q, Temp("internal error"))
			d.wg.Wait()
		}
	}()
	targets, res := s.resolve(d.domain)
	if !res.OK() {
		// Jobs that join while these fail share the answer.
		for {
			s.mu.Lock()
			q := d.queue
			d.queue = nil
			if len(q) == 0 {
				s.forget(d)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			s.w.failJobs(s.ctx, q, res)
		}
	}
	s.mu.Lock()
	d.targets, d.serving = targets, true
	s.spawn(d)
	if d.loops == 0 {
		s.forget(d) // nothing queued: cannot happen, a destination comes with jobs
	}
	s.mu.Unlock()
	d.wg.Wait()
}

// forget takes d out of the map, so that jobs for its domain from now on
// make a new destination. The caller holds s.mu.
func (s *sched) forget(d *dest) {
	if s.dests[d.domain] == d {
		delete(s.dests, d.domain)
	}
}

// resolve finds the route and gives the lookup slot back. A panic is
// counted and makes a temporary failure.
func (s *sched) resolve(domain string) (targets []target, res Result) {
	defer func() { <-s.w.lookups }()
	defer func() {
		if p := recover(); p != nil {
			s.w.panicked(p, "where", "route lookup", "domain", domain)
			targets, res = nil, Temp("internal error")
		}
	}()
	seed := s.w.jitter()
	return resolveRoute(s.ctx, s.w.cfg.Resolver, domain, mrand.New(mrand.NewPCG(uint64(seed*(1<<53)), 1)))
}

// spawn starts connection loops for d, as many as its queue has jobs, up
// to PerDestination in all. The caller holds s.mu.
func (s *sched) spawn(d *dest) {
	n := min(s.w.cfg.PerDestination-d.loops, len(d.queue)-d.lingering)
	for range n {
		d.loops++
		d.wg.Add(1)
		s.wg.Add(1)
		go s.connectionLoop(d)
	}
}

// next gives a connection loop its next job, or nil when the loop is to
// end: d's queue is empty (the last loop to go ends d), or the loop holds
// a connection that a loop elsewhere is waiting for and d has another
// loop to carry on. A loop with a connection and nothing to send waits
// up to ConnLinger for more mail to d before it ends, unless a loop
// elsewhere is waiting for a connection or a destination for a route
// slot: mail that trickles in, a claim
// at a time, reuses the connection instead of a new one (and a TLS
// handshake) each.
func (s *sched) next(d *dest, connected bool) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var deadline time.Time
	for {
		waiting := s.w.connWaiting.Load() > d.waitingConn.Load()
		yield := connected && d.loops > 1 && waiting
		if len(d.queue) > 0 && !yield {
			jb := d.queue[0]
			d.queue[0] = nil
			d.queue = d.queue[1:]
			return jb
		}
		// Destinations in line wait for the route slot d holds.
		if yield || !connected || waiting || len(s.line) > 0 || s.stopped || s.w.cfg.ConnLinger <= 0 {
			break
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(s.w.cfg.ConnLinger)
		}
		if !now.Before(deadline) {
			break
		}
		if d.more == nil {
			d.more = make(chan struct{})
		}
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		more, idle := d.more, s.idle
		d.lingering++
		s.mu.Unlock()
		t := time.NewTimer(deadline.Sub(now))
		select {
		case <-more:
		case <-idle:
		case <-t.C:
		case <-s.ctx.Done():
		case <-s.quit:
		}
		t.Stop()
		s.mu.Lock()
		d.lingering--
		if s.ctx.Err() != nil || s.closing() {
			break
		}
	}
	s.leave(d)
	return nil
}

// wakeIdle ends the lingering of every idle connection loop. The caller
// holds s.mu.
func (s *sched) wakeIdle() {
	if s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}

// closing reports whether close has been called.
func (s *sched) closing() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

// leave ends a connection loop of d; the last one ends d. The caller
// holds s.mu.
func (s *sched) leave(d *dest) {
	d.loops--
	if d.loops == 0 {
		s.forget(d)
	}
}

// conn is a connection loop's connection and its slot of Worker.sem.
type conn struct {
	c    *Conn
	host string
	slot bool
}

// drop closes the connection, if any, and gives its slot back, even if
// closing panics.
func (cn *conn) drop(w *Worker) {
	if cn.slot {
		cn.slot = false
		defer func() { <-w.sem }()
	}
	if c := cn.c; c != nil {
		cn.c = nil
		defer func() {
			if p := recover(); p != nil {
				w.panicked(p, "where", "close connection", "host", cn.host)
			}
		}()
		c.Close()
	}
}

// connectionLoop keeps one connection to d and sends each job over it,
// reconnecting when it breaks.
func (s *sched) connectionLoop(d *dest) {
	defer s.wg.Done()
	defer d.wg.Done()
	var cn conn
	defer cn.drop(s.w)
	ended := false
	defer func() {
		// send recovers its own panics; this is for the rest.
		if p := recover(); p != nil {
			s.w.panicked(p, "where", "connection loop", "domain", d.domain)
			if !ended {
				s.mu.Lock()
				s.leave(d)
				var q []*job
				if d.loops == 0 {
					q, d.queue = d.queue, nil
				}
				s.mu.Unlock()
				s.w.failJobs(s.ctx, q, Temp("internal error"))
			}
		}
	}()
	for {
		jb := s.next(d, cn.c != nil)
		if jb == nil {
			ended = true
			return
		}
		s.send(d, jb, &cn)
	}
}

// send delivers one job over cn, connecting first when needed. A panic
// is counted, fails the job temporarily if it was not done, and drops
// the connection, whose state is then unknown.
func (s *sched) send(d *dest, jb *job, cn *conn) {
	w := s.w
	finished := false
	defer func() {
		if p := recover(); p != nil {
			w.panicked(p, "msg_id", jb.f.claim.ID, "domain", d.domain)
			cn.drop(w)
			if !finished {
				w.failJob(s.ctx, jb, Temp("internal error"))
			}
		}
	}()
	start := time.Now() // the attempt's time: from here, or from the dial
	if cn.c == nil {
		d.waitingConn.Add(1)
		w.connWaiting.Add(1)
		// Connections held idle elsewhere are wanted here: counted as
		// waiting first, so that a lingering loop woken sees it.
		s.mu.Lock()
		s.wakeIdle()
		s.mu.Unlock()
		ok := w.acquireConn(s.ctx)
		w.connWaiting.Add(-1)
		d.waitingConn.Add(-1)
		if !ok {
			finished = true
			w.failJob(s.ctx, jb, Temp("shutting down"))
			return
		}
		cn.slot = true
		var res Result
		start = time.Now()
		cn.c, cn.host, res = w.dial(s.ctx, d.targets)
		if cn.c == nil {
			w.cfg.Metrics.DeliveryDuration(time.Since(start))
			cn.drop(w)
			finished = true
			w.failJob(s.ctx, jb, res)
			return
		}
	}
	env := Envelope{From: jb.from, Body: jb.body}
	c := jb.f.claim
	for _, j := range jb.rcpts {
		env.Recipients = append(env.Recipients, c.Recipients[j].Address)
	}
	_, rcptRes, err := cn.c.Send(s.ctx, env)
	w.cfg.Metrics.DeliveryDuration(time.Since(start))
	info := cn.c.TLS()
	for k, j := range jb.rcpts {
		r := Temp("no result for this recipient")
		if k < len(rcptRes) {
			r = rcptRes[k]
		}
		jb.f.out[j] = outcome{res: r, remoteMTA: cn.host, tls: info, done: true}
	}
	finished = true
	w.done(s.ctx, jb)
	if err != nil {
		cn.drop(w)
	}
}

// acquireConn takes a connection slot, or reports false when ctx ends
// first. The caller counts itself in connWaiting meanwhile.
func (w *Worker) acquireConn(ctx context.Context) bool {
	select {
	case w.sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *Worker) failJob(ctx context.Context, jb *job, res Result) {
	for _, j := range jb.rcpts {
		jb.f.out[j] = outcome{res: res, done: true}
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
			if r := netguard.Private(t.Addr); r != "" {
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
