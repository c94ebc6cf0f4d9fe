package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/delivery"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/testenv"
)

// hangingMX accepts connections and never sends a byte: no greeting, no
// reply, ever. It counts the connections accepted and those the client
// has closed.
type hangingMX struct {
	ln               net.Listener
	accepted, closed atomic.Int32
	mu               sync.Mutex
	conns            []net.Conn
	wg               sync.WaitGroup
}

// startHangingMX listens on 127.0.0.2 at the sink's port (the worker
// dials one port for every destination), so a destination whose MX is
// 127.0.0.2 hangs and one whose MX is 127.0.0.1 reaches the sink.
func startHangingMX(t *testing.T, sinkAddr string) *hangingMX {
	t.Helper()
	_, port, err := net.SplitHostPort(sinkAddr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", port))
	if err != nil {
		t.Skipf("this test needs 127.0.0.2 on the loopback interface (as on Linux): %v", err)
	}
	h := &hangingMX{ln: ln}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			h.accepted.Add(1)
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				io.Copy(io.Discard, c) // until the client closes
				h.closed.Add(1)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		for _, c := range h.conns {
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

// run starts the worker's Run and returns the function that stops it and
// waits for it to return (also called at cleanup).
func (e *wenv) run() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.worker.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds, and fails the test if it does not
// within 30 s. That is a bound on a hang, not a claim about speed: the
// things waited for take milliseconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s still waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// state returns a recipient's state, "" when there is no such recipient.
func (e *wenv) state(id, rcpt string) store.Recipient {
	e.t.Helper()
	return e.recipients(id)[rcpt]
}

// longTimeouts outlast any test: a hang lasts until the test ends it.
var longTimeouts = delivery.Timeouts{Connect: 10 * time.Minute, Greeting: 10 * time.Minute, Mail: 10 * time.Minute,
	Rcpt: 10 * time.Minute, DataInit: 10 * time.Minute, DataBlock: 10 * time.Minute, DataEnd: 10 * time.Minute, Quit: 10 * time.Minute}

// TestIssue13HangingDestinationDelaysOnlyItself guards issue 13,
// "Delivery without a batch barrier": the worker used to claim a batch
// and wait for every destination of it before claiming again, so one MX
// that accepts the connection and never answers stopped all delivery
// until its timeouts ran out. Now mail to other domains, claimed in
// later rounds (Batch is 2), is delivered while that connection hangs.
func TestIssue13HangingDestinationDelaysOnlyItself(t *testing.T) {
	e := newWorkerEnv(t, wopts{timeouts: longTimeouts, batch: 2})
	hang := startHangingMX(t, e.sink.Addr)
	e.dns.Add(
		"hang.test. 300 IN MX 10 mx.hang.test.", "mx.hang.test. 300 IN A 127.0.0.2",
		"ok.test. 300 IN MX 10 mx.ok.test.", "mx.ok.test. 300 IN A 127.0.0.1",
	)
	stop := e.run()

	hung := e.enqueue("app@acme.test", "u@hang.test")
	e.worker.Wake()
	waitFor(t, "the worker to connect to the hanging MX", func() bool { return hang.accepted.Load() == 1 })

	var ids []string
	for i := range 7 {
		ids = append(ids, e.enqueue("app@acme.test", fmt.Sprintf("u%d@ok.test", i)))
		e.worker.Wake()
	}
	waitFor(t, "the mail to ok.test to be delivered", func() bool {
		for i, id := range ids {
			if e.state(id, fmt.Sprintf("u%d@ok.test", i)).State != store.RcptDelivered {
				return false
			}
		}
		return true
	})
	for i := range ids {
		if n := len(e.delivered(fmt.Sprintf("u%d@ok.test", i))); n != 1 {
			t.Errorf("u%d@ok.test: %d copies delivered, want 1", i, n)
		}
	}
	// Meanwhile the hanging delivery is still under way.
	if r := e.state(hung, "u@hang.test"); r.State != store.RcptPending {
		t.Errorf("u@hang.test: %s %q, want still pending", r.State, r.LastResult)
	}
	if ev := e.events(hung); len(ev) != 1 || ev[0].Type != store.EventProcessed {
		t.Errorf("hang.test message has an attempt recorded: %+v", ev)
	}
	if a, c := hang.accepted.Load(), hang.closed.Load(); a != 1 || c != 0 {
		t.Errorf("hanging MX: %d connections accepted, %d closed; want 1 still open", a, c)
	}

	// Run returns once the cut delivery has ended; its recipient stays
	// pending for the next attempt saved at the claim.
	stop()
	waitFor(t, "the hanging connection to be closed", func() bool { return hang.closed.Load() == 1 })
	if r := e.state(hung, "u@hang.test"); r.State != store.RcptPending {
		t.Errorf("after shutdown u@hang.test is %s %q, want pending", r.State, r.LastResult)
	}
	if m, err := e.st.Message(context.Background(), hung); err != nil || m.State != store.StateQueued || !m.NextAttempt.After(e.clock.Now()) {
		t.Errorf("after shutdown the hang.test message is %+v (%v), want queued with a later next attempt", m, err)
	}
}

// logRecords keeps the messages logged and their msg_id.
type logRecords struct {
	mu   sync.Mutex
	recs []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	id := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "msg_id" {
			id = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, r.Message+" "+id)
	l.mu.Unlock()
	return nil
}

func (l *logRecords) has(prefix, id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		if strings.HasPrefix(r, prefix) && strings.HasSuffix(r, " "+id) {
			return true
		}
	}
	return false
}

// TestIssue13InFlightNotClaimedTwice: a message whose saved next attempt
// comes due while its delivery still hangs is claimed again, and that
// claim is skipped: no second delivery of it starts on this node.
func TestIssue13InFlightNotClaimedTwice(t *testing.T) {
	logs := &logRecords{}
	e := newWorkerEnv(t, wopts{timeouts: longTimeouts, log: slog.New(logs)})
	hang := startHangingMX(t, e.sink.Addr)
	e.dns.Add("hang.test. 300 IN MX 10 mx.hang.test.", "mx.hang.test. 300 IN A 127.0.0.2")
	stop := e.run()
	hung := e.enqueue("app@acme.test", "u@hang.test")
	e.worker.Wake()
	waitFor(t, "the worker to connect to the hanging MX", func() bool { return hang.accepted.Load() == 1 })

	e.clock.Add(time.Hour) // past the next attempt saved at the claim
	e.worker.Wake()
	waitFor(t, "the second claim", func() bool {
		m, err := e.st.Message(context.Background(), hung)
		return err == nil && m.Attempts == 2
	})
	waitFor(t, "the second claim to be skipped", func() bool { return logs.has("claimed while in flight", hung) })
	stop()
	if n := hang.accepted.Load(); n != 1 {
		t.Errorf("%d connections to the hanging MX, want 1: the message was handed out twice", n)
	}
}

// panickyReturnPath panics for mail from boom@acme.test.
type panickyReturnPath struct{}

func (panickyReturnPath) Sender(_ context.Context, c *store.Claim, _ time.Time) (func(int) string, error) {
	if c.From == "boom@acme.test" {
		panic("return path exploded")
	}
	return nil, nil
}

// TestPanicWhileClaimingIsRecovered: a panic while a claimed message is
// prepared (here its ReturnPath) is counted, the message is left pending
// with a temporary "internal error" for its next attempt, and the worker
// goes on delivering.
func TestPanicWhileClaimingIsRecovered(t *testing.T) {
	e := newWorkerEnv(t, wopts{returnPath: func(store.Store) delivery.ReturnPath { return panickyReturnPath{} }})
	e.dns.Add("ok.test. 300 IN MX 10 mx.ok.test.", "mx.ok.test. 300 IN A 127.0.0.1")
	e.run()
	boom := e.enqueue("boom@acme.test", "a@ok.test")
	good := e.enqueue("app@acme.test", "b@ok.test")
	e.worker.Wake()
	waitFor(t, "both messages to be attempted", func() bool {
		return e.state(good, "b@ok.test").State == store.RcptDelivered &&
			strings.Contains(e.state(boom, "a@ok.test").LastResult, "internal error")
	})
	if r := e.state(boom, "a@ok.test"); r.State != store.RcptPending || !strings.Contains(r.LastResult, "temporary") {
		t.Errorf("the message whose delivery panicked: %s %q, want pending, temporary", r.State, r.LastResult)
	}
	if n := e.worker.Panics(); n != 1 {
		t.Errorf("%d panics counted, want 1", n)
	}
	later := e.enqueue("app@acme.test", "c@ok.test")
	e.worker.Wake()
	waitFor(t, "mail after the panic to be delivered", func() bool { return e.state(later, "c@ok.test").State == store.RcptDelivered })
	if n := len(e.delivered("a@ok.test")); n != 0 {
		t.Errorf("a@ok.test delivered %d times", n)
	}
}

// panickyNotices panics when asked to prepare a DSN.
type panickyNotices struct{}

func (panickyNotices) Prepare(submit.Notice) (store.NewMessage, error) { panic("notices exploded") }

// TestPanicInConnectionLoopIsRecovered: a panic in a scheduler goroutine
// (here while recording an attempt whose bounce needs a DSN, from a
// connection loop) is counted; what is certain is recorded (the
// delivered recipient), the rest stays pending with a temporary
// "internal error", never bounced without its DSN, and the worker goes on.
func TestPanicInConnectionLoopIsRecovered(t *testing.T) {
	e := newWorkerEnv(t, wopts{notices: panickyNotices{}, perDestination: 1, sink: testenv.SinkOptions{Rcpt: map[string]testenv.SinkReply{
		"gone@part.test": {Err: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}},
	}}})
	e.dns.Add("part.test. 300 IN MX 10 mx.part.test.", "mx.part.test. 300 IN A 127.0.0.1")
	e.run()
	id := e.enqueue("app@acme.test", "ok@part.test", "gone@part.test")
	e.worker.Wake()
	waitFor(t, "the attempt to be recorded", func() bool { return e.state(id, "ok@part.test").State != store.RcptPending })
	e.wantState(id, "ok@part.test", store.RcptDelivered, "250")
	e.wantState(id, "gone@part.test", store.RcptPending, "internal error")
	if n := e.worker.Panics(); n != 1 {
		t.Errorf("%d panics counted, want 1", n)
	}
	if supp, _ := e.st.Suppressions(context.Background(), e.user.ID); len(supp) != 0 {
		t.Errorf("suppressed without a DSN: %+v", supp)
	}
	later := e.enqueue("app@acme.test", "more@part.test")
	e.worker.Wake()
	waitFor(t, "mail after the panic to be delivered", func() bool { return e.state(later, "more@part.test").State == store.RcptDelivered })
	if n := len(e.delivered("ok@part.test")); n != 1 {
		t.Errorf("ok@part.test delivered %d times, want 1", n)
	}
}

// TestConnLingerReusesConnection: with the continuous scheduler a
// destination's queue empties whenever mail trickles in a claim at a
// time; its connection then waits (ConnLinger) for the next message
// instead of closing, so the second message needs no new connection and
// TLS handshake. Without the linger, each needs its own.
func TestConnLingerReusesConnection(t *testing.T) {
	for _, tc := range []struct {
		linger time.Duration
		conns  int
	}{{time.Minute, 1}, {-1, 2}} {
		t.Run(fmt.Sprint(tc.linger), func(t *testing.T) {
			e := newWorkerEnv(t, wopts{connLinger: tc.linger})
			e.dns.Add("ok.test. 300 IN MX 10 mx.ok.test.", "mx.ok.test. 300 IN A 127.0.0.1")
			stop := e.run()
			first := e.enqueue("app@acme.test", "a@ok.test")
			e.worker.Wake()
			waitFor(t, "the first message", func() bool { return e.state(first, "a@ok.test").State == store.RcptDelivered })
			second := e.enqueue("app@acme.test", "b@ok.test")
			e.worker.Wake()
			waitFor(t, "the second message", func() bool { return e.state(second, "b@ok.test").State == store.RcptDelivered })
			stop() // ends the lingering at once
			if got := e.sink.Connections(); got != tc.conns {
				t.Fatalf("%d connections for two messages, want %d", got, tc.conns)
			}
		})
	}
}
