//go:build unix

package testenv

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime is the CPU time, user and system, the whole process has used
// so far (getrusage(2)): in a benchmark, the measure that depends least
// on what else the machine is doing.
func CPUTime(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
