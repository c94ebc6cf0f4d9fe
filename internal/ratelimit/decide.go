package ratelimit

import (
	"fmt"
	"time"
)

// Request is one message, with its number of recipients, to be checked
// against the limits of every subject it is sent as.
type Request struct {
	Subjects   []SubjectLimits
	Recipients int64
	Now        time.Time
}

// SubjectLimits is a subject and the limits that apply to it (see Merge).
type SubjectLimits struct {
	Subject Subject
	Limits  []Limit
}

// Counts is what was sent in one window.
type Counts struct {
	Messages, Recipients int64
}

// Usage holds, for each subject and period, the counts in the window of
// that period that contains the request's time.
type Usage map[Subject]map[Period]Counts

// Decision is the verdict on a request.
type Decision struct {
	// Allow is true when the message may be accepted, now or held.
	Allow bool
	// Hold is true when the message is over a hold-mode limit: accept it,
	// but deliver it no earlier than HoldUntil.
	Hold      bool
	HoldUntil time.Time
	// RetryAfter is, for a refusal, the time until the blocking window
	// ends. Zero for a permanent refusal of an oversize message.
	RetryAfter time.Duration
	// Permanent is true when retrying this month cannot help: a month
	// quota is exhausted, or the message alone has more recipients than a
	// limit allows. Otherwise a refusal is temporary (451 4.7.0).
	Permanent bool
	// Blocking is the limit that decided a refusal or a hold, and
	// BlockingSubject the subject it belongs to; nil when allowed outright.
	Blocking        *Limit
	BlockingSubject Subject
	// Reason is one line for the SMTP reply or the log: the subject, the
	// limit and when to try again. It holds nothing internal.
	Reason string
}

// Decide judges a request at req.Now from the usage of the current
// windows: may this message go? It applies every limit of every subject:
//
//   - a message with more recipients than a recipients limit allows is
//     refused permanently, whatever the mode;
//   - over any reject-mode limit, it is refused until the blocking window
//     ends (the latest-ending one if several block), permanently if that
//     is a month;
//   - over hold-mode limits only, it is allowed and held until the latest
//     end among the exceeded windows.
//
// Decide looks at one instant only. Limiter.Reserve also checks the
// windows a held message is released into.
func Decide(req Request, usage Usage) Decision {
	now := req.Now.UTC()
	lookup := func(s Subject, p Period, _ time.Time) Counts { return usage[s][p] }
	v := evaluate(req, now, lookup)
	if v.hold != nil && v.oversize == nil && v.reject == nil {
		return holdDecision(v.hold)
	}
	return v.decision(now)
}

// countsAt returns a subject's counts in the window of period p that
// contains the given time.
type countsAt func(s Subject, p Period, at time.Time) Counts

// hit is one limit a request would exceed.
type hit struct {
	subject    Subject
	limit      Limit
	end        time.Time // end of the exceeded window
	recipients bool      // the recipients count, not the messages count, is over
	oversize   bool      // the message alone is over the recipients limit
	req        int64     // the request's recipients, for an oversize reason
}

// verdict is what evaluate found: the deciding hit of each kind.
type verdict struct {
	oversize *hit // the first message-alone-too-big hit
	reject   *hit // the latest-ending reject-mode hit
	hold     *hit // the latest-ending hold-mode hit
}

// evaluate checks every limit of req in the windows that contain at.
func evaluate(req Request, at time.Time, counts countsAt) verdict {
	rcpts := max(req.Recipients, 0)
	var v verdict
	for _, sl := range req.Subjects {
		for _, lim := range sl.Limits {
			if !lim.Period.valid() {
				continue
			}
			if lim.Recipients > 0 && rcpts > lim.Recipients {
				if v.oversize == nil {
					v.oversize = &hit{subject: sl.Subject, limit: lim, recipients: true, oversize: true, req: rcpts}
				}
				continue
			}
			c := counts(sl.Subject, lim.Period, at)
			overMsgs := lim.Messages > 0 && c.Messages+1 > lim.Messages
			overRcpts := lim.Recipients > 0 && c.Recipients+rcpts > lim.Recipients
			if !overMsgs && !overRcpts {
				continue
			}
			_, end := Window(lim.Period, at)
			h := &hit{subject: sl.Subject, limit: lim, end: end, recipients: !overMsgs}
			if lim.Mode.hold() {
				v.hold = later(v.hold, h)
			} else {
				v.reject = later(v.reject, h)
			}
		}
	}
	return v
}

// later returns the hit whose window ends last; on a tie, the longer
// period (a month quota outranks a day limit ending at the same instant);
// on a full tie, the first.
func later(cur, h *hit) *hit {
	switch {
	case cur == nil:
		return h
	case h.end.After(cur.end):
		return h
	case h.end.Equal(cur.end) && h.limit.Period.rank() > cur.limit.Period.rank():
		return h
	}
	return cur
}

// decision turns a verdict into a refusal, or an outright allow when
// nothing blocks. A hold is built by the caller.
func (v verdict) decision(now time.Time) Decision {
	switch {
	case v.oversize != nil:
		h := v.oversize
		lim := h.limit
		return Decision{
			Permanent:       true,
			Blocking:        &lim,
			BlockingSubject: h.subject,
			Reason: fmt.Sprintf("%s: %s in one message is more than the limit of %s per %s",
				h.subject, count(h.req, "recipient"), count(lim.Recipients, "recipient"), lim.Period),
		}
	case v.reject != nil:
		h := v.reject
		lim := h.limit
		d := Decision{
			RetryAfter:      h.end.Sub(now),
			Permanent:       lim.Period == Month,
			Blocking:        &lim,
			BlockingSubject: h.subject,
		}
		if d.Permanent {
			d.Reason = fmt.Sprintf("%s: monthly quota of %s reached; it resets %s",
				h.subject, h.what(), h.end.Format("2006-01-02 15:04 UTC"))
		} else {
			d.Reason = fmt.Sprintf("%s: %s per %s reached; try again in %s",
				h.subject, h.what(), lim.Period, humanDuration(d.RetryAfter))
		}
		return d
	}
	return Decision{Allow: true}
}

// holdDecision accepts a message held by h until h's window ends.
func holdDecision(h *hit) Decision {
	lim := h.limit
	return Decision{
		Allow:           true,
		Hold:            true,
		HoldUntil:       h.end,
		Blocking:        &lim,
		BlockingSubject: h.subject,
		Reason: fmt.Sprintf("%s: %s per %s reached; message held until %s",
			h.subject, h.what(), lim.Period, h.end.Format("2006-01-02 15:04 UTC")),
	}
}

// what names the count that is over: "100 messages", "500 recipients".
func (h *hit) what() string {
	if h.recipients {
		return count(h.limit.Recipients, "recipient")
	}
	return count(h.limit.Messages, "message")
}

// humanDuration renders a wait, rounded up so a client told to come back
// in 12m is not refused again: "45s", "12m", "3h5m", "2d4h".
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d <= time.Minute:
		return fmt.Sprintf("%ds", ceilDiv(d, time.Second))
	case d <= time.Hour:
		return fmt.Sprintf("%dm", ceilDiv(d, time.Minute))
	case d <= 24*time.Hour:
		m := ceilDiv(d, time.Minute)
		if m%60 == 0 {
			return fmt.Sprintf("%dh", m/60)
		}
		return fmt.Sprintf("%dh%dm", m/60, m%60)
	}
	h := ceilDiv(d, time.Hour)
	if h%24 == 0 {
		return fmt.Sprintf("%dd", h/24)
	}
	return fmt.Sprintf("%dd%dh", h/24, h%24)
}

func ceilDiv(d, unit time.Duration) int64 { return int64((d + unit - 1) / unit) }
