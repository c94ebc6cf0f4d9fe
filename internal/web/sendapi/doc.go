// Package sendapi serves SendGrid's POST /v3/mail/send on Postern's HTTP
// listener (internal/web mounts it), so that SendGrid's own clients work
// unmodified when pointed at Postern.
//
// # One request
//
//  1. Authorization: Bearer KEY (the scheme in any case, RFC 6750 §2.1).
//     Missing or malformed: 401 "authorization required". The key is
//     checked by the funnel (submit.Funnel.Authenticate) as the password
//     of the username "apikey", from the client address web gives
//     (the TCP peer, or X-Forwarded-For from a trusted proxy).
//     On-Behalf-Of is refused (400): subusers send with their own keys.
//  2. The body: Content-Type application/json (else 400), optionally
//     Content-Encoding gzip, at most Config.MaxBodyBytes (30 MB) before
//     and after decoding (else 413).
//  3. compose.Decode and compose.Build: a request the client must fix is
//     400 with every problem compose found, each with its field.
//  4. For every message (one per personalization) the envelope first:
//     funnel.Begin and AddRecipient for each recipient, so that a refused
//     sender or recipient refuses the whole request before anything is
//     queued. Then each message is committed in order (tx.Commit: checks,
//     stamps, scans, signs, queues durably). Once the first commit has
//     begun the request runs to its end even if the client hangs up.
//  5. 202 Accepted, empty body, X-Message-Id the queue id of the first
//     message. In sandbox mode (mail_settings.sandbox_mode.enable) every
//     check runs, nothing is queued, and the answer is 200 with an empty
//     body.
//
// A commit refused after earlier ones were queued: the earlier messages
// stay queued and will be sent (a queued message is never taken back).
// The reply is the refusal, its field "personalizations.N" naming the
// personalization refused, its help saying which were accepted, and
// X-Message-Id naming the first accepted one; the client should send again
// only from personalization N.
//
// # Errors
//
// Every error is SendGrid's body, written by web.WriteErrors:
//
//	{"errors":[{"message":"…","field":"from.email" or null,"help":null or "…"}]}
//
// The message of a refusal is submit.Refusal.Text, which is safe to show.
// An error that is not a refusal is 500 with "internal server error
// (request id ID)" and the id also in the body's "id"; the cause is logged
// under that id.
//
// # Status table
//
// One table (reasons, in status.go) maps every submit.Reason:
//
//	bad_credentials, revoked, authzid                  401
//	no_scope, suspended, ip_not_allowed, unverified    403
//	spam                                               403
//	locked_out, rate_limited, quota_exceeded           429 + rate-limit fields
//	too_big                                            413
//	null_sender, sender_syntax                         400  from.email (or personalizations.N.from.email)
//	recipient_syntax, too_many_recipients              400  personalizations.N
//	one_from, line_endings, line_too_long, malformed,
//	bad_smtpapi, send_at_future                        400
//	spam_deferred, shutting_down                       503 + Retry-After when known
//	a reason not in the table                          400 if permanent, 503 if temporary
//
// A refusal whose row names no field, in a request of several
// personalizations, has the field personalizations.N. The rate-limit
// fields of a 429 are Retry-After (seconds until Refusal.RetryAt),
// X-RateLimit-Limit (Refusal.Limit), X-RateLimit-Remaining: 0 and
// X-RateLimit-Reset (RetryAt in unix seconds), each when known.
//
// Before the funnel: no or malformed Authorization 401; not JSON, bad
// Content-Encoding or On-Behalf-Of 400; body over the limit 413; compose's
// errors 400. web answers other methods with 405 and other /v3 paths
// with 404, in the same shape.
//
// # Logs
//
// One line per request, "mail send", with the status, the client address,
// the key id (never the key), the message ids, the refusal reason and, on
// a 500, the request id.
package sendapi
