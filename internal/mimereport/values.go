package mimereport

import "strings"

// Clean makes a parsed field value safe to store and log: valid UTF-8,
// each control character (C0, DEL, C1) replaced by a space, trimmed of
// spaces and tabs.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, IsControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	return TrimWSP(s)
}

// TrimWSP trims spaces and tabs, and nothing else: a decoded address may
// end in a Unicode space that is part of it.
func TrimWSP(s string) string { return strings.Trim(s, " \t") }

// IsControl reports a C0 control, DEL or a C1 control.
func IsControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

// ValidMsgID reports whether s is a plain "<…@…>" msg-id (RFC 5322
// §3.6.4) of at most 250 octets.
func ValidMsgID(s string) bool {
	if len(s) < 5 || len(s) > 250 || s[0] != '<' || s[len(s)-1] != '>' {
		return false
	}
	inner := s[1 : len(s)-1]
	if !strings.Contains(inner, "@") {
		return false
	}
	for i := 0; i < len(inner); i++ {
		if c := inner[i]; c < 0x21 || c > 0x7e || c == '<' || c == '>' {
			return false
		}
	}
	return true
}
