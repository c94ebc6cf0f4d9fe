package delivery_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/delivery"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/testenv"
)

// clock is the worker's injected time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// wenv is a worker over a real SQLite store, a real DNS server and a real
// receiving SMTP server, all on loopback.
type wenv struct {
	t      *testing.T
	st     store.Store
	dns    *testenv.DNSServer
	sink   *testenv.Sink
	clock  *clock
	worker *delivery.Worker
	user   store.User
	n      int
}

type wopts struct {
	sink           testenv.SinkOptions
	perDestination int
	giveUp         time.Duration
	delayNotice    time.Duration
	timeouts       delivery.Timeouts
	abuse          *abuse.Thresholds
	returnPath     func(store.Store) delivery.ReturnPath
	concurrency    int
	maxLookups     int
	batch          int
	claimLease     time.Duration
	connLinger     time.Duration
	notices        delivery.Notices
	log            *slog.Logger // default: discarded
	// refusePrivate leaves delivery.allow_private_networks off: the sink
	// is on loopback, so every test that delivers turns it on.
	refusePrivate bool
	// resolver, when set, wraps the real resolver (to count lookups).
	resolver func(dnsres.Resolver) dnsres.Resolver
	// metrics and mailLog, when set, watch the worker (observe_test.go).
	metrics *observe.Metrics
	mailLog *observe.MailLog
}

func newWorkerEnv(t *testing.T, o wopts) *wenv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/q.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	d := testenv.StartDNS(t)
	sink := testenv.StartSink(t, o.sink)
	_, port, _ := net.SplitHostPort(sink.Addr)
	p, _ := strconv.Atoi(port)
	var res dnsres.Resolver
	res, err = dnsres.New(d.Addr, dnsres.Options{Timeout: time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if o.resolver != nil {
		res = o.resolver(res)
	}
	if o.giveUp == 0 {
		o.giveUp = 5 * 24 * time.Hour
	}
	if o.delayNotice == 0 {
		o.delayNotice = 4 * time.Hour
	}
	if o.timeouts == (delivery.Timeouts{}) {
		// Generous: CI runs every package at once under the race detector.
		o.timeouts = delivery.Timeouts{Connect: 15 * time.Second, Greeting: 15 * time.Second, Mail: 15 * time.Second,
			Rcpt: 15 * time.Second, DataInit: 15 * time.Second, DataBlock: 15 * time.Second, DataEnd: 15 * time.Second, Quit: 5 * time.Second}
	}
	clk := &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	var watch *abuse.Watch
	if o.abuse != nil {
		watch = &abuse.Watch{T: *o.abuse, Store: st}
	}
	var rp delivery.ReturnPath
	if o.returnPath != nil {
		rp = o.returnPath(st)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	w := delivery.NewWorker(delivery.WorkerConfig{
		ReturnPath:     rp,
		Abuse:          watch,
		Store:          st,
		Resolver:       res,
		Hostname:       "postern.test",
		Port:           p,
		TLS:            &tls.Config{RootCAs: sink.RootCAs},
		Timeouts:       o.timeouts,
		PerDestination: o.perDestination,
		Concurrency:    o.concurrency,
		MaxLookups:     o.maxLookups,
		Batch:          o.batch,
		Notices:        o.notices,
		RetryFirst:     time.Minute,
		ClaimLease:     o.claimLease,
		ConnLinger:     o.connLinger,
		GiveUpAfter:    o.giveUp,
		DelayNotice:    o.delayNotice,
		Now:            clk.Now,
		Log:            o.log,
		Metrics:        o.metrics,
		MailLog:        o.mailLog,

		AllowPrivateNetworks: !o.refusePrivate,
	})
	return &wenv{t: t, st: st, dns: d, sink: sink, clock: clk, worker: w, user: u}
}

// enqueue puts a message straight into the queue, created now.
func (e *wenv) enqueue(from string, rcpts ...string) string {
	e.t.Helper()
	e.n++
	id := fmt.Sprintf("msg%04d", e.n)
	body := fmt.Sprintf("From: %s\r\nSubject: test %d\r\nMessage-ID: <%s@postern.test>\r\n\r\nbody of %s\r\n.leading dot\r\n", from, e.n, id, id)
	err := e.st.EnqueueBatch(context.Background(), []store.NewMessage{{
		ID: id, UserID: e.user.ID, KeyID: "k", From: from, Recipients: rcpts, Body: []byte(body), CreatedAt: e.clock.Now(),
	}})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// round runs one delivery round and returns how many messages it claimed.
func (e *wenv) round() int {
	e.t.Helper()
	n, err := e.worker.RunOnce(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *wenv) recipients(id string) map[string]store.Recipient {
	e.t.Helper()
	rs, err := e.st.Recipients(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]store.Recipient{}
	for _, r := range rs {
		out[r.Address] = r
	}
	return out
}

func (e *wenv) wantState(id, rcpt string, want store.RecipientState, resultHas string) store.Recipient {
	e.t.Helper()
	r, ok := e.recipients(id)[rcpt]
	if !ok {
		e.t.Fatalf("%s has no recipient %s", id, rcpt)
	}
	if r.State != want || !strings.Contains(r.LastResult, resultHas) {
		e.t.Fatalf("%s %s: state %s result %q; want %s with %q", id, rcpt, r.State, r.LastResult, want, resultHas)
	}
	return r
}

func (e *wenv) events(id string) []store.Event {
	e.t.Helper()
	ev, err := e.st.Events(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return ev
}

// dsns returns the queued DSNs (messages from the null sender), parsed.
func (e *wenv) dsns() []*dsn.Parsed {
	e.t.Helper()
	msgs, err := e.st.Messages(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*dsn.Parsed
	for _, m := range msgs {
		if m.From != "" {
			continue
		}
		body, err := e.st.MessageBody(context.Background(), m.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		p, err := dsn.Parse(body)
		if err != nil {
			e.t.Fatalf("DSN %s does not parse: %v", m.ID, err)
		}
		out = append(out, p)
	}
	return out
}

func (e *wenv) delivered(rcpt string) []testenv.SinkMessage {
	var out []testenv.SinkMessage
	for _, m := range e.sink.Messages() {
		for _, to := range m.To {
			if to == rcpt {
				out = append(out, m)
			}
		}
	}
	return out
}

func TestMXPreferenceAndFallback(t *testing.T) {
	e := newWorkerEnv(t, wopts{})
	e.dns.Add(
		"pref.test. 300 IN MX 20 mx2.pref.test.",
		"pref.test. 300 IN MX 10 mx1.pref.test.",
		"mx1.pref.test. 300 IN A 127.0.0.1",
		"mx2.pref.test. 300 IN A 127.0.0.1",
		// The preferred host refuses connections: the next one is used.
		"fall.test. 300 IN MX 10 dead.fall.test.",
		"fall.test. 300 IN MX 20 live.fall.test.",
		"dead.fall.test. 300 IN A 127.0.0.9",
		"live.fall.test. 300 IN A 127.0.0.1",
	)
	a := e.enqueue("app@acme.test", "u@pref.test")
	b := e.enqueue("app@acme.test", "u@fall.test")
	e.round()
	e.wantState(a, "u@pref.test", store.RcptDelivered, "250")
	e.wantState(b, "u@fall.test", store.RcptDelivered, "250")
	if ev := e.events(a); !strings.Contains(ev[len(ev)-1].Detail, "mx1.pref.test [127.0.0.1]") {
		t.Errorf("preferred MX not used: %+v", ev)
	}
	if ev := e.events(b); !strings.Contains(ev[len(ev)-1].Detail, "live.fall.test") {
		t.Errorf("fallback MX not used: %+v", ev)
	}
	msgs := e.delivered("u@pref.test")
	if len(msgs) != 1 || !msgs[0].TLS || !strings.Contains(string(msgs[0].Body), "\r\n.leading dot\r\n") {
		t.Fatalf("delivered %+v", msgs)
	}
	if m, _ := e.st.Message(context.Background(), a); m.State != store.StateDone {
		t.Errorf("message state %s", m.State)
	}
}

func TestImplicitMXAndNullMX(t *testing.T) {
	e := newWorkerEnv(t, wopts{})
	e.dns.Add(
		"amx.test. 300 IN A 127.0.0.1", // no MX: the domain itself (RFC 5321 5.1)
		"null.test. 300 IN MX 0 .",     // RFC 7505
	)
	a := e.enqueue("app@acme.test", "u@amx.test")
	n := e.enqueue("app@acme.test", "u@null.test")
	x := e.enqueue("app@acme.test", "u@nxdomain.test")
	e.round()
	e.wantState(a, "u@amx.test", store.RcptDelivered, "250")
	e.wantState(n, "u@null.test", store.RcptBounced, "null MX")
	e.wantState(x, "u@nxdomain.test", store.RcptBounced, "does not exist")
	ds := e.dsns()
	if len(ds) != 2 {
		t.Fatalf("%d DSNs, want 2", len(ds))
	}
	for _, d := range ds {
		r := d.Recipients[0]
		if r.Action != dsn.Failed || r.Status[0] != 5 || r.Status[1] != 1 {
			t.Errorf("DSN recipient %+v", r)
		}
	}
}

func TestTemporaryThenSuccessDeliversOnce(t *testing.T) {
	e := newWorkerEnv(t, wopts{sink: testenv.SinkOptions{Rcpt: map[string]testenv.SinkReply{
		"u@retry.test": {Err: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}, Times: 1},
	}}})
	e.dns.Add("retry.test. 300 IN MX 10 mx.retry.test.", "mx.retry.test. 300 IN A 127.0.0.1")
	id := e.enqueue("app@acme.test", "u@retry.test")
	e.round()
	e.wantState(id, "u@retry.test", store.RcptPending, "451")
	// Not due again before the saved next attempt.
	if n := e.round(); n != 0 {
		t.Fatalf("retried at once: %d claimed", n)
	}
	e.clock.Add(2 * time.Minute)
	if n := e.round(); n != 1 {
		t.Fatalf("not retried after the backoff: %d", n)
	}
	e.wantState(id, "u@retry.test", store.RcptDelivered, "250")
	if got := len(e.delivered("u@retry.test")); got != 1 {
		t.Fatalf("%d copies delivered, want exactly 1", got)
	}
	var types []string
	for _, ev := range e.events(id) {
		types = append(types, string(ev.Type))
	}
	if strings.Join(types, ",") != "processed,deferred,delivered" {
		t.Errorf("events %v", types)
	}
	if len(e.dsns()) != 0 {
		t.Error("a DSN for a delivered message")
	}
}

// TestClaimLease (issue 13): with a claim lease, a claimed message is
// held for the lease (another node takes it over only after it), and the
// attempt's result then saves the retry a backoff after the attempt.
func TestClaimLease(t *testing.T) {
	e := newWorkerEnv(t, wopts{claimLease: time.Hour, sink: testenv.SinkOptions{Rcpt: map[string]testenv.SinkReply{
		"u@retry.test": {Err: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}, Times: 1},
	}}})
	e.dns.Add("retry.test. 300 IN MX 10 mx.retry.test.", "mx.retry.test. 300 IN A 127.0.0.1")
	ctx := context.Background()
	crashed := e.enqueue("app@acme.test", "u@crash.test")
	// A node claims it and dies before recording anything.
	start := e.clock.Now()
	cs, err := e.st.ClaimDue(ctx, start, 10, func(int) time.Time { return start.Add(time.Hour) })
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %+v %v", cs, err)
	}
	id := e.enqueue("app@acme.test", "u@retry.test")
	e.round()
	e.wantState(id, "u@retry.test", store.RcptPending, "451")
	m, err := e.st.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// RetryFirst is a minute, with up to 10% jitter: not the hour's lease.
	if wait := m.NextAttempt.Sub(e.clock.Now()); wait < time.Minute || wait > 2*time.Minute {
		t.Fatalf("next attempt %v after the attempt, want the backoff (1m to 1m6s)", wait)
	}
	e.clock.Add(2 * time.Minute)
	if n := e.round(); n != 1 {
		t.Fatalf("retry not claimed after the backoff: %d", n)
	}
	e.wantState(id, "u@retry.test", store.RcptDelivered, "250")
	// The dead node's message waits for its lease, then is taken over.
	e.dns.Add("crash.test. 300 IN MX 10 mx.crash.test.", "mx.crash.test. 300 IN A 127.0.0.1")
	if n := e.round(); n != 0 {
		t.Fatalf("a message claimed elsewhere was taken within its lease: %d", n)
	}
	e.clock.Add(time.Hour)
	if n := e.round(); n != 1 {
		t.Fatalf("the dead node's message not taken over after its lease: %d", n)
	}
	e.wantState(crashed, "u@crash.test", store.RcptDelivered, "250")
}

func TestPermanentFailureBouncesAndSuppresses(t *testing.T) {
	e := newWorkerEnv(t, wopts{sink: testenv.SinkOptions{Rcpt: map[string]testenv.SinkReply{
		"gone@part.test": {Err: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}},
	}}})
	e.dns.Add("part.test. 300 IN MX 10 mx.part.test.", "mx.part.test. 300 IN A 127.0.0.1")
	id := e.enqueue("app@acme.test", "ok@part.test", "gone@part.test")
	e.round()
	e.wantState(id, "ok@part.test", store.RcptDelivered, "250")
	e.wantState(id, "gone@part.test", store.RcptBounced, "550 5.1.1")
	if msgs := e.delivered("ok@part.test"); len(msgs) != 1 || len(msgs[0].To) != 1 {
		t.Fatalf("delivered %+v", msgs)
	}
	ds := e.dsns()
	if len(ds) != 1 || len(ds[0].Recipients) != 1 {
		t.Fatalf("DSNs %+v", ds)
	}
	r := ds[0].Recipients[0]
	if r.FinalRecipient != "gone@part.test" || r.Action != dsn.Failed || r.Status != [3]int{5, 1, 1} ||
		r.RemoteMTA != "mx.part.test" || !strings.Contains(r.Diagnostic, "550") || ds[0].QueueID != id {
		t.Errorf("delivery-status %+v (queue id %q)", r, ds[0].QueueID)
	}
	// The DSN goes to the sender from the null sender.
	msgs, _ := e.st.Messages(context.Background())
	var notice *store.Message
	for i := range msgs {
		if msgs[i].From == "" {
			notice = &msgs[i]
		}
	}
	if notice == nil || len(notice.Recipients) != 1 || notice.Recipients[0] != "app@acme.test" || notice.UserName != "acme" {
		t.Errorf("DSN envelope %+v", notice)
	}
	// The address is now suppressed: a later message drops it unsent.
	supp, _ := e.st.Suppressions(context.Background(), e.user.ID)
	if len(supp) != 1 || supp[0].Address != "gone@part.test" {
		t.Fatalf("suppressions %+v", supp)
	}
	before := len(e.sink.Messages())
	id2 := e.enqueue("app@acme.test", "gone@part.test")
	e.round()
	e.wantState(id2, "gone@part.test", store.RcptDropped, "suppressed")
	if len(e.sink.Messages()) != before {
		t.Error("a suppressed address was sent to")
	}
}

func TestNoBounceToNullSender(t *testing.T) {
	e := newWorkerEnv(t, wopts{})
	id := e.enqueue("", "u@nxdomain.test")
	e.round()
	e.wantState(id, "u@nxdomain.test", store.RcptBounced, "does not exist")
	if msgs, _ := e.st.Messages(context.Background()); len(msgs) != 1 {
		t.Fatalf("%d messages: a DSN was made for a null-sender message", len(msgs))
	}
}

func TestGiveUpAndDelayNotice(t *testing.T) {
	e := newWorkerEnv(t, wopts{
		giveUp:      3 * time.Hour,
		delayNotice: time.Hour,
		sink: testenv.SinkOptions{Rcpt: map[string]testenv.SinkReply{
			"u@slow.test": {Err: &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}, Times: 1000},
		}},
	})
	e.dns.Add("slow.test. 300 IN MX 10 mx.slow.test.", "mx.slow.test. 300 IN A 127.0.0.1")
	id := e.enqueue("app@acme.test", "u@slow.test")
	e.round()
	e.wantState(id, "u@slow.test", store.RcptPending, "452")
	e.clock.Add(90 * time.Minute) // past the delay notice age
	e.round()
	ds := e.dsns()
	if len(ds) != 1 || ds[0].Recipients[0].Action != dsn.Delayed {
		t.Fatalf("delay notice %+v", ds)
	}
	e.clock.Add(40 * time.Minute)
	e.round()
	if len(e.dsns()) != 1 {
		t.Fatal("a second delay notice")
	}
	e.clock.Add(2 * time.Hour) // past give_up_after
	e.round()
	e.wantState(id, "u@slow.test", store.RcptBounced, "gave up after 3h")
	ds = e.dsns()
	if len(ds) != 2 || ds[1].Recipients[0].Action != dsn.Failed || ds[1].Recipients[0].Status != [3]int{4, 4, 7} {
		t.Fatalf("give-up DSN %+v", ds)
	}
	// Temporary failures never suppress.
	if supp, _ := e.st.Suppressions(context.Background(), e.user.ID); len(supp) != 0 {
		t.Errorf("suppressed after a temporary failure: %+v", supp)
	}
}

func TestConnectionReuse(t *testing.T) {
	e := newWorkerEnv(t, wopts{perDestination: 1})
	e.dns.Add("reuse.test. 300 IN MX 10 mx.reuse.test.", "mx.reuse.test. 300 IN A 127.0.0.1")
	for i := 0; i < 5; i++ {
		e.enqueue("app@acme.test", fmt.Sprintf("u%d@reuse.test", i))
	}
	if n := e.round(); n != 5 {
		t.Fatalf("claimed %d", n)
	}
	msgs := e.sink.Messages()
	if len(msgs) != 5 || e.sink.Connections() != 1 {
		t.Fatalf("%d messages over %d connections, want 5 over 1", len(msgs), e.sink.Connections())
	}
}

// Bad DNS answers and misbehaving receivers are temporary failures with a
// clear reason: never a crash, never a lost message.
func TestTroubleIsTemporary(t *testing.T) {
	cases := []struct {
		name   string
		sink   testenv.SinkOptions
		dns    func(d *testenv.DNSServer)
		reason string
	}{
		{"servfail", testenv.SinkOptions{}, func(d *testenv.DNSServer) {
			d.Set("t.test.", dns.TypeMX, testenv.ServFail)
		}, "SERVFAIL"},
		{"dns timeout", testenv.SinkOptions{}, func(d *testenv.DNSServer) {
			d.Set("t.test.", dns.TypeMX, testenv.Timeout)
		}, "DNS"},
		{"cname loop", testenv.SinkOptions{}, func(d *testenv.DNSServer) {
			d.Add("t.test. 300 IN CNAME u.test.", "u.test. 300 IN CNAME t.test.")
		}, "DNS"},
		{"garbage dns", testenv.SinkOptions{}, func(d *testenv.DNSServer) {
			d.Set("t.test.", dns.TypeMX, testenv.Garbage)
		}, "DNS"},
		{"receiver hangs", testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{testenv.StageMail: {Hang: true}}}, mxOK, "timed out"},
		{"garbage reply", testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{testenv.StageEHLO: {Reply: "hello there\r\n"}}}, mxOK, "protocol error"},
		{"tls breaks", testenv.SinkOptions{BreakTLS: true}, mxOK, "TLS"},
		{"421 greeting", testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{testenv.StageGreeting: {Reply: "421 4.3.2 busy\r\n", Close: true}}}, mxOK, "421"},
	}
	short := delivery.Timeouts{Connect: 2 * time.Second, Greeting: 2 * time.Second, Mail: time.Second,
		Rcpt: time.Second, DataInit: time.Second, DataBlock: time.Second, DataEnd: time.Second, Quit: time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newWorkerEnv(t, wopts{sink: tc.sink, timeouts: short})
			tc.dns(e.dns)
			id := e.enqueue("app@acme.test", "u@t.test")
			e.round()
			r := e.wantState(id, "u@t.test", store.RcptPending, "")
			if !strings.Contains(r.LastResult, tc.reason) || !strings.Contains(r.LastResult, "temporary") {
				t.Errorf("result %q lacks %q", r.LastResult, tc.reason)
			}
			if len(e.dsns()) != 0 {
				t.Error("a DSN after a temporary failure")
			}
		})
	}
}

func mxOK(d *testenv.DNSServer) {
	d.Add("t.test. 300 IN MX 10 mx.t.test.", "mx.t.test. 300 IN A 127.0.0.1")
}

func TestIPv6Destination(t *testing.T) {
	e := newWorkerEnv(t, wopts{sink: testenv.SinkOptions{Listen: "[::1]:0"}})
	e.dns.Add("six.test. 300 IN MX 10 mx.six.test.", "mx.six.test. 300 IN AAAA ::1")
	id := e.enqueue("app@acme.test", "u@six.test")
	e.round()
	e.wantState(id, "u@six.test", store.RcptDelivered, "250")
	if ev := e.events(id); !strings.Contains(ev[len(ev)-1].Detail, "mx.six.test [::1]") {
		t.Errorf("not delivered over IPv6: %+v", ev[len(ev)-1])
	}
}

func TestPerDestinationLimit(t *testing.T) {
	e := newWorkerEnv(t, wopts{perDestination: 2})
	e.dns.Add("many.test. 300 IN MX 10 mx.many.test.", "mx.many.test. 300 IN A 127.0.0.1")
	for i := 0; i < 8; i++ {
		e.enqueue("app@acme.test", fmt.Sprintf("u%d@many.test", i))
	}
	e.round()
	if got := len(e.sink.Messages()); got != 8 {
		t.Fatalf("%d delivered", got)
	}
	if c := e.sink.Connections(); c < 1 || c > 2 {
		t.Fatalf("%d connections to one destination, limit 2", c)
	}
}

// A user whose recipients bounce past the configured rate is suspended,
// with the reason recorded.
func TestBounceRateSuspends(t *testing.T) {
	e := newWorkerEnv(t, wopts{abuse: &abuse.Thresholds{BounceRate: 0.5, BounceMinimum: 3, BounceWindow: time.Hour}})
	e.dns.Add("ok.test. 300 IN MX 10 mx.ok.test.", "mx.ok.test. 300 IN A 127.0.0.1")
	e.enqueue("app@acme.test", "a@ok.test")
	e.enqueue("app@acme.test", "x@nxdomain.test")
	e.round()
	if u, _ := e.st.UserByName(context.Background(), "acme"); u.Suspended() {
		t.Fatal("suspended below the minimum volume")
	}
	e.enqueue("app@acme.test", "y@nxdomain.test")
	e.round()
	u, _ := e.st.UserByName(context.Background(), "acme")
	if !u.Suspended() || !strings.Contains(u.SuspendReason, "bounce rate 67%") {
		t.Fatalf("after 2 of 3 bounced: %+v", u)
	}
}

// With a return path, each recipient gets its own envelope sender, so
// each is its own transaction (over the same connection); mail from a
// domain without one keeps its sender and shares a transaction.
func TestReturnPathPerRecipient(t *testing.T) {
	codec := returnpath.Codec{Key: []byte("worker test key"), Label: "pst-bounces"}
	e := newWorkerEnv(t, wopts{perDestination: 1, returnPath: func(st store.Store) delivery.ReturnPath {
		return &bounce.Service{Store: st, Codec: codec}
	}})
	ctx := context.Background()
	for _, name := range []string{"acme.test", "plain.test"} {
		if err := e.st.AddDomain(ctx, store.Domain{Name: name, UserID: e.user.ID, State: store.DomainVerified, CreatedAt: e.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := e.st.SetDomainState(ctx, name, store.DomainVerified, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.st.SetDomainReturnPath(ctx, "acme.test", true); err != nil {
		t.Fatal(err)
	}
	e.dns.Add("reuse.test. 300 IN MX 10 mx.reuse.test.", "mx.reuse.test. 300 IN A 127.0.0.1")
	verp := e.enqueue("app@acme.test", "a@reuse.test", "b@reuse.test", "c@reuse.test")
	plain := e.enqueue("app@plain.test", "d@reuse.test", "e@reuse.test")
	if n := e.round(); n != 2 {
		t.Fatalf("claimed %d", n)
	}
	msgs := e.sink.Messages()
	if len(msgs) != 4 || e.sink.Connections() != 1 {
		t.Fatalf("%d transactions over %d connections, want 4 over 1", len(msgs), e.sink.Connections())
	}
	seen := map[string]string{}
	for _, m := range msgs {
		if len(m.To) == 2 {
			if m.From != "app@plain.test" {
				t.Errorf("domain without a return path: MAIL FROM %q", m.From)
			}
			continue
		}
		if len(m.To) != 1 {
			t.Fatalf("transaction to %v", m.To)
		}
		seen[m.To[0]] = m.From
	}
	for idx, rcpt := range []string{"a@reuse.test", "b@reuse.test", "c@reuse.test"} {
		want := codec.Address(returnpath.Token{MessageID: verp, Idx: idx, Domain: "acme.test", Date: e.clock.Now()})
		if seen[rcpt] != want {
			t.Errorf("%s: MAIL FROM %q, want %q", rcpt, seen[rcpt], want)
		}
	}
	e.wantState(verp, "c@reuse.test", store.RcptDelivered, "")
	e.wantState(plain, "e@reuse.test", store.RcptDelivered, "")
}

// On a retry only the pending recipients are claimed: recipient 1 is
// then first in the claim, and its envelope sender must still name index
// 1, the recipient's place in the message.
func TestReturnPathOnRetry(t *testing.T) {
	codec := returnpath.Codec{Key: []byte("worker test key"), Label: "pst-bounces"}
	e := newWorkerEnv(t, wopts{returnPath: func(st store.Store) delivery.ReturnPath {
		return &bounce.Service{Store: st, Codec: codec}
	}})
	ctx := context.Background()
	if err := e.st.AddDomain(ctx, store.Domain{Name: "acme.test", UserID: e.user.ID, State: store.DomainVerified, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	e.st.SetDomainState(ctx, "acme.test", store.DomainVerified, e.clock.Now())
	e.st.SetDomainReturnPath(ctx, "acme.test", true)
	e.dns.Add("up.test. 300 IN MX 10 mx.up.test.", "mx.up.test. 300 IN A 127.0.0.1",
		"down.test. 300 IN MX 10 mx.down.test.", "mx.down.test. 300 IN A 127.0.0.1")
	e.dns.Set("down.test.", dns.TypeMX, testenv.ServFail)
	id := e.enqueue("app@acme.test", "a@up.test", "b@down.test")
	e.round()
	e.wantState(id, "a@up.test", store.RcptDelivered, "")
	e.wantState(id, "b@down.test", store.RcptPending, "")
	e.dns.Set("down.test.", dns.TypeMX, testenv.Normal)
	e.clock.Add(2 * time.Minute)
	if n := e.round(); n != 1 {
		t.Fatalf("retry claimed %d", n)
	}
	e.wantState(id, "b@down.test", store.RcptDelivered, "")
	want := codec.Address(returnpath.Token{MessageID: id, Idx: 1, Domain: "acme.test", Date: e.clock.Now()})
	msgs := e.sink.Messages()
	if len(msgs) != 2 || msgs[1].To[0] != "b@down.test" || msgs[1].From != want {
		t.Fatalf("retry sent %+v, want MAIL FROM %s", msgs[len(msgs)-1], want)
	}
}
