package dsn

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Line widths (RFC 5322 §2.1.1), CRLF excluded.
const (
	foldWidth   = 78
	maxLineBody = 998
	// maxWord is the longest run without a space that Build writes: with
	// a field name or an indentation before it, it still fits maxLineBody.
	maxWord = 900
)

var crlf = []byte("\r\n")

// appendField appends "name: value" CRLF to dst, folded before a single
// space (one with a non-space on both sides) so that lines stay within
// foldWidth where such a space exists. Parse unfolds a fold and the
// whitespace after it into one space, so the value comes back unchanged.
// value must be printable US-ASCII.
func appendField(dst []byte, name, value string) []byte {
	line := name + ": " + value
	min := len(name) + 2 // never fold before the first word of the value
	for len(line) > foldWidth {
		i := foldPoint(line, min)
		if i < 0 {
			break
		}
		dst = append(dst, line[:i]...)
		dst = append(dst, crlf...)
		line = line[i:]
		min = 1
	}
	dst = append(dst, line...)
	return append(dst, crlf...)
}

// foldPoint returns the index of the last single space in line at or before
// foldWidth and after min, else the first one after foldWidth, else -1.
func foldPoint(line string, min int) int {
	single := func(i int) bool {
		return line[i] == ' ' && line[i-1] != ' ' && i+1 < len(line) && line[i+1] != ' '
	}
	for i := foldWidth; i > min; i-- {
		if single(i) {
			return i
		}
	}
	for i := max(foldWidth+1, min+1); i < len(line)-1; i++ {
		if single(i) {
			return i
		}
	}
	return -1
}

// wrap appends text as lines of at most foldWidth characters where the
// words allow, the first line starting with first and the others with
// next, each ending in CRLF. Words are separated by single spaces.
func wrap(dst []byte, text, first, next string) []byte {
	line := first
	empty := true // line holds only its indentation
	for _, w := range strings.Split(text, " ") {
		if !empty && len(line)+1+len(w) > foldWidth {
			dst = append(append(dst, line...), crlf...)
			line, empty = next, true
		}
		if !empty {
			line += " "
		}
		line += w
		empty = false
	}
	return append(append(dst, line...), crlf...)
}

// StatusString formats an RFC 3463 code: "5.1.1".
func StatusString(s [3]int) string {
	return fmt.Sprintf("%d.%d.%d", s[0], s[1], s[2])
}

// validStatus reports whether s is an RFC 3463 §2 code: class 2, 4 or 5,
// subject and detail of one to three digits.
func validStatus(s [3]int) bool {
	return (s[0] == 2 || s[0] == 4 || s[0] == 5) &&
		s[1] >= 0 && s[1] <= 999 && s[2] >= 0 && s[2] <= 999
}

// checkAddress returns why a is not an address Build can write, or "".
func checkAddress(a string) string {
	switch {
	case a == "":
		return "empty address"
	case len(a) > MaxAddressLen:
		return fmt.Sprintf("address over %d octets", MaxAddressLen)
	case !utf8.ValidString(a):
		return "address is not valid UTF-8"
	case a[0] == ' ' || a[len(a)-1] == ' ':
		return "address starts or ends with a space"
	case a[0] == '<' && a[len(a)-1] == '>':
		return "address in angle brackets"
	}
	for _, r := range a {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "control character in address"
		}
	}
	return ""
}

// typedAddress returns the address-type and address of a recipient field:
// "rfc822" and a itself when a is printable US-ASCII, else "utf-8" and its
// utf-8-addr-xtext form (RFC 6533 §3). a has passed checkAddress, so the
// result is at most 3.5 octets per octet of a: under maxWord.
func typedAddress(a string) (typ, addr string) {
	if printableASCII(a) {
		return "rfc822", a
	}
	return "utf-8", xtextEncode(a)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// xtextEncode writes every character outside QCHAR (printable US-ASCII but
// space, "+", "=" and "\") as \x{HEX}, HEX in upper case without leading
// zeros (RFC 6533 §3, EmbeddedUnicodeChar).
func xtextEncode(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0x20 && r < 0x7f && r != '+' && r != '=' && r != '\\' {
			b.WriteRune(r)
			continue
		}
		b.WriteString(`\x{`)
		b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
		b.WriteByte('}')
	}
	return b.String()
}

// xtextDecode replaces each well-formed \x{HEX} in s by its character,
// letter case of HEX ignored, and leaves anything else as it is.
func xtextDecode(s string) string {
	if !strings.Contains(s, `\x{`) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, `\x{`)
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		end := strings.IndexByte(s, '}')
		if end > 3 && end <= 9 {
			if v, err := strconv.ParseUint(s[3:end], 16, 32); err == nil && v > 0 &&
				v <= utf8.MaxRune && (v < 0xd800 || v > 0xdfff) {
				b.WriteRune(rune(v))
				s = s[end+1:]
				continue
			}
		}
		b.WriteString(`\x{`)
		s = s[3:]
	}
	b.WriteString(s)
	return b.String()
}

// cleanDiagnostic makes d fit one field value: line breaks, other controls
// and whitespace runs become one space, bytes outside US-ASCII "?" (one per
// character of valid UTF-8), runs without a space longer than maxWord are
// cut by a space, and the result is trimmed and cut at MaxDiagnosticLen.
func cleanDiagnostic(d string) string {
	var b strings.Builder
	space, word := false, 0
	for _, r := range d {
		if b.Len() >= MaxDiagnosticLen {
			break
		}
		var c byte
		switch {
		case r == ' ' || r < 0x20 || r == 0x7f:
			space = true
			continue
		case r >= 0x80: // RuneError for invalid bytes too
			c = '?'
		default:
			c = byte(r)
		}
		if word == maxWord {
			space = true
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			word = 0
		}
		space = false
		b.WriteByte(c)
		word++
	}
	return strings.TrimRight(b.String()[:min(b.Len(), MaxDiagnosticLen)], " ")
}

// diagnosticType is "smtp" for a reply that starts with a reply code
// (RFC 5321 §4.2), "X-Postern" for anything else.
func diagnosticType(d string) string {
	if len(d) >= 3 && d[0] >= '2' && d[0] <= '5' && isDigit(d[1]) && isDigit(d[2]) &&
		(len(d) == 3 || d[3] == ' ' || d[3] == '-') {
		return "smtp"
	}
	return "X-Postern"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// maxMTAName caps an MTA name: a DNS name in presentation form with
// escapes, or an address literal.
const maxMTAName = 512

// cleanMTA splits "type; name" (type "dns" when absent) and makes name a
// single printable US-ASCII word; empty name: no field.
func cleanMTA(s string) (typ, name string) {
	typ, name = "dns", strings.TrimSpace(s)
	if i := strings.IndexByte(name, ';'); i > 0 && isTypeToken(strings.TrimSpace(name[:i])) {
		typ, name = strings.TrimSpace(name[:i]), strings.TrimSpace(name[i+1:])
	}
	var b strings.Builder
	for _, r := range name {
		if b.Len() == maxMTAName {
			break
		}
		if r > 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return typ, b.String()
}

// isTypeToken reports whether s can be an address, MTA or diagnostic type
// (an RFC 3464 atom, kept to letters, digits and "-_.").
func isTypeToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validHostname reports whether s is a DNS name: dot-separated labels of
// letters, digits, "-" and "_", at most 253 octets, no trailing dot.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// validMailbox reports whether s is an RFC 5321 §4.1.2 Mailbox in US-ASCII:
// Local-part "@" (Domain / address-literal), at most MaxAddressLen octets.
// Such a mailbox is also an RFC 5322 addr-spec, so "<" s ">" is a safe To.
func validMailbox(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if len(s) > MaxAddressLen || at <= 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if strings.HasPrefix(domain, "[") {
		if len(domain) < 3 || !strings.HasSuffix(domain, "]") {
			return false
		}
		for i := 1; i < len(domain)-1; i++ {
			if c := domain[i]; c < 0x21 || c > 0x7e || c == '[' || c == ']' || c == '\\' {
				return false
			}
		}
	} else if !validHostname(domain) {
		return false
	}
	if local[0] == '"' {
		return validQuoted(local)
	}
	for _, atom := range strings.Split(local, ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			if !isAtext(atom[i]) {
				return false
			}
		}
	}
	return true
}

// validQuoted reports whether s is an RFC 5321 Quoted-string.
func validQuoted(s string) bool {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
			if i == len(s)-1 || s[i] < 0x20 || s[i] > 0x7e {
				return false
			}
		case c < 0x20 || c > 0x7e || c == '"':
			return false
		}
	}
	return true
}

// isAtext reports whether c is RFC 5322 §3.2.3 atext in US-ASCII.
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
