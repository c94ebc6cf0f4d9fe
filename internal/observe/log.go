package observe

import (
	"fmt"
	"io"
	"log/slog"
)

// Format is the process log's format (log.format).
type Format string

// The formats.
const (
	FormatText Format = "text" // logfmt: key=value, one line per record
	FormatJSON Format = "json" // one JSON object per line
)

// ParseFormat checks a log.format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatText, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("observe: log format %q: must be %q or %q", s, FormatText, FormatJSON)
}

// NewLogger returns the process logger: records at level and above,
// written to w in format f. The debug log and the mail log (NewMailLog)
// share it.
func NewLogger(w io.Writer, f Format, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f == FormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
