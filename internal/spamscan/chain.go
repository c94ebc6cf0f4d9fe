package spamscan

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
)

// Chain is the scanner Postern runs on every message: Builtin first, so
// that GTUBE and executables are refused even when rspamd is down, then
// rspamd when one is configured. The stricter action wins.
type Chain struct {
	Builtin Builtin
	Rspamd  *Rspamd // nil: the built-in scanner alone
	// FailOpen says what happens when rspamd fails (ErrUnavailable): true,
	// the built-in verdict stands and the message goes on; false, Scan
	// returns the error and the caller refuses the message for now (a
	// temporary failure: the client retries, nothing is lost).
	FailOpen bool
	// Log receives a warning each time rspamd fails, with the policy
	// applied. Nil: no log.
	Log *slog.Logger
}

// Scan judges msg with both scanners. The verdict's action is the
// stricter of the two; its score the higher; its symbols both lists; its
// reason the winner's; its headers both sets, rspamd's over the built-in
// ones of the same name.
func (c Chain) Scan(ctx context.Context, env Envelope, msg []byte) (Verdict, error) {
	bv, err := c.Builtin.Scan(ctx, env, msg)
	if err != nil {
		return Verdict{}, err
	}
	if bv.Action == ActionReject || c.Rspamd == nil {
		return bv, nil
	}
	rv, err := c.Rspamd.Scan(ctx, env, msg)
	if err != nil {
		if ctx.Err() != nil {
			// The session is gone (client hung up, server stopping): no
			// policy to apply.
			return Verdict{}, fmt.Errorf("spamscan: %w", ctx.Err())
		}
		if c.Log != nil {
			c.Log.Warn("spam scanner failed", "scanner", "rspamd", "fail_open", c.FailOpen, "queue_id", env.QueueID, "user", env.User, "err", err)
		}
		if c.FailOpen {
			return bv, nil
		}
		return Verdict{}, fmt.Errorf("spamscan: failing closed: %w", err)
	}
	return merge(bv, rv), nil
}

// merge combines the built-in verdict b with rspamd's r.
func merge(b, r Verdict) Verdict {
	win := r
	if b.Action.Stricter(r.Action) {
		win = b
	}
	v := Verdict{
		Action:  win.Action,
		Score:   math.Max(b.Score, r.Score),
		Symbols: sortedSymbols(b.Symbols, r.Symbols),
		Reason:  win.Reason,
	}
	if len(b.Headers)+len(r.Headers) > 0 {
		v.Headers = make(map[string]string, len(b.Headers)+len(r.Headers))
		maps.Copy(v.Headers, b.Headers)
		maps.Copy(v.Headers, r.Headers)
	}
	return v
}
