// Package observe is how Postern is watched: Prometheus metrics on a
// registry passed in, the process log (text or JSON on one handler) and
// the mail log, one stable line per message event beside it.
//
// # Metrics
//
// NewMetrics registers Postern's counters and histograms on the registry
// it is given, never on the default one: app builds a prometheus.Registry,
// adds the Go and process collectors and Gauges (the queue and the webhook
// outbox, read from the store at scrape time), and hands the *Metrics to
// each part. The parts count where an outcome is known once (the SMTP
// reply renderer, the submission funnel, the delivery scheduler, the
// counting resolver, the webhook dispatcher). A nil *Metrics counts
// nothing, so a unit test that does not look at metrics may leave it out;
// app always passes one. Names carry their unit and _total (Prometheus's
// naming conventions); every label has a small, fixed set of values:
//
//	postern_smtp_sessions_total{listener}          submission|submissions|mx
//	postern_smtp_replies_total{listener,code}      replies that end a command, greetings, closing replies
//	postern_auth_failures_total{listener}          submission|submissions|mx|http
//	postern_auth_lockouts_total
//	postern_submissions_total{ingress,outcome}     smtp|http|internal × accepted|refused|error
//	postern_ratelimit_refusals_total{scope}        user|key
//	postern_queue_messages{state}                  queued|deferred (gauge)
//	postern_delivery_attempts_total{result}        delivered|deferred|bounced|dropped
//	postern_delivery_duration_seconds              one connection's attempt, dial to result
//	postern_dns_lookups_total{type}                mx|ip|txt
//	postern_dns_failures_total{type}               no answer (timeout, SERVFAIL, network)
//	postern_webhook_deliveries_total{result}       outbox items: delivered|failed|discarded
//	postern_webhook_failures_total                 POSTs the receiver did not take
//	postern_webhook_backlog                        outbox items waiting (gauge)
//
// The SMTP replies are counted where smtpd's session sends them (send);
// the three written in the middle of an exchange (334 of AUTH, 354 of
// DATA, STARTTLS's 220) are not. postern_submissions_total counts each
// message that reached the funnel's commit; a refusal at MAIL or RCPT is
// a reply, not a submission, and sandboxed messages are not counted.
// Postern's own mail (DSNs, confirmations) does not go through the
// commit: its "internal" series stay at 0 for now.
//
// # Logs
//
// NewLogger builds the process logger on one handler, text (logfmt) or
// JSON (log.format). The mail log (MailLog) writes to the same handler
// with log=mail on every line, so that
//
//	postern serve 2>&1 | grep 'log=mail'
//
// is the history of every message, and the rest is the debug log. Its
// message texts and keys are fixed (README, "Logs and metrics"); secrets
// never appear in either.
package observe
