//go:build unix

package sqlite

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU starts counting the process's CPU time; the function it
// returns reports it per iteration as cpu-µs/op. On the write path the
// wall time is mostly fsync; this is the part the store itself spends.
func reportCPU(b *testing.B) func() {
	b.Helper()
	start := cpuTime(b)
	return func() {
		b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
