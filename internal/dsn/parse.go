package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/postern/postern/internal/mimereport"
)

// Parse reads a DSN from any MTA and returns its machine-readable part.
//
// msg must be a multipart/report (RFC 6522 §3: the top-level type) whose
// report-type, if given, is delivery-status or global-delivery-status; it
// needs one message/delivery-status (or RFC 6533 global-delivery-status)
// part, in any position, whose first group holds the per-message fields
// (unless it already names a Final-Recipient) and each later group one
// recipient with a Final-Recipient, an Action of RFC 3464 §2.3.3 and an
// RFC 3463 Status (its first word; a comment may follow). Field names are
// matched without regard to case, folded values are unfolded, lines may
// end in LF alone, base64 and quoted-printable parts are decoded, and
// fields Parse does not know are skipped. The returned header section is
// taken from a text/rfc822-headers (or message/global-headers) part, else
// from a message/rfc822 (or message/global) part; a returned message that
// is cut short keeps what was read of its header section.
//
// Errors wrap ErrNotReport, ErrNoDeliveryStatus, ErrMalformed or
// ErrTooLarge (more than MaxRecipients groups, MaxParts parts, or a
// delivery-status or header part over MaxPartSize once decoded).
func Parse(msg []byte) (*Parsed, error) {
	params, mr, err := mimereport.Open(msg)
	switch {
	case errors.Is(err, mimereport.ErrNotReport):
		return nil, fmt.Errorf("%w: not multipart/report", ErrNotReport)
	case errors.Is(err, mimereport.ErrBoundary):
		return nil, fmt.Errorf("%w: multipart/report without a boundary", ErrMalformed)
	case err != nil:
		return nil, fmt.Errorf("%w: message header section", ErrMalformed)
	}
	if rt, ok := params["report-type"]; ok &&
		!strings.EqualFold(rt, "delivery-status") && !strings.EqualFold(rt, "global-delivery-status") {
		return nil, fmt.Errorf("%w: report-type is not delivery-status", ErrNotReport)
	}

	var p Parsed
	var status []byte
	for n := 0; ; n++ {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if status != nil {
				break // a report cut short after its delivery-status part
			}
			return nil, fmt.Errorf("%w: MIME structure", ErrMalformed)
		}
		if n == MaxParts {
			return nil, fmt.Errorf("%w: more than %d MIME parts", ErrTooLarge, MaxParts)
		}
		switch mimereport.PartType(part) {
		case "message/delivery-status", "message/global-delivery-status":
			if status != nil {
				continue
			}
			body, err := mimereport.ReadPart(part, MaxPartSize)
			switch {
			case errors.Is(err, mimereport.ErrTooLarge):
				return nil, fmt.Errorf("%w: delivery-status part over %d octets", ErrTooLarge, MaxPartSize)
			case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
				// A report cut short in its delivery-status part is
				// used as far as it goes; anything else is an error.
				return nil, fmt.Errorf("%w: delivery-status part", ErrMalformed)
			}
			status = body
		case "text/rfc822-headers", "message/global-headers":
			if p.OriginalHeaders != nil {
				continue
			}
			body, err := mimereport.ReadPart(part, MaxPartSize)
			if errors.Is(err, mimereport.ErrTooLarge) {
				return nil, fmt.Errorf("%w: header part over %d octets", ErrTooLarge, MaxPartSize)
			}
			if len(body) > 0 {
				p.OriginalHeaders = body
			}
		case "message/rfc822", "message/global":
			if p.OriginalHeaders != nil {
				continue
			}
			body, err := mimereport.ReadPart(part, MaxPartSize)
			hdr, complete := mimereport.HeaderSection(body)
			if (complete || err == nil) && len(hdr) > 0 && len(hdr) <= MaxPartSize {
				p.OriginalHeaders = bytes.Clone(hdr)
			}
		}
	}
	if status == nil {
		return nil, ErrNoDeliveryStatus
	}
	if err := p.parseStatus(status); err != nil {
		return nil, err
	}
	return &p, nil
}

// field is a delivery-status field, unfolded.
type field struct {
	name  string // lower case
	value string // trimmed, folds replaced by one space
}

// group is a blank-line separated group of fields.
type group []field

// get returns the value of the first field named name (lower case).
func (g group) get(name string) (string, bool) {
	for _, f := range g {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

// parseStatus fills p from a message/delivery-status body.
func (p *Parsed) parseStatus(body []byte) error {
	groups, err := parseGroups(body)
	if err != nil {
		return err
	}
	if len(groups) == 0 {
		return fmt.Errorf("%w: empty delivery-status part", ErrMalformed)
	}
	perMessage, rcpts := groups[0], groups[1:]
	if _, ok := perMessage.get("final-recipient"); ok {
		perMessage, rcpts = nil, groups // no per-message group
	}
	switch {
	case len(rcpts) == 0:
		return fmt.Errorf("%w: no recipient in the delivery-status part", ErrMalformed)
	case len(rcpts) > MaxRecipients:
		return fmt.Errorf("%w: more than %d recipients", ErrTooLarge, MaxRecipients)
	}
	if v, ok := perMessage.get("reporting-mta"); ok {
		p.ReportingMTA = mimereport.Clean(stripType(v))
	}
	p.QueueID = queueID(perMessage)

	p.Recipients = make([]ParsedRecipient, 0, len(rcpts))
	for i, g := range rcpts {
		bad := func(what string) error {
			return fmt.Errorf("%w: recipient %d: %s", ErrMalformed, i+1, what)
		}
		final, ok := g.get("final-recipient")
		if !ok {
			return bad("no Final-Recipient")
		}
		v, _ := g.get("action")
		action := Action(strings.ToLower(firstWord(v)))
		if !action.valid() {
			return bad("unknown Action")
		}
		v, _ = g.get("status")
		status, ok := parseStatusCode(firstWord(v))
		if !ok {
			return bad("malformed Status")
		}
		rc := ParsedRecipient{
			FinalRecipient: parseAddress(final),
			Action:         action,
			Status:         status,
		}
		if v, ok := g.get("original-recipient"); ok {
			rc.OriginalRecipient = parseAddress(v)
		}
		if v, ok := g.get("remote-mta"); ok {
			rc.RemoteMTA = mimereport.Clean(stripType(v))
		}
		if v, ok := g.get("diagnostic-code"); ok {
			rc.Diagnostic = mimereport.Clean(stripType(v))
		}
		p.Recipients = append(p.Recipients, rc)
	}
	return nil
}

// parseGroups splits a delivery-status body into groups of fields.
// Lines end in CRLF or LF; a line of only whitespace separates groups; a
// line starting with whitespace continues the field before it.
func parseGroups(body []byte) ([]group, error) {
	var groups []group
	var cur group
	var value []byte // of the last field of cur
	flush := func() {
		if len(cur) > 0 {
			cur[len(cur)-1].value = mimereport.TrimWSP(string(value))
		}
	}
	for n, rest := 1, body; len(rest) > 0; n++ {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(bytes.Trim(line, " \t")) == 0:
			if len(cur) > 0 {
				flush()
				groups = append(groups, cur)
				cur, value = nil, nil
				if len(groups) > MaxRecipients+1 {
					return nil, fmt.Errorf("%w: more than %d recipients", ErrTooLarge, MaxRecipients)
				}
			}
		case line[0] == ' ' || line[0] == '\t':
			if len(cur) == 0 {
				return nil, fmt.Errorf("%w: delivery-status line %d: continuation of nothing", ErrMalformed, n)
			}
			value = append(bytes.TrimRight(value, " \t"), ' ')
			value = append(value, bytes.TrimLeft(line, " \t")...)
		default:
			i := bytes.IndexByte(line, ':')
			name := strings.TrimRight(string(line[:max(i, 0)]), " \t")
			if i < 0 || !validFieldName(name) {
				return nil, fmt.Errorf("%w: delivery-status line %d: not a field", ErrMalformed, n)
			}
			flush()
			cur = append(cur, field{name: strings.ToLower(name)})
			value = append([]byte(nil), line[i+1:]...)
		}
	}
	if len(cur) > 0 {
		flush()
		groups = append(groups, cur)
	}
	if len(groups) > MaxRecipients+1 {
		return nil, fmt.Errorf("%w: more than %d recipients", ErrTooLarge, MaxRecipients)
	}
	return groups, nil
}

// validFieldName reports whether s is a field name (RFC 5322 §3.6.8).
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 || s[i] == ':' {
			return false
		}
	}
	return true
}

// queueID returns the per-message queue ID: X-Postern-Queue-ID, else
// X-Postfix-Queue-ID, else the first other X-…-Queue-ID.
func queueID(g group) string {
	for _, name := range []string{"x-postern-queue-id", "x-postfix-queue-id"} {
		if v, ok := g.get(name); ok {
			return mimereport.Clean(v)
		}
	}
	for _, f := range g {
		if strings.HasPrefix(f.name, "x-") && strings.HasSuffix(f.name, "-queue-id") {
			return mimereport.Clean(f.value)
		}
	}
	return ""
}

// stripType returns v without a leading "type;" (RFC 3464 §2.1.2's
// address-type, mta-name-type and diagnostic-type).
func stripType(v string) string {
	if i := strings.IndexByte(v, ';'); i > 0 && isTypeToken(mimereport.TrimWSP(v[:i])) {
		return mimereport.TrimWSP(v[i+1:])
	}
	return v
}

// parseAddress returns the address of an Original- or Final-Recipient
// value, decoded if its type is "utf-8" (RFC 6533 §3), without the angle
// brackets some MTAs add.
func parseAddress(v string) string {
	a := stripType(v)
	if i := strings.IndexByte(v, ';'); i > 0 && strings.EqualFold(mimereport.TrimWSP(v[:i]), "utf-8") {
		a = xtextDecode(a)
	}
	if len(a) >= 2 && a[0] == '<' && a[len(a)-1] == '>' {
		a = a[1 : len(a)-1]
	}
	return mimereport.Clean(a)
}

// firstWord returns v up to its first whitespace, "(" or ";".
func firstWord(v string) string {
	v = mimereport.TrimWSP(v)
	if i := strings.IndexAny(v, " \t(;"); i >= 0 {
		v = v[:i]
	}
	return v
}

// parseStatusCode parses an RFC 3463 code: class "." subject "." detail,
// class 2, 4 or 5, subject and detail of one to three digits.
func parseStatusCode(s string) ([3]int, bool) {
	var code [3]int
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return code, false
	}
	for i, d := range parts {
		if d == "" || len(d) > 3 || strings.Trim(d, "0123456789") != "" {
			return code, false
		}
		code[i], _ = strconv.Atoi(d)
	}
	if code[0] != 2 && code[0] != 4 && code[0] != 5 || len(parts[0]) != 1 {
		return code, false
	}
	return code, true
}
