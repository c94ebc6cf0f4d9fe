// Package httpapi is Postern's HTTP listener: the pages people reach from
// the links in Postern's mails, and /healthz for load balancers and
// monitors.
//
// # Routes
//
//	GET  /healthz          200 "ok", text/plain
//	GET  /verify?code=C    the single-sender confirmation page: a form
//	POST /verify           redeems the code posted by that form
//
// Any other method on a known path is 405 with Allow (RFC 9110 §15.5.6);
// any other path is 404.
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
// html/template, so every value is escaped. A POST body is limited to
// 4 KiB. A store error is logged with a request id and answered with a
// generic page that shows only the id. The code is never logged.
//
// NewServer sets the read, write and idle timeouts and the header size
// limit that a listener facing the Internet needs.
package httpapi
