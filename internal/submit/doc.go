// Package submit is Postern's one submission funnel: every way a message
// comes in — SMTP submission (internal/smtpd), the HTTP send API
// (internal/web/sendapi) and Postern's own mail (Notices) — ends here, as
// every ingress of Postfix ends in cleanup(8). A check added here holds for
// all of them, and a stolen key can do no more over one than over another.
//
// # The contract
//
// Two phases, in the spirit of maddy's delivery targets:
//
//	Authenticate(credentials)        → *Client   lockout, key (constant time), suspension, IP access
//	Begin(client, from, size, origin) → *Tx      key rechecked, sender syntax and identity, size, rate limits checked
//	Tx.AddRecipient(to)                          syntax, the recipient limit; duplicates collapsed
//	Tx.Commit(body, options)          → Receipt  see Tx.Commit for the order of the steps
//	Tx.Abort()
//
// What is durable when: nothing until Commit returns a Receipt; then the
// message, envelope and body, is committed and synced (internal/queue), and
// only then may a way in answer 250 or 202. A refused or failed Commit has
// stored nothing and counted no quota.
//
// # Refusals
//
// A refusal is a *Refusal: a Reason, whether it is temporary, a text safe
// for the client and, for limits, when to retry. It carries no protocol:
// smtpd and the HTTP API each render reasons with one table of their own.
// Any other error is internal; a way in logs it and answers with a generic
// reply naming the session or request id, never its text.
//
// # Required, not optional
//
// New refuses a Config with a nil dependency: no control is skipped by
// leaving a field unset. Tests pass the explicit allow-all doubles of
// internal/submit/submittest for the controls they do not exercise.
//
// # Header hygiene
//
// Drop says which fields a client may not supply; Commit removes them on
// every way in before Postern adds its own: X-Originating-IP,
// Authentication-Results claiming Postern's authserv-id (RFC 8601 §5), the
// spam scanner's fields, and X-SMTPAPI, which is parsed into the message's
// metadata (categories, unique args, send_at; internal/compose) and never
// delivered. The header is parsed once and handed along (identity checks
// and signing take the parsed header).
//
// # Postern's own mail
//
// Notices documents which checks a DSN, a delay notice or a sender
// confirmation passes and which it skips, and why.
package submit
