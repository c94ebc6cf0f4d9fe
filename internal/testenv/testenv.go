package testenv

import (
	"bytes"
	"sync"
	"testing"

	"github.com/postern/postern/internal/config"
)

// LogBuffer collects log output from several goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// LoopbackConfig is the default config with its data in a temporary
// directory and every listener on a free 127.0.0.1 port.
func LoopbackConfig(t testing.TB) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.SMTP.Submission = []string{"127.0.0.1:0"}
	cfg.SMTP.Submissions = []string{"127.0.0.1:0"}
	cfg.SMTP.MX = []string{"127.0.0.1:0"}
	cfg.HTTP.Listen = "127.0.0.1:0"
	return cfg
}
