package observe

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ingress is the way a message came in, the ingress label.
type Ingress string

// The ingresses.
const (
	IngressSMTP     Ingress = "smtp"
	IngressHTTP     Ingress = "http"
	IngressInternal Ingress = "internal" // Postern's own mail: DSNs, confirmations
)

// Outcome is what became of a submission, the outcome label.
type Outcome string

// The outcomes.
const (
	OutcomeAccepted Outcome = "accepted"
	OutcomeRefused  Outcome = "refused" // a submit.Refusal: the client was told why
	OutcomeError    Outcome = "error"   // an internal error: nothing was stored
)

// ListenerHTTP is the listener label of the HTTP API; the SMTP listeners
// are named by their mode (submission, submissions, mx).
const ListenerHTTP = "http"

// DeliveryResult is the result label of a delivery attempt to one
// recipient: the state the attempt left it in.
type DeliveryResult string

// The delivery results.
const (
	DeliveryDelivered DeliveryResult = "delivered"
	DeliveryDeferred  DeliveryResult = "deferred"
	DeliveryBounced   DeliveryResult = "bounced"
	DeliveryDropped   DeliveryResult = "dropped"
)

// WebhookResult is the result label of webhook outbox items.
type WebhookResult string

// The webhook results.
const (
	WebhookDelivered WebhookResult = "delivered" // the receiver answered 2xx
	WebhookFailed    WebhookResult = "failed"    // to be retried
	WebhookDiscarded WebhookResult = "discarded" // given up on, or no longer wanted
)

// deliveryBuckets are the delivery duration histogram's buckets, in
// seconds: from a reused connection on a LAN to a slow MX near its
// timeouts.
var deliveryBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// Metrics are Postern's counters and histograms. Its methods are safe for
// concurrent use, and do nothing on a nil *Metrics.
type Metrics struct {
	smtpSessions      *prometheus.CounterVec
	smtpReplies       *prometheus.CounterVec
	authFailures      *prometheus.CounterVec
	authLockouts      prometheus.Counter
	submissions       *prometheus.CounterVec
	rateRefusals      *prometheus.CounterVec
	deliveryAttempts  *prometheus.CounterVec
	deliveryDuration  prometheus.Histogram
	dnsLookups        *prometheus.CounterVec
	dnsFailures       *prometheus.CounterVec
	webhookDeliveries *prometheus.CounterVec
	webhookFailures   prometheus.Counter
}

// NewMetrics creates the metrics and registers them on reg. It panics when
// they are registered on reg already, as prometheus.MustRegister does: a
// wiring mistake, found by the first test that runs app.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "postern", Name: name, Help: help}, labels)
	}
	m := &Metrics{
		smtpSessions: counter("smtp_sessions_total", "SMTP sessions started, by listener.", "listener"),
		smtpReplies:  counter("smtp_replies_total", "SMTP replies written, by listener and reply code.", "listener", "code"),
		authFailures: counter("auth_failures_total", "Failed authentications (SMTP AUTH and HTTP API keys), by listener.", "listener"),
		authLockouts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "postern", Name: "auth_lockouts_total",
			Help: "Clients locked out after too many failed authentications."}),
		submissions:      counter("submissions_total", "Messages that reached the submission funnel's commit, by ingress and outcome.", "ingress", "outcome"),
		rateRefusals:     counter("ratelimit_refusals_total", "Messages refused by a rate limit or quota, by the scope of the limit.", "scope"),
		deliveryAttempts: counter("delivery_attempts_total", "Delivery attempts to one recipient, by the state they left it in.", "result"),
		deliveryDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "postern", Name: "delivery_duration_seconds",
			Help: "Time of one delivery attempt over one connection, from dialing (or reusing the connection) to the result.", Buckets: deliveryBuckets}),
		dnsLookups:        counter("dns_lookups_total", "DNS lookups, by type.", "type"),
		dnsFailures:       counter("dns_failures_total", "DNS lookups that got no answer (timeout, SERVFAIL, network), by type.", "type"),
		webhookDeliveries: counter("webhook_deliveries_total", "Webhook outbox items, by result.", "result"),
		webhookFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "postern", Name: "webhook_failures_total",
			Help: "Webhook POSTs that the receiver did not accept."}),
	}
	reg.MustRegister(m.smtpSessions, m.smtpReplies, m.authFailures, m.authLockouts, m.submissions,
		m.rateRefusals, m.deliveryAttempts, m.deliveryDuration, m.dnsLookups, m.dnsFailures,
		m.webhookDeliveries, m.webhookFailures)
	// Series that exist before the first event, so a rate() over them
	// starts at zero rather than at the first increment.
	for _, in := range []Ingress{IngressSMTP, IngressHTTP, IngressInternal} {
		for _, o := range []Outcome{OutcomeAccepted, OutcomeRefused, OutcomeError} {
			m.submissions.WithLabelValues(string(in), string(o))
		}
	}
	for _, r := range []DeliveryResult{DeliveryDelivered, DeliveryDeferred, DeliveryBounced, DeliveryDropped} {
		m.deliveryAttempts.WithLabelValues(string(r))
	}
	for _, r := range []WebhookResult{WebhookDelivered, WebhookFailed, WebhookDiscarded} {
		m.webhookDeliveries.WithLabelValues(string(r))
	}
	return m
}

// Discard returns metrics registered on a registry of their own that
// nobody reads: for tests, and for parts run outside app.
func Discard() *Metrics { return NewMetrics(prometheus.NewRegistry()) }

// SMTPSession counts a session started on listener.
func (m *Metrics) SMTPSession(listener string) {
	if m != nil {
		m.smtpSessions.WithLabelValues(listener).Inc()
	}
}

// SMTPReply counts a reply with code written on listener.
func (m *Metrics) SMTPReply(listener string, code int) {
	if m != nil {
		m.smtpReplies.WithLabelValues(listener, strconv.Itoa(code)).Inc()
	}
}

// AuthFailure counts a failed authentication on listener.
func (m *Metrics) AuthFailure(listener string) {
	if m != nil {
		m.authFailures.WithLabelValues(listener).Inc()
	}
}

// AuthLockout counts a client locked out.
func (m *Metrics) AuthLockout() {
	if m != nil {
		m.authLockouts.Inc()
	}
}

// Submission counts a message that reached the funnel's commit.
func (m *Metrics) Submission(in Ingress, o Outcome) {
	if m != nil {
		m.submissions.WithLabelValues(string(in), string(o)).Inc()
	}
}

// RateLimitRefusal counts a message refused by a limit whose subject is
// of kind scope ("user", "key").
func (m *Metrics) RateLimitRefusal(scope string) {
	if m != nil {
		if scope == "" {
			scope = "unknown"
		}
		m.rateRefusals.WithLabelValues(scope).Inc()
	}
}

// DeliveryAttempt counts an attempt to one recipient.
func (m *Metrics) DeliveryAttempt(r DeliveryResult) {
	if m != nil {
		m.deliveryAttempts.WithLabelValues(string(r)).Inc()
	}
}

// DeliveryDuration observes the time of one attempt over one connection.
func (m *Metrics) DeliveryDuration(d time.Duration) {
	if m != nil {
		m.deliveryDuration.Observe(d.Seconds())
	}
}

// DNSLookup counts a lookup of type typ ("mx", "ip", "txt"), and a
// failure when it got no answer. It makes *Metrics a dnsres.Counter.
func (m *Metrics) DNSLookup(typ string, failed bool) {
	if m == nil {
		return
	}
	m.dnsLookups.WithLabelValues(typ).Inc()
	if failed {
		m.dnsFailures.WithLabelValues(typ).Inc()
	}
}

// WebhookItems counts n outbox items with result r.
func (m *Metrics) WebhookItems(r WebhookResult, n int) {
	if m != nil && n > 0 {
		m.webhookDeliveries.WithLabelValues(string(r)).Add(float64(n))
	}
}

// WebhookFailure counts a POST the receiver did not accept.
func (m *Metrics) WebhookFailure() {
	if m != nil {
		m.webhookFailures.Inc()
	}
}
