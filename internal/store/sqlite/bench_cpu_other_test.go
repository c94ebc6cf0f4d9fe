//go:build !unix

package sqlite

import "testing"

// reportCPU reports nothing where getrusage(2) is missing.
func reportCPU(*testing.B) func() { return func() {} }
