package main

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// printable makes text from outside Postern's control (addresses,
// subjects, reasons, remote replies, DNS answers, names) safe to print on
// the operator's terminal: C0 controls, DEL, C1 controls (U+0080–U+009F,
// U+009B is a CSI of its own), the bidirectional controls and line
// separators that make a line read otherwise than its bytes, and invalid
// UTF-8 are written as visible escapes: \t, \n, \r, \x1b, \u009b, \xff
// (a byte of invalid UTF-8). Everything else, backslashes included, is
// left as it is, so that clean text prints unchanged. Newlines are
// escaped too: print multi-line output with printableLines.
func printable(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if mustEscape(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case !mustEscape(r, n):
			b.WriteString(s[i : i+n])
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

// printableLines is printable for text of several lines: each line is
// escaped, the newlines between them kept.
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = printable(l)
	}
	return strings.Join(lines, "\n")
}

// mustEscape reports whether the rune r, n octets long, is escaped.
func mustEscape(r rune, n int) bool {
	switch {
	case r == utf8.RuneError && n == 1: // invalid UTF-8
		return true
	case r < 0x20, r >= 0x7f && r <= 0x9f: // C0, DEL, C1
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidi controls
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}
