package submit

import (
	"strings"
	"time"

	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/ratelimit"
)

// listenerOf is the listener label of an authentication.
func listenerOf(cr Credentials) string {
	if cr.Listener == "" {
		return observe.ListenerHTTP
	}
	return cr.Listener
}

// ingress is the way the transaction's message came in, from its
// protocol: ESMTP* over SMTP, HTTP or HTTPS over the send API.
func (tx *Tx) ingress() observe.Ingress {
	if strings.HasPrefix(tx.origin.With, "HTTP") {
		return observe.IngressHTTP
	}
	return observe.IngressSMTP
}

// counted counts a Commit's outcome; a sandbox commit stores nothing and
// is not counted.
func (tx *Tx) counted(o CommitOptions, err error) {
	if o.DryRun {
		return
	}
	out := observe.OutcomeAccepted
	switch {
	case err == nil:
	case AsRefusal(err) != nil:
		out = observe.OutcomeRefused
	default:
		out = observe.OutcomeError
	}
	tx.f.cfg.Metrics.Submission(tx.ingress(), out)
}

// queued writes the mail log's line for a message committed to the queue.
func (tx *Tx) queued(rc Receipt) {
	tx.f.cfg.MailLog.Queued(observe.Queued{
		ID:       rc.ID,
		User:     tx.c.Key().UserName,
		KeyID:    tx.c.Key().ID,
		Size:     rc.Size,
		Rcpts:    len(tx.rcpts),
		Ingress:  tx.ingress(),
		ClientIP: tx.c.IP,
	})
}

// limited counts a rate-limit refusal by the kind of subject whose limit
// refused, and returns the refusal.
func (f *Funnel) limited(d ratelimit.Decision, now time.Time) *Refusal {
	f.cfg.Metrics.RateLimitRefusal(d.BlockingSubject.Kind)
	return limitRefusal(d, now)
}
