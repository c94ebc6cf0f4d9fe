package arf

import (
	"bytes"
	"fmt"
	"github.com/postern/postern/internal/mimereport"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
)

// fieldNames are the fields Parse reads, by lower-case name, as RFC 5965
// writes them (for error texts, which name fields, never values).
var fieldNames = map[string]string{
	"feedback-type":          "Feedback-Type",
	"user-agent":             "User-Agent",
	"version":                "Version",
	"original-envelope-id":   "Original-Envelope-Id",
	"original-mail-from":     "Original-Mail-From",
	"arrival-date":           "Arrival-Date",
	"received-date":          "Received-Date",
	"reporting-mta":          "Reporting-MTA",
	"source-ip":              "Source-IP",
	"incidents":              "Incidents",
	"authentication-results": "Authentication-Results",
	"original-rcpt-to":       "Original-Rcpt-To",
	"reported-domain":        "Reported-Domain",
	"reported-uri":           "Reported-URI",
}

// repeatable are the fields of RFC 5965 §3.3; every other field Parse
// reads may appear at most once (§3.1, §3.2).
var repeatable = map[string]bool{
	"authentication-results": true,
	"original-rcpt-to":       true,
	"reported-domain":        true,
	"reported-uri":           true,
}

// parseFields fills r from the body of the message/feedback-report part.
func (r *Report) parseFields(body []byte) error {
	count := map[string]int{}
	var bad error
	var arrival, received string
	err := scanFields(body, true, func(name, raw string) {
		display, known := fieldNames[name]
		if bad != nil || !known {
			return // extension fields are skipped
		}
		count[name]++
		switch {
		case !repeatable[name] && count[name] > 1:
			bad = fmt.Errorf("%w: %s more than once", ErrMalformed, display)
			return
		case count[name] > MaxRepeated:
			bad = fmt.Errorf("%w: more than %d %s fields", ErrTooLarge, MaxRepeated, display)
			return
		}
		v := mimereport.Clean(raw)
		malformed := func() { bad = fmt.Errorf("%w: malformed %s", ErrMalformed, display) }
		switch name {
		case "feedback-type":
			t := strings.ToLower(firstWord(v))
			if !isToken(t) {
				malformed()
			}
			r.FeedbackType = FeedbackType(t)
		case "user-agent":
			if v == "" {
				malformed()
			}
			r.UserAgent = v
		case "version":
			r.Version = firstWord(v)
			if !isVersion(r.Version) {
				malformed()
			}
		case "original-envelope-id":
			r.OriginalEnvelopeID = v
		case "original-mail-from":
			a, ok := parsePath(v)
			if !ok {
				malformed()
			}
			r.OriginalMailFrom = a
		case "original-rcpt-to":
			a, ok := parsePath(v)
			if !ok || a == "" {
				malformed()
			}
			r.OriginalRcptTo = append(r.OriginalRcptTo, a)
		case "arrival-date":
			arrival = v
		case "received-date":
			received = v
		case "reporting-mta":
			r.ReportingMTA = firstWord(stripType(v))
			if r.ReportingMTA == "" || len(r.ReportingMTA) > 255 {
				malformed()
			}
		case "source-ip":
			ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(firstWord(v), "["), "]"))
			if err != nil {
				malformed()
			}
			r.SourceIP = ip.Unmap()
		case "incidents":
			w := firstWord(v)
			n, err := strconv.Atoi(w)
			if err != nil || len(w) > 9 || strings.Trim(w, "0123456789") != "" {
				malformed()
			}
			r.Incidents = n
		case "authentication-results":
			r.AuthenticationResults = append(r.AuthenticationResults, v)
		case "reported-domain":
			r.ReportedDomains = append(r.ReportedDomains, v)
		case "reported-uri":
			r.ReportedURIs = append(r.ReportedURIs, v)
		}
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return err
	}
	for _, name := range []string{"feedback-type", "user-agent", "version"} {
		if count[name] == 0 {
			return fmt.Errorf("%w: no %s", ErrMalformed, fieldNames[name])
		}
	}
	// Received-Date is the historic name of Arrival-Date (RFC 5965 §3.2):
	// read when Arrival-Date is absent.
	if date, name := arrival, "Arrival-Date"; date != "" || received != "" {
		if date == "" {
			date, name = received, "Received-Date"
		}
		t, err := mail.ParseDate(date)
		if err != nil {
			return fmt.Errorf("%w: malformed %s", ErrMalformed, name)
		}
		r.ArrivalDate = t
	}
	return nil
}

// scanFields calls fn with each field of the header-like block b (RFC 5322
// §2.2: "name: value", continued by lines that start with whitespace, up
// to the first empty line), its name in lower case and its value unfolded
// (each fold and the whitespace around it one space) and trimmed. Lines
// end in CRLF or LF; empty lines before the first field are skipped.
//
// strict (the feedback-report part): a line that is not a field, a
// continuation of nothing, text after the empty line, more than MaxFields
// fields or a value over MaxFieldLen is an error. Otherwise (the reported
// message's header section) such lines are skipped.
func scanFields(b []byte, strict bool, fn func(name, value string)) error {
	var name string
	var value []byte
	have, fields, started := false, 0, false
	emit := func() error {
		if !have {
			return nil
		}
		have = false
		v := mimereport.TrimWSP(string(value))
		if strict && len(v) > MaxFieldLen {
			return fmt.Errorf("%w: a field over %d octets", ErrTooLarge, MaxFieldLen)
		}
		fn(name, v)
		return nil
	}
	for len(b) > 0 {
		l := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		l = bytes.TrimSuffix(l, []byte("\r"))
		switch {
		case len(bytes.Trim(l, " \t")) == 0:
			if !started {
				continue
			}
			if err := emit(); err != nil {
				return err
			}
			if strict && len(bytes.TrimSpace(b)) > 0 {
				return fmt.Errorf("%w: text after the feedback-report fields", ErrMalformed)
			}
			return nil
		case l[0] == ' ' || l[0] == '\t':
			if !have {
				if strict {
					return fmt.Errorf("%w: feedback-report part: continuation of nothing", ErrMalformed)
				}
				continue
			}
			if strict && len(bytes.TrimLeft(value, " \t")) > MaxFieldLen {
				return fmt.Errorf("%w: a field over %d octets", ErrTooLarge, MaxFieldLen)
			}
			value = append(bytes.TrimRight(value, " \t"), ' ')
			value = append(value, bytes.TrimLeft(l, " \t")...)
		default:
			started = true
			if err := emit(); err != nil {
				return err
			}
			i := bytes.IndexByte(l, ':')
			n := bytes.TrimRight(l[:max(i, 0)], " \t")
			if i < 0 || !validFieldName(n) {
				if strict {
					return fmt.Errorf("%w: feedback-report part: a line that is not a field", ErrMalformed)
				}
				continue
			}
			fields++
			if strict && fields > MaxFields {
				return fmt.Errorf("%w: more than %d feedback-report fields", ErrTooLarge, MaxFields)
			}
			name, value, have = strings.ToLower(string(n)), append(value[:0], l[i+1:]...), true
		}
	}
	return emit()
}

// validFieldName reports whether s is a field name (RFC 5322 §3.6.8).
func validFieldName(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// parsePath reads an address field: "<addr>", "addr" or "<>" (the null
// path, returned as ""), optionally followed by a comment, and without an
// RFC 5321 source route. ok is false for anything else, or for an
// address that is not local@domain within maxAddress octets without
// spaces or control characters.
func parsePath(v string) (addr string, ok bool) {
	var rest string
	if strings.HasPrefix(v, "<") {
		end := strings.IndexByte(v, '>')
		if end < 0 {
			return "", false
		}
		addr, rest = v[1:end], v[end+1:]
	} else {
		addr = firstWord(v)
		rest = v[len(addr):]
	}
	if rest = mimereport.TrimWSP(rest); rest != "" && rest[0] != '(' {
		return "", false
	}
	if strings.HasPrefix(addr, "@") { // a source route, "@a,@b:user@d"
		i := strings.IndexByte(addr, ':')
		if i < 0 {
			return "", false
		}
		addr = addr[i+1:]
	}
	if addr == "" {
		return "", strings.HasPrefix(v, "<")
	}
	at := strings.LastIndexByte(addr, '@')
	if len(addr) > maxAddress || at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " \t<>()") {
		return "", false
	}
	return addr, true
}

// stripType returns v without a leading "type;" (Reporting-MTA's
// mta-name-type, RFC 3464 §2.1.2).
func stripType(v string) string {
	if i := strings.IndexByte(v, ';'); i > 0 && isToken(mimereport.TrimWSP(v[:i])) {
		return mimereport.TrimWSP(v[i+1:])
	}
	return v
}

// firstWord returns v up to its first whitespace or "(" (a comment).
func firstWord(v string) string {
	v = mimereport.TrimWSP(v)
	if i := strings.IndexAny(v, " \t("); i >= 0 {
		v = v[:i]
	}
	return v
}

// isToken reports whether s is an RFC 2045 §5.1 token of at most 64
// octets: printable US-ASCII but space and tspecials.
func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// isVersion reports whether s is a version number: digits, or digits
// separated by dots ("1", "0.1"), at most 16 octets.
func isVersion(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, p := range strings.Split(s, ".") {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
