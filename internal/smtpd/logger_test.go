package smtpd

import (
	"bytes"
	"log/slog"
	"testing"
)

// TestSessionLogger: the lazy session logger writes what Logger.With
// writes, before and after an AUTH adds attributes, in a group too.
func TestSessionLogger(t *testing.T) {
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo})
		},
		"json": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var want, got bytes.Buffer
			base := slog.New(newHandler(&want)).With("session", "abc", "ip", "192.0.2.1")
			lazy := sessionLogger(slog.New(newHandler(&got)), "abc", "192.0.2.1")
			for _, l := range []*slog.Logger{base, lazy} {
				l.Info("rcpt refused", "reason", "relay")
				l.Debug("not written")
				l.With("key_id", "k1", "user", "acme").Info("data refused", "reason", "size")
				l.WithGroup("g").Warn("grouped", "n", 1)
			}
			// The time differs; compare without it.
			strip := func(b []byte) string {
				var out bytes.Buffer
				for _, line := range bytes.Split(b, []byte("\n")) {
					if i := bytes.Index(line, []byte("level")); i >= 0 {
						out.Write(line[i:])
					}
					out.WriteByte('\n')
				}
				return out.String()
			}
			if w, g := strip(want.Bytes()), strip(got.Bytes()); w != g {
				t.Errorf("lazy logger wrote\n%s\nwant\n%s", g, w)
			}
			if lazy.Enabled(t.Context(), slog.LevelDebug) {
				t.Error("debug enabled through the lazy logger")
			}
		})
	}
}
