package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
)

// cluster is n whole Postern nodes in this process on one PostgreSQL
// database, with one DNS server and one receiving sink.
type cluster struct {
	nodes []*running
	sink  *testenv.Sink
}

func startCluster(tb testing.TB, n int) *cluster {
	tb.Helper()
	dsn := testenv.PostgresDSN(tb)
	d, sink := startPeers(tb)
	c := &cluster{sink: sink}
	var key string // made by the first node, used by all
	for range n {
		c.nodes = append(c.nodes, startNode(tb, d, sink, dsn, &key))
	}
	return c
}

// submit sends n messages over conns connections spread over the nodes.
func (c *cluster) submit(tb testing.TB, conns, n int) { submitOver(tb, c.nodes, conns, n) }

// delivered counts the distinct messages the sink has, and the copies
// beyond one.
func (c *cluster) delivered() (distinct, extra int) {
	seen := map[string]int{}
	for _, m := range c.sink.Messages() {
		if i := strings.Index(string(m.Body), "Subject: m"); i >= 0 {
			seen[string(m.Body[i:i+len("Subject: m000000")])]++
		}
	}
	for _, n := range seen {
		extra += n - 1
	}
	return len(seen), extra
}

func (c *cluster) waitDelivered(tb testing.TB, n int) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, _ := c.delivered()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d delivered", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterTwoNodesDeliverEachMessageOnce: mail submitted to either of
// two nodes on one PostgreSQL is delivered, each message once, the
// claims of the two delivery workers never overlapping.
func TestClusterTwoNodesDeliverEachMessageOnce(t *testing.T) {
	c := startCluster(t, 2)
	c.submit(t, 4, 200)
	c.waitDelivered(t, 200)
	// Let anything claimed twice arrive twice before counting.
	time.Sleep(500 * time.Millisecond)
	if got, extra := c.delivered(); got != 200 || extra != 0 {
		t.Fatalf("delivered %d distinct messages with %d extra copies; want 200, none extra", got, extra)
	}
}

// BenchmarkCluster: the load of BenchmarkSubmitAndDeliver (16 connections,
// implicit TLS + AUTH, delivery to a sink) on one and on two nodes sharing
// one PostgreSQL, all in this process on this machine's cores.
func BenchmarkCluster(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			c := startCluster(b, n)
			cpu := testenv.CPUTime(b)
			pgBefore := postgresCPU()
			b.ResetTimer()
			t0 := time.Now()
			c.submit(b, 16, b.N)
			accepted := time.Since(t0)
			c.waitDelivered(b, b.N)
			delivered := time.Since(t0)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
			b.ReportMetric(float64(b.N)/delivered.Seconds(), "delivered/s")
			testenv.ReportCPU(b, cpu, b.N, "cpu-µs/msg")
			if pg := postgresCPU() - pgBefore; pg > 0 {
				b.ReportMetric(float64(pg.Microseconds())/float64(b.N), "pg-cpu-µs/msg")
			}
		})
	}
}

// postgresCPU is the CPU time used so far by the processes called
// postgres on this machine (the local server's backends, which exit with
// their connections: an undercount when connections close), read from
// /proc; zero where there is none.
func postgresCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime: fields 14 and 15, counted
		// after the closing parenthesis of comm.
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if len(fields) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		ticks += u + st
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// TestClusterHourlyLimitExactAcrossNodes (issue 13): a limit of 20
// messages per hour for a user, with clients on both nodes racing, admits
// exactly 20; the others are told to try later (451 4.7.0).
func TestClusterHourlyLimitExactAcrossNodes(t *testing.T) {
	c := startCluster(t, 2)
	ctx := context.Background()
	if err := c.nodes[0].app.Store.SetLimit(ctx, store.LimitRow{Kind: "user", Subject: "acme", Period: "hour", Messages: 20, Mode: "reject"}); err != nil {
		t.Fatal(err)
	}
	// Ten connections per node (the per-address connection limit is
	// for all of loopback), three messages each: 60 attempts.
	const clients, each = 10, 3
	var (
		mu       sync.Mutex
		accepted int
		codes    = map[int]int{}
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for k := range 2 * clients {
		node := c.nodes[k%2]
		wg.Go(func() {
			cl, err := smtp.DialTLS(node.r.Addrs[smtpd.Submissions][0].String(), node.tls)
			if err != nil {
				t.Error(err)
				return
			}
			defer cl.Close()
			if err := cl.Auth(sasl.NewPlainClient("", "apikey", node.key)); err != nil {
				t.Error(err)
				return
			}
			<-start
			for i := range each {
				msg := fmt.Sprintf("From: app@example.test\r\nSubject: m%06d\r\n\r\nrace %d\r\n", k*each+i, k)
				err = cl.SendMail("app@example.test", []string{"u@example.test"}, strings.NewReader(msg))
				mu.Lock()
				var se *smtp.SMTPError
				switch {
				case err == nil:
					accepted++
				case errors.As(err, &se):
					codes[se.Code]++
					if se.Code != 451 || !strings.Contains(se.Message, "Rate limit") {
						t.Errorf("refused with %d %v %q, want 451 4.7.0 Rate limit", se.Code, se.EnhancedCode, se.Message)
					}
				default:
					t.Errorf("send: %v", err)
				}
				mu.Unlock()
				if err != nil {
					if err := cl.Reset(); err != nil {
						t.Errorf("RSET: %v", err)
						return
					}
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if accepted != 20 || codes[451] != 2*clients*each-20 {
		t.Fatalf("accepted %d and refused %v of %d racing over two nodes; want exactly 20 accepted", accepted, codes, 2*clients*each)
	}
	c.waitDelivered(t, 20)
}
