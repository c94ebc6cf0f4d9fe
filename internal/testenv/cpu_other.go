//go:build !unix

package testenv

import (
	"testing"
	"time"
)

// CPUTime is 0 where getrusage(2) is missing: the CPU metrics read 0.
func CPUTime(testing.TB) time.Duration { return 0 }
