package testenv

import (
	"testing"
	"time"
)

// ReportCPU reports as the metric unit the process's CPU time since
// start (a CPUTime) divided by n.
func ReportCPU(b *testing.B, start time.Duration, n int, unit string) {
	b.Helper()
	b.ReportMetric(float64((CPUTime(b)-start).Microseconds())/float64(n), unit)
}

// CPUPerOp starts counting the process's CPU time; the function it
// returns reports it per iteration as cpu-µs/op.
func CPUPerOp(b *testing.B) func() {
	b.Helper()
	start := CPUTime(b)
	return func() { ReportCPU(b, start, b.N, "cpu-µs/op") }
}
