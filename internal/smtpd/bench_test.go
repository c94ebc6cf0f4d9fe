package smtpd_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postern/postern/internal/smtpd"
)

// BenchmarkMXLargeDataHeap measures what finding 1 of the attack was
// about: many unauthenticated sessions sending 10 MB each to a return
// path. Every one is refused (552, read and dropped), and the server's heap
// stays bounded: "peak-heap-MB" is the largest live heap sampled while
// they ran (the client side's buffers included), "sessions" how many ran
// at once.
func BenchmarkMXLargeDataHeap(b *testing.B) {
	const sessions = 20
	e := newEnv(b, envOptions{bounces: true, maxBytes: 30 << 20, mxMaxBytes: 1 << 20})
	rp := e.returnPath(b)
	chunk := strings.Repeat(strings.Repeat("x", 998)+"\r\n", 1024) // 1 MiB
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for j := 0; j < sessions; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.dialRaw(smtpd.MX)
				r.cmd("EHLO mx.far.test", "250")
				r.cmd("MAIL FROM:<>", "250")
				r.cmd("RCPT TO:<"+rp+">", "250")
				r.cmd("DATA", "354")
				for k := 0; k < 10; k++ {
					r.send(chunk)
				}
				r.send(".\r\n")
				r.expect("552")
				r.conn.Close()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
	b.ReportMetric(sessions, "sessions")
}
