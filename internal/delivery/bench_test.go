//go:build unix

package delivery_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/delivery"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/testenv"
)

// BenchmarkDeliver measures the delivery path per message: the worker
// claims due messages (batches of 100), reads each body and its owner's
// suppressions, delivers it over STARTTLS to an in-process sink (four
// recipient domains, all on loopback, three connections each at most)
// and records the result, synced, over a real SQLite store. The messages
// (4 KiB, one recipient) are queued before the timer starts. One op is
// one message; cpu-µs/op is the whole process's CPU (the sink's TLS and
// SMTP server included, so an upper bound for the worker), from
// getrusage, which does not depend on the machine's other load the way
// the wall time does.
func BenchmarkDeliver(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/q.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(ctx, "acme", "")
	if err != nil {
		b.Fatal(err)
	}
	d := testenv.StartDNS(b)
	domains := []string{"one.test", "two.test", "three.test", "four.test"}
	for _, dom := range domains {
		d.Add(dom+". 300 IN MX 10 mx."+dom+".", "mx."+dom+". 300 IN A 127.0.0.1")
	}
	sink := testenv.StartSink(b, testenv.SinkOptions{})
	_, port, _ := net.SplitHostPort(sink.Addr)
	p, _ := strconv.Atoi(port)
	res, err := dnsres.New(d.Addr, dnsres.Options{Timeout: time.Second, Attempts: 2})
	if err != nil {
		b.Fatal(err)
	}
	w := delivery.NewWorker(delivery.WorkerConfig{
		Store:       st,
		Resolver:    res,
		Hostname:    "postern.test",
		Port:        p,
		TLS:         &tls.Config{RootCAs: sink.RootCAs},
		RetryFirst:  time.Minute,
		GiveUpAfter: 5 * 24 * time.Hour,
		DelayNotice: 4 * time.Hour,
		Timeouts: delivery.Timeouts{Connect: 15 * time.Second, Greeting: 15 * time.Second, Mail: 15 * time.Second,
			Rcpt: 15 * time.Second, DataInit: 15 * time.Second, DataBlock: 15 * time.Second, DataEnd: 15 * time.Second, Quit: 5 * time.Second},

		AllowPrivateNetworks: true,
	})
	line := strings.Repeat("All work and no play makes a dull message. ", 2) + "\r\n"
	text := strings.Repeat(line, 4096/len(line))
	msgs := make([]store.NewMessage, b.N)
	now := time.Now()
	for i := range msgs {
		id := fmt.Sprintf("m%08d", i)
		msgs[i] = store.NewMessage{ID: id, UserID: u.ID, KeyID: "k", From: "app@acme.test",
			Recipients: []string{fmt.Sprintf("u%d@%s", i%50, domains[i%len(domains)])},
			Body:       []byte("From: app@acme.test\r\nSubject: bench\r\nMessage-ID: <" + id + "@postern.test>\r\n\r\n" + text),
			CreatedAt:  now}
	}
	for i := 0; i < len(msgs); i += 500 {
		if err := st.EnqueueBatch(ctx, msgs[i:min(i+500, len(msgs))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := testenv.CPUTime(b)
	for claimed := 0; claimed < b.N; {
		n, err := w.RunOnce(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("nothing due after %d of %d", claimed, b.N)
		}
		claimed += n
	}
	b.StopTimer()
	testenv.ReportCPU(b, start, b.N, "cpu-µs/op")
	if got := len(sink.Messages()); got != b.N {
		b.Fatalf("sink has %d messages, want %d", got, b.N)
	}
}
