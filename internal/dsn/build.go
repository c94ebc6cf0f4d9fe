package dsn

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"io"
	"time"

	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/mimereport"
)

// The subjects of the reports Build writes.
const (
	SubjectFailed    = "Undelivered Mail Returned to Sender"
	SubjectDelayed   = "Delayed Mail (still being retried)"
	SubjectDelivered = "Successful Mail Delivery Report"
)

// Build returns the complete DSN for r, header section and body: a
// multipart/report (RFC 6522) with a text/plain explanation, the
// message/delivery-status report (RFC 3464) and, when r.Original has one,
// the original header section as text/rfc822-headers.
//
// The result has CRLF line endings only, is 7-bit, has no line over 998
// octets (none over 78 where a field or a sentence can be folded), and
// passes message.CheckLineEndings and message.ParseHeader. Its header
// section has Date, From ("Mail Delivery System <MAILER-DAEMON@host>"), To
// (<Sender>), Subject (SubjectFailed if a recipient failed, else
// SubjectDelayed if one is delayed, else SubjectDelivered), Message-ID,
// In-Reply-To and References when the original has a plain Message-ID,
// MIME-Version, Auto-Submitted: auto-replied (RFC 3834 §5) and
// Content-Type. Whatever the recipients' addresses and diagnostics hold,
// they stay inside their fields.
//
// Build refuses with ErrNullSender a report without a Sender, with
// ErrNoRecipients one without recipients, with ErrTooLarge one with more
// than MaxRecipients or whose delivery-status part would pass MaxPartSize,
// and with ErrInvalid one whose fields it cannot represent (a Sender that
// is not a US-ASCII RFC 5321 mailbox, an unknown Action or Status, a
// missing ReportingMTA or Now, …). An error from Rand is returned wrapped.
func Build(r Report) ([]byte, error) {
	rcpts, err := r.check()
	if err != nil {
		return nil, err
	}

	hdr, hdrCTE := returnedHeader(r.Original)
	text := notification(&r, rcpts, len(hdr) > 0)
	status := deliveryStatus(&r, rcpts)
	if len(status) > MaxPartSize {
		return nil, fmt.Errorf("%w: delivery-status part of %d octets for %d recipients", ErrTooLarge, len(status), len(rcpts))
	}

	rnd := r.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var raw [30]byte // 15 for the Message-ID, 15 for the boundary
	if _, err := io.ReadFull(rnd, raw[:]); err != nil {
		return nil, fmt.Errorf("dsn: read random: %w", err)
	}
	id := "<" + b32.EncodeToString(raw[:15]) + "@" + r.ReportingMTA + ">"
	boundary, err := pickBoundary("=_"+b32.EncodeToString(raw[15:]), text, status, hdr)
	if err != nil {
		return nil, err
	}

	subject := SubjectDelivered
	switch {
	case has(rcpts, Failed):
		subject = SubjectFailed
	case has(rcpts, Delayed):
		subject = SubjectDelayed
	}

	out := make([]byte, 0, 2048+len(text)+len(status)+len(hdr))
	out = appendField(out, "Date", r.Now.Format(message.DateLayout))
	out = appendField(out, "From", "Mail Delivery System <MAILER-DAEMON@"+r.ReportingMTA+">")
	out = appendField(out, "To", "<"+r.Sender+">")
	out = appendField(out, "Subject", subject)
	out = appendField(out, "Message-ID", id)
	if orig := originalMessageID(r.Original); orig != "" {
		out = appendField(out, "In-Reply-To", orig)
		out = appendField(out, "References", orig)
	}
	out = appendField(out, "MIME-Version", "1.0")
	out = appendField(out, "Auto-Submitted", "auto-replied")
	out = appendField(out, "Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	out = append(out, crlf...)
	out = append(out, "This is a MIME-formatted delivery status notification (RFC 3464).\r\n"...)

	part := func(body []byte, fields ...string) {
		out = append(out, "\r\n--"+boundary+"\r\n"...)
		for i := 0; i < len(fields); i += 2 {
			out = appendField(out, fields[i], fields[i+1])
		}
		out = append(out, crlf...)
		out = append(out, body...)
	}
	part(text,
		"Content-Type", "text/plain; charset=us-ascii",
		"Content-Transfer-Encoding", "7bit",
		"Content-Description", "Notification")
	part(status,
		"Content-Type", "message/delivery-status",
		"Content-Description", "Delivery report")
	if len(hdr) > 0 {
		part(hdr,
			"Content-Type", "text/rfc822-headers",
			"Content-Transfer-Encoding", hdrCTE,
			"Content-Description", "Header of the undelivered message")
	}
	out = append(out, "\r\n--"+boundary+"--\r\n"...)
	return out, nil
}

// b32 is the lower-case base32 alphabet of Message-IDs and boundaries.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// rcpt is a Recipient checked and rendered for output.
type rcpt struct {
	Recipient
	addrType, addr string // Final-Recipient
	origType, orig string // Original-Recipient; empty: none
	status         string
	mtaType, mta   string // Remote-MTA; empty mta: none
	diag           string // cleaned Diagnostic; empty: none
}

// check validates r and renders its recipients.
func (r *Report) check() ([]rcpt, error) {
	switch {
	case r.Sender == "" || r.Sender == "<>":
		return nil, ErrNullSender
	case len(r.Recipients) == 0:
		return nil, ErrNoRecipients
	case len(r.Recipients) > MaxRecipients:
		return nil, fmt.Errorf("%w: %d recipients, at most %d", ErrTooLarge, len(r.Recipients), MaxRecipients)
	case !validMailbox(r.Sender):
		return nil, fmt.Errorf("%w: sender is not a US-ASCII RFC 5321 mailbox", ErrInvalid)
	case !validHostname(r.ReportingMTA):
		return nil, fmt.Errorf("%w: reporting MTA is not a hostname", ErrInvalid)
	case len(r.QueueID) > 128 || !printableWord(r.QueueID):
		return nil, fmt.Errorf("%w: queue ID is not printable US-ASCII of at most 128 octets", ErrInvalid)
	case r.Now.IsZero():
		return nil, fmt.Errorf("%w: Now not set", ErrInvalid)
	}
	if err := checkDates("report", r.Now, r.ArrivalDate); err != nil {
		return nil, err
	}
	rcpts := make([]rcpt, len(r.Recipients))
	for i, rc := range r.Recipients {
		bad := func(reason string) error {
			return fmt.Errorf("%w: recipient %d: %s", ErrInvalid, i+1, reason)
		}
		if reason := checkAddress(rc.Address); reason != "" {
			return nil, bad(reason)
		}
		if reason := checkAddress(rc.OriginalRecipient); rc.OriginalRecipient != "" && reason != "" {
			return nil, bad("original recipient: " + reason)
		}
		if !rc.Action.valid() {
			return nil, bad("unknown action")
		}
		if rc.Status == ([3]int{}) {
			switch rc.Action {
			case Failed:
				rc.Status = [3]int{5, 0, 0}
			case Delayed:
				rc.Status = [3]int{4, 0, 0}
			default:
				rc.Status = [3]int{2, 0, 0}
			}
		}
		if !validStatus(rc.Status) {
			return nil, bad("status is not an RFC 3463 code")
		}
		if err := checkDates(fmt.Sprintf("recipient %d", i+1), rc.LastAttempt, rc.WillRetryUntil); err != nil {
			return nil, err
		}
		out := rcpt{Recipient: rc, status: StatusString(rc.Status), diag: cleanDiagnostic(rc.Diagnostic)}
		out.addrType, out.addr = typedAddress(rc.Address)
		if rc.OriginalRecipient != "" {
			out.origType, out.orig = typedAddress(rc.OriginalRecipient)
		}
		out.mtaType, out.mta = cleanMTA(rc.RemoteMTA)
		rcpts[i] = out
	}
	return rcpts, nil
}

// checkDates refuses a time that the RFC 5322 date-time format cannot
// hold (a four-digit year from 1900); zero times are "not set".
func checkDates(what string, ts ...time.Time) error {
	for _, t := range ts {
		if !t.IsZero() && (t.Year() < 1900 || t.Year() > 9999) {
			return fmt.Errorf("%w: %s: date out of range", ErrInvalid, what)
		}
	}
	return nil
}

// printableWord reports whether s is printable US-ASCII without spaces.
func printableWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func has(rcpts []rcpt, a Action) bool {
	for _, rc := range rcpts {
		if rc.Action == a {
			return true
		}
	}
	return false
}

// deliveryStatus returns the message/delivery-status body: the
// per-message fields, then one group per recipient, each group preceded
// by an empty line (RFC 3464 §2.1), in the order of the RFC's grammar.
func deliveryStatus(r *Report, rcpts []rcpt) []byte {
	var b []byte
	b = appendField(b, "Reporting-MTA", "dns; "+r.ReportingMTA)
	if !r.ArrivalDate.IsZero() {
		b = appendField(b, "Arrival-Date", r.ArrivalDate.Format(message.DateLayout))
	}
	if r.QueueID != "" {
		b = appendField(b, "X-Postern-Queue-ID", r.QueueID)
	}
	for _, rc := range rcpts {
		b = append(b, crlf...)
		if rc.orig != "" {
			b = appendField(b, "Original-Recipient", rc.origType+"; "+rc.orig)
		}
		b = appendField(b, "Final-Recipient", rc.addrType+"; "+rc.addr)
		b = appendField(b, "Action", string(rc.Action))
		b = appendField(b, "Status", rc.status)
		if rc.mta != "" {
			b = appendField(b, "Remote-MTA", rc.mtaType+"; "+rc.mta)
		}
		if rc.diag != "" {
			b = appendField(b, "Diagnostic-Code", diagnosticType(rc.diag)+"; "+rc.diag)
		}
		if !rc.LastAttempt.IsZero() {
			b = appendField(b, "Last-Attempt-Date", rc.LastAttempt.Format(message.DateLayout))
		}
		if rc.Action == Delayed && !rc.WillRetryUntil.IsZero() {
			b = appendField(b, "Will-Retry-Until", rc.WillRetryUntil.Format(message.DateLayout))
		}
	}
	return b
}

// notification returns the human-readable first part; attached says
// whether the original header section is.
func notification(r *Report, rcpts []rcpt, attached bool) []byte {
	var b []byte
	para := func(s string) { b = append(wrap(b, s, "", ""), crlf...) }
	para("This is the mail delivery system at " + r.ReportingMTA + ".")
	failed, delayed := has(rcpts, Failed), has(rcpts, Delayed)
	if failed {
		para("Your message could not be delivered to one or more of its recipients. " +
			"Postern has given up on the recipients marked as failed below and will not try them again.")
	}
	if delayed {
		para("Delivery to the recipients marked as delayed below has not succeeded yet. " +
			"Postern is still trying and will tell you if it gives up; you do not need to send the message again.")
	}
	if !failed && !delayed {
		para("Here is the delivery report you asked for.")
	}
	if r.QueueID != "" || !r.ArrivalDate.IsZero() {
		if r.QueueID != "" {
			b = wrap(b, "Queue ID: "+r.QueueID, "", "    ")
		}
		if !r.ArrivalDate.IsZero() {
			b = wrap(b, "Accepted: "+r.ArrivalDate.Format(message.DateLayout), "", "    ")
		}
		b = append(b, crlf...)
	}
	for _, rc := range rcpts {
		b = wrap(b, "<"+rc.addr+">: "+outcome(rc), "", "    ")
		detail := func(s string) { b = wrap(b, s, "    ", "        ") }
		detail("Status: " + rc.status)
		if rc.mta != "" {
			detail("Remote server: " + rc.mta)
		}
		if rc.diag != "" {
			if diagnosticType(rc.diag) == "smtp" {
				detail("It replied: " + rc.diag)
			} else {
				detail("Reason: " + rc.diag)
			}
		}
		if !rc.LastAttempt.IsZero() {
			detail("Last attempt: " + rc.LastAttempt.Format(message.DateLayout))
		}
		b = append(b, crlf...)
	}
	if attached {
		para("The header section of your message is attached.")
	}
	return bytes.TrimSuffix(b, crlf) // no empty line at the end
}

// outcome says what happened to rc and whether Postern will retry.
func outcome(rc rcpt) string {
	switch rc.Action {
	case Failed:
		return "delivery failed; Postern will not retry."
	case Delayed:
		if !rc.WillRetryUntil.IsZero() {
			return "delivery delayed; Postern will keep retrying until " +
				rc.WillRetryUntil.Format(message.DateLayout) + "."
		}
		return "delivery delayed; Postern will keep retrying."
	case Delivered:
		return "delivered."
	case Relayed:
		return "relayed to a system that does not send delivery reports."
	default: // Expanded
		return "delivered to a list or alias, which passes it on."
	}
}

// returnedHeader returns the header section of orig for the third part,
// at most MaxReturnedHeader octets of it, and its transfer encoding:
// "7bit" when it is US-ASCII without NUL, with CRLF line endings only and
// lines within 998 octets, else "base64" (RFC 2045 §6.8). An empty result
// means no third part.
func returnedHeader(orig []byte) ([]byte, string) {
	hdr, _ := headerSection(orig)
	if len(hdr) > MaxReturnedHeader {
		cut := hdr[:MaxReturnedHeader]
		if i := bytes.LastIndexByte(cut, '\n'); i >= 0 {
			cut = cut[:i+1]
		}
		hdr = cut
	}
	if len(hdr) == 0 {
		return nil, ""
	}
	if safe7bit(hdr) {
		return hdr, "7bit"
	}
	enc := base64.StdEncoding.EncodeToString(hdr)
	out := make([]byte, 0, len(enc)+len(enc)/76*2+2)
	for len(enc) > 76 {
		out = append(append(out, enc[:76]...), crlf...)
		enc = enc[76:]
	}
	return append(append(out, enc...), crlf...), "base64"
}

// safe7bit reports whether b can be sent as 7bit text (RFC 2045 §2.7).
func safe7bit(b []byte) bool {
	if message.CheckLineEndings(b) != nil || message.CheckLineLength(b, maxLineBody+2) != nil {
		return false
	}
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

// headerSection returns the header section of msg and whether it ended
// in an empty line (mimereport.HeaderSection).
func headerSection(msg []byte) (hdr []byte, complete bool) { return mimereport.HeaderSection(msg) }

// originalMessageID returns the original's Message-ID if it is a plain
// msg-id, else "".
func originalMessageID(orig []byte) string {
	h, err := message.ParseHeader(orig)
	if err != nil {
		return ""
	}
	ids := h.Values("Message-ID")
	if len(ids) != 1 || !mimereport.ValidMsgID(ids[0]) {
		return ""
	}
	return ids[0]
}

// boundaryAlphabet is the character set of boundary extensions.
const boundaryAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// pickBoundary returns a boundary, base or base extended with "." and a
// character, again as needed, that no part contains after "--" (RFC 2046
// §5.1.1). Base is random, so in practice it is returned as it is; the
// extension makes the choice certain even when Rand is not random.
func pickBoundary(base string, parts ...[]byte) (string, error) {
	b := base
	for len(b) <= 70-2 {
		delim := []byte("--" + b)
		var used [256]bool
		found := false
		for _, p := range parts {
			for {
				i := bytes.Index(p, delim)
				if i < 0 {
					break
				}
				found = true
				p = p[i+len(delim):]
				if len(p) >= 2 && p[0] == '.' {
					used[p[1]] = true
				}
			}
		}
		if !found {
			return b, nil
		}
		for i := 0; i < len(boundaryAlphabet); i++ {
			if c := boundaryAlphabet[i]; !used[c] {
				return b + "." + string(c), nil // "--b.c" would have marked c
			}
		}
		b += "." + boundaryAlphabet[:1]
	}
	return "", fmt.Errorf("%w: no MIME boundary fits the content", ErrInvalid)
}
