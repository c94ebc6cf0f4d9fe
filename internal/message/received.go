package message

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Trace is what a Received field records about one SMTP transaction. It
// holds nothing secret: of the API key, only its public id.
type Trace struct {
	Helo     string     // client's EHLO argument, as sent
	ClientIP netip.Addr // client's address; omitted when invalid
	By       string     // our hostname
	With     string     // "ESMTPSA", "ESMTPS" or "ESMTP" (RFC 3848); omitted when empty
	TLS      string     // e.g. "TLS1.3 TLS_AES_128_GCM_SHA256", or "" without TLS
	KeyID    string     // public id of the API key, or ""
	ID       string     // queue id, or ""
	For      string     // the single recipient, or ""
	Now      time.Time
}

// Received returns the value of a Received field (RFC 5321 §4.4, RFC 3848),
// folded, in the form
//
//	from HELO ([IP])
//		by BY (Postern) with ESMTPSA (TLS1.3 TLS_AES_128_GCM_SHA256)
//		(authenticated key KEYID)
//		id ID
//		for <addr>; DATE
//
// The IP is an RFC 5321 address literal ("[192.0.2.1]",
// "[IPv6:2001:db8::1]"). Parts whose value is empty are left out. Every
// input is sanitized so that it cannot break out of its place in the field:
// HELO keeps only printable ASCII other than "()[];\", at most 255
// characters ("unknown" if nothing is left); BY becomes a dot-atom
// ("localhost" if empty); a recipient that is not a plain address is left
// out rather than altered.
func Received(t Trace) string {
	var b strings.Builder
	b.WriteString("from ")
	b.WriteString(orDefault(sanitizeToken(t.Helo, 255), "unknown"))
	if t.ClientIP.IsValid() {
		b.WriteString(" (")
		b.WriteString(addressLiteral(t.ClientIP))
		b.WriteString(")")
	}
	b.WriteString("\r\n\tby ")
	b.WriteString(sanitizeHost(t.By))
	b.WriteString(" (Postern)")
	if with := sanitizeWith(t.With); with != "" {
		b.WriteString(" with ")
		b.WriteString(with)
	}
	if tls := sanitizeComment(t.TLS, 128); tls != "" {
		b.WriteString(" (")
		b.WriteString(tls)
		b.WriteString(")")
	}
	if key := sanitizeToken(t.KeyID, 128); key != "" {
		b.WriteString("\r\n\t(authenticated key ")
		b.WriteString(key)
		b.WriteString(")")
	}
	if id := sanitizeToken(t.ID, 128); id != "" {
		b.WriteString("\r\n\tid ")
		b.WriteString(id)
	}
	if rcpt, ok := forPath(t.For); ok {
		b.WriteString("\r\n\tfor <")
		b.WriteString(rcpt)
		b.WriteString(">")
	}
	b.WriteString("; ")
	b.WriteString(t.Now.Format(DateLayout))
	return b.String()
}

// addressLiteral formats ip as an RFC 5321 §4.1.3 address literal.
func addressLiteral(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		return "[IPv6:" + ip.String() + "]"
	}
	return "[" + ip.String() + "]"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// sanitizeToken keeps the printable ASCII of s other than "()[];\", at most
// max bytes of it.
func sanitizeToken(s string, max int) string {
	return keep(s, max, func(c byte) bool {
		return c > ' ' && c < 0x7f && !strings.ContainsRune(`()[];\`, rune(c))
	})
}

// sanitizeComment keeps the printable ASCII of s other than "()\", with
// controls turned to spaces, runs of spaces collapsed, the ends trimmed and
// at most max bytes: the text of a comment.
func sanitizeComment(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < ' ' || r == 0x7f:
			return ' '
		case r > 0x7f || r == '(' || r == ')' || r == '\\':
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = strings.TrimRight(s[:max], " ")
	}
	return s
}

// sanitizeWith keeps the letters, digits and hyphens of a protocol name.
func sanitizeWith(s string) string {
	return keep(s, 32, func(c byte) bool {
		return 'a' <= lowerASCII(c) && lowerASCII(c) <= 'z' || '0' <= c && c <= '9' || c == '-'
	})
}

// sanitizeHost turns s into a dot-atom (RFC 5322 §3.2.3) of at most 253
// characters: atext and single inner dots, "localhost" if nothing is left.
func sanitizeHost(s string) string {
	s = keep(s, len(s), func(c byte) bool { return c == '.' || isAtext(c) })
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '.' })
	s = strings.Join(parts, ".")
	if len(s) > 253 {
		s = strings.TrimRight(s[:253], ".")
	}
	return orDefault(s, "localhost")
}

// isAtext reports whether c is RFC 5322 §3.2.3 atext (ASCII only).
func isAtext(c byte) bool {
	return 'a' <= lowerASCII(c) && lowerASCII(c) <= 'z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// forPath returns the recipient for "for <...>", and whether it is plain
// enough to write unchanged: at most 256 bytes of valid UTF-8 without
// controls, spaces or any of "<>();\"".
func forPath(s string) (string, bool) {
	if s == "" || len(s) > 256 || !utf8.ValidString(s) {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || strings.IndexByte(`<>();\"`, c) >= 0 {
			return "", false
		}
	}
	return s, true
}

// keep returns the bytes of s for which ok is true, at most max of them.
func keep(s string, max int, ok func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		if ok(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
