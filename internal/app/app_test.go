package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
)

// running is a whole Postern in-process: real listeners, store, queue and
// delivery worker, with DNS and the receiving MTA on loopback.
type running struct {
	app  *app.App
	r    *app.Running
	sink *testenv.Sink
	key  string
	tls  *tls.Config
	// submitVia replaces submit (SMTP) in the benchmark when set.
	submitVia func(tb testing.TB, conns, n int)
}

func start(tb testing.TB) *running {
	tb.Helper()
	d, sink := startPeers(tb)
	return startNode(tb, d, sink, "", nil)
}

// startPeers starts the DNS server, where example.test's MX is 127.0.0.1,
// and the receiving sink.
func startPeers(tb testing.TB) (*testenv.DNSServer, *testenv.Sink) {
	d := testenv.StartDNS(tb)
	d.Add("example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.1")
	return d, testenv.StartSink(tb, testenv.SinkOptions{})
}

// peerConfig is a loopback config whose resolver is d and whose
// deliveries go to sink, on loopback (delivery.allow_private_networks).
func peerConfig(tb testing.TB, d *testenv.DNSServer, sink *testenv.Sink) config.Config {
	tb.Helper()
	_, port, _ := net.SplitHostPort(sink.Addr)
	cfg := testenv.LoopbackConfig(tb)
	cfg.DNS.Resolver = d.Addr
	cfg.Delivery.Port, _ = strconv.Atoi(port)
	cfg.Delivery.AllowPrivateNetworks = true // the sink is on loopback
	return cfg
}

// startNode opens and starts one Postern delivering through d to sink: on
// the PostgreSQL database dsn, or its own SQLite when dsn is "". Without
// a key it first creates the user acme, its trusted domain example.test
// and a key (the first node of a store); with one, it uses it.
func startNode(tb testing.TB, d *testenv.DNSServer, sink *testenv.Sink, dsn string, key *string) *running {
	tb.Helper()
	cfg := peerConfig(tb, d, sink)
	if dsn != "" {
		cfg.Store.Driver, cfg.Store.DSN = config.DriverPostgres, dsn
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var k string
	if key != nil {
		k = *key
	}
	if k == "" {
		u, err := a.Accounts.CreateUser(ctx, "acme", "")
		if err != nil {
			tb.Fatal(err)
		}
		if err := a.Store.AddDomain(ctx, store.Domain{Name: "example.test", UserID: u.ID, State: store.DomainTrusted, CreatedAt: time.Now()}); err != nil {
			tb.Fatal(err)
		}
		if k, _, err = a.Accounts.CreateKey(ctx, "acme", "bench", nil); err != nil {
			tb.Fatal(err)
		}
		if key != nil {
			*key = k
		}
	}
	r, err := a.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r.Stop(ctx)
		a.Close()
	})
	pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "selfsigned-cert.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &running{app: a, r: r, sink: sink, key: k, tls: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
}

// submit sends n messages over conns connections and returns when all are
// acknowledged.
func (p *running) submit(tb testing.TB, conns, n int) { submitOver(tb, []*running{p}, conns, n) }

// submitOver sends n messages over conns connections spread over nodes,
// each message with its number in the subject ("m000042"), and returns
// when all are acknowledged.
func submitOver(tb testing.TB, nodes []*running, conns, n int) {
	var wg sync.WaitGroup
	for k := range conns {
		node := nodes[k%len(nodes)]
		wg.Go(func() {
			cl, err := smtp.DialTLS(node.r.Addrs[smtpd.Submissions][0].String(), node.tls)
			if err != nil {
				tb.Error(err)
				return
			}
			defer cl.Close()
			if err := cl.Auth(sasl.NewPlainClient("", "apikey", node.key)); err != nil {
				tb.Error(err)
				return
			}
			for i := k; i < n; i += conns {
				msg := fmt.Sprintf("From: app@example.test\r\nSubject: m%06d\r\n\r\nmessage %d\r\n", i, i)
				if err := cl.SendMail("app@example.test", []string{fmt.Sprintf("u%d@example.test", i%50)}, strings.NewReader(msg)); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func (p *running) waitDelivered(tb testing.TB, n int) {
	deadline := time.Now().Add(2 * time.Minute)
	for len(p.sink.Messages()) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d delivered", len(p.sink.Messages()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSubmitThenDeliver(t *testing.T) {
	p := start(t)
	p.submit(t, 4, 20)
	p.waitDelivered(t, 20)
	msgs, err := p.app.Store.Messages(context.Background())
	if err != nil || len(msgs) != 20 {
		t.Fatalf("%d messages, err %v", len(msgs), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		done := 0
		msgs, _ = p.app.Store.Messages(context.Background())
		for _, m := range msgs {
			if m.State == "done" {
				done++
			}
		}
		if done == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 20 done", done)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkSubmitAndDeliver measures the whole path on loopback: submit
// over implicit TLS with AUTH on 16 connections, group-committed queue,
// delivery over STARTTLS to a sink. It reports accepted and delivered
// messages per second and the process CPU time per message.
func BenchmarkSubmitAndDeliver(b *testing.B) { benchSubmitAndDeliver(b, start(b)) }

// BenchmarkSubmitHTTPAndDeliver is the same load over the HTTP send API:
// 16 keep-alive clients POST /v3/mail/send with SendGrid's JSON on
// loopback (plain HTTP), through the same funnel, queue and delivery.
func BenchmarkSubmitHTTPAndDeliver(b *testing.B) {
	p := start(b)
	p.submitVia = p.submitHTTP
	benchSubmitAndDeliver(b, p)
}

// submitHTTP posts n messages over conns concurrent keep-alive clients.
func (p *running) submitHTTP(tb testing.TB, conns, n int) {
	url := "http://" + p.r.HTTPAddr.String() + "/v3/mail/send"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns}}
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += conns {
				body := fmt.Sprintf(`{"personalizations":[{"to":[{"email":"u%d@example.test"}]}],"from":{"email":"app@example.test"},`+
					`"subject":"%d","content":[{"type":"text/plain","value":"message %d"}]}`, i%50, i, i)
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+p.key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					tb.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					tb.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSubmitAndDeliverVERP is the same with the domain's return path
// on: each message leaves with its own VERP envelope sender (one more
// domain lookup per delivery attempt, and an HMAC).
func BenchmarkSubmitAndDeliverVERP(b *testing.B) {
	p := start(b)
	if err := p.app.Store.SetDomainReturnPath(context.Background(), "example.test", true); err != nil {
		b.Fatal(err)
	}
	benchSubmitAndDeliver(b, p)
	if m := p.sink.Messages(); len(m) == 0 || !strings.HasSuffix(m[0].From, "@pst-bounces.example.test") {
		b.Fatalf("not sent with a VERP sender: %+v", m[:min(len(m), 1)])
	}
}

func benchSubmitAndDeliver(b *testing.B, p *running) {
	b.ReportAllocs() // the whole process's: client, server and sink
	cpu := testenv.CPUTime(b)
	b.ResetTimer()
	t0 := time.Now()
	if p.submitVia != nil {
		p.submitVia(b, 16, b.N)
	} else {
		p.submit(b, 16, b.N)
	}
	accepted := time.Since(t0)
	p.waitDelivered(b, b.N)
	delivered := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/delivered.Seconds(), "delivered/s")
	// Client, server and sink share this process: the CPU figure is an
	// upper bound for Postern alone.
	testenv.ReportCPU(b, cpu, b.N, "cpu-µs/msg")
}
