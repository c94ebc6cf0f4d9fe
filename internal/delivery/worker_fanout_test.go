package delivery_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
)

// countingResolver passes every lookup to the real resolver and keeps two
// high-water marks, with atomic counters rather than timing:
//
//   - lookups: LookupMX and LookupIP calls in flight at once;
//   - routes: destinations being worked on at once. A route begins with
//     its MX lookup and has certainly not ended before the sink holds its
//     message (the worker ends a route after the 250 to DATA, at QUIT), so
//     "MX lookups begun minus messages the sink holds", read when a route
//     begins, never counts more routes than the worker has under way.
//     The test sends one transaction per domain for this.
type countingResolver struct {
	dnsres.Resolver
	sink *testenv.Sink

	lookups, maxLookups atomic.Int32
	begun, maxRoutes    atomic.Int32
}

func (c *countingResolver) LookupMX(ctx context.Context, domain string) ([]dnsres.MX, error) {
	raise(&c.maxRoutes, c.begun.Add(1)-int32(len(c.sink.Messages())))
	defer c.enter()()
	return c.Resolver.LookupMX(ctx, domain)
}

func (c *countingResolver) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	defer c.enter()()
	return c.Resolver.LookupIP(ctx, host)
}

// enter counts a lookup in flight until the returned function is called.
func (c *countingResolver) enter() func() {
	raise(&c.maxLookups, c.lookups.Add(1))
	return func() { c.lookups.Add(-1) }
}

// raise makes max at least n.
func raise(max *atomic.Int32, n int32) {
	for {
		m := max.Load()
		if n <= m || max.CompareAndSwap(m, n) {
			return
		}
	}
}

// TestFinding3DeliveryFanOutBounded guards finding 3, "Unbounded delivery
// fan-out": a claimed batch to 1000 recipient domains used to start 1000
// route goroutines, each with its DNS lookups, at once, before any
// connection limit applied. Now at most Concurrency domains are worked on
// at once and at most MaxLookups route lookups run at once.
func TestFinding3DeliveryFanOutBounded(t *testing.T) {
	const (
		domains     = 1000
		messages    = 4 // each to domains/messages domains
		concurrency = 8
		maxLookups  = 3
	)
	var cr *countingResolver
	e := newWorkerEnv(t, wopts{
		sink:           testenv.SinkOptions{NoSTARTTLS: true}, // 1000 handshakes would only slow the test
		concurrency:    concurrency,
		perDestination: 1,
		maxLookups:     maxLookups,
		resolver: func(r dnsres.Resolver) dnsres.Resolver {
			cr = &countingResolver{Resolver: r}
			return cr
		},
	})
	cr.sink = e.sink
	var ids []string
	for m := range messages {
		var rcpts []string
		for i := range domains / messages {
			d := fmt.Sprintf("d%04d.test", m*domains/messages+i+1)
			e.dns.Add(d+". 300 IN MX 10 mx."+d+".", "mx."+d+". 300 IN A 127.0.0.1")
			rcpts = append(rcpts, "u@"+d)
		}
		ids = append(ids, e.enqueue("app@acme.test", rcpts...))
	}
	if n := e.round(); n != messages {
		t.Fatalf("claimed %d messages, want %d", n, messages)
	}
	t.Logf("high-water marks: %d lookups (limit %d), %d routes (limit %d)",
		cr.maxLookups.Load(), maxLookups, cr.maxRoutes.Load(), concurrency)
	if got := cr.maxLookups.Load(); got > maxLookups {
		t.Errorf("%d DNS lookups ran at once, limit %d", got, maxLookups)
	}
	if got := cr.maxRoutes.Load(); got > concurrency {
		t.Errorf("%d destinations were worked on at once, limit %d", got, concurrency)
	}
	if got := len(e.sink.Messages()); got != domains {
		t.Errorf("%d transactions delivered, want %d", got, domains)
	}
	for _, id := range ids {
		for addr, r := range e.recipients(id) {
			if r.State != store.RcptDelivered {
				t.Fatalf("%s %s: %s %q", id, addr, r.State, r.LastResult)
			}
		}
	}
}
