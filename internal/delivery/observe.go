package delivery

import (
	"strconv"
	"strings"

	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/store"
)

// report counts an attempt's recipients by result and writes their mail
// log lines. evs are the attempt's events of c's recipients, in the
// order of c.Recipients; outs their outcomes.
func (w *Worker) report(c *store.Claim, outs []outcome, evs []store.Event) {
	for j, ev := range evs {
		if j >= len(outs) {
			return
		}
		o := outs[j]
		reply := replyText(o.res)
		if !o.done {
			reply = "not attempted"
		}
		switch ev.Type {
		case store.EventDelivered:
			w.cfg.Metrics.DeliveryAttempt(observe.DeliveryDelivered)
			w.cfg.MailLog.Delivered(c.ID, ev.Recipient, reply, o.tls.Version)
		case store.EventDeferred:
			w.cfg.Metrics.DeliveryAttempt(observe.DeliveryDeferred)
			w.cfg.MailLog.Deferred(c.ID, ev.Recipient, reply, c.Attempts)
		case store.EventBounced:
			w.cfg.Metrics.DeliveryAttempt(observe.DeliveryBounced)
			if !o.res.Permanent {
				reply = "gave up after " + w.cfg.GiveUpAfter.String() + ": " + reply
			}
			w.cfg.MailLog.Bounced(c.ID, ev.Recipient, reply)
		case store.EventDropped:
			w.cfg.Metrics.DeliveryAttempt(observe.DeliveryDropped)
			w.cfg.MailLog.Dropped(c.ID, ev.Recipient, o.dropped)
		}
	}
}

// replyText is a result as the mail log shows it: the remote reply on
// one line with its code ("250 2.0.0 Ok: queued as 4Bx"), or Postern's
// description of a local condition ("no MX host could be reached").
func replyText(r Result) string {
	line := strings.ReplaceAll(r.Line, "\n", " ")
	if r.Code == 0 {
		return line
	}
	code := strconv.Itoa(r.Code)
	if strings.HasPrefix(line, code) {
		return line
	}
	return strings.TrimSpace(code + " " + line)
}
