package smtpd

import (
	"context"
	"log/slog"
)

// sessionLogger is cfg.Logger.With("session", id, "ip", ip) without what
// With costs up front: a text or JSON handler formats the attributes into
// a handler of its own, a few hundred bytes that every session, idle
// ones included, would hold. A session logs rarely; this handler builds
// the same With handler only when a record is written, so the output is
// byte for byte the same.
func sessionLogger(l *slog.Logger, id, ip string) *slog.Logger {
	return slog.New(&sessionHandler{inner: l.Handler(), id: id, ip: ip})
}

type sessionHandler struct {
	inner  slog.Handler
	id, ip string
}

func (h *sessionHandler) with() slog.Handler {
	return h.inner.WithAttrs([]slog.Attr{slog.String("session", h.id), slog.String("ip", h.ip)})
}

func (h *sessionHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *sessionHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.with().Handle(ctx, r)
}

// WithAttrs and WithGroup (an authenticated session adds its key) build
// the real thing.
func (h *sessionHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with().WithAttrs(attrs)
}

func (h *sessionHandler) WithGroup(name string) slog.Handler {
	return h.with().WithGroup(name)
}
