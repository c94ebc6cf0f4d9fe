// Package web is Postern's one HTTP listener: the v3 API (mounted from
// internal/web/sendapi), the pages people reach from the links in
// Postern's mails, and /healthz for load balancers and monitors.
//
// # Routes
//
//	GET, HEAD /healthz     200 "ok", text/plain
//	GET  /verify?code=C    the single-sender confirmation page: a form
//	POST /verify           redeems the code posted by that form
//	POST /v3/mail/send     Config.Send (sendapi): SendGrid's mail send
//
// Any other method on a known path is 405 with Allow (RFC 9110 §15.5.6);
// any other path, and a path not in canonical form ("//verify",
// "/a/../verify"), is 404. Under /v3 both are SendGrid's JSON error body,
// elsewhere an HTML page.
//
// # API errors
//
// WriteErrors is the one renderer of the API's errors, in SendGrid's
// shape, Content-Type application/json:
//
//	{"errors":[{"message":"…","field":"from.email" or null,"help":null or "…"}]}
//
// A 500 carries only "internal server error" and a request id (also in
// the body's "id"); InternalError logs the cause under that id. Internal
// error text never reaches a client.
//
// # Client address and TLS
//
// Config.ClientIP is the TCP peer, or, when the peer is a trusted proxy
// (Config.TrustedProxies), the right-most X-Forwarded-For entry that is
// not one; X-Forwarded-For from any other peer is ignored. NeedsTLS says
// whether a listen address must serve HTTPS: API keys travel on this
// listener, so plain HTTP is only for loopback.
//
// # Why the link does not confirm
//
// Mail security scanners and link previewers fetch every URL in a message
// before a person sees it, so a GET that redeemed the code would verify
// any address whose mail passes through such a scanner. GET /verify only
// shows a form holding the code; the code is redeemed by the POST the
// Confirm button sends (GET is safe, RFC 9110 §9.2.1), through
// sendercode.Confirm. Unknown, expired and used codes all read the same.
//
// # Hardening
//
// Every response carries Cache-Control: no-store and Referrer-Policy:
// no-referrer, because the code is in the URL, and X-Content-Type-Options,
// X-Frame-Options and a Content-Security-Policy that allows no script, no
// external resource and forms only to this origin. Pages are rendered with
// html/template, so every value is escaped. A /verify POST body is limited
// to 4 KiB. A store error or a panic is logged with a request id and
// answered with a generic page (or JSON body) that shows only the id. The
// code is never logged.
//
// NewServer sets the read, write and idle timeouts and the header size
// limit that a listener facing the Internet needs; its read timeout allows
// a 30 MB API request.
package web
