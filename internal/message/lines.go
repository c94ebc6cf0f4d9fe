package message

import (
	"bytes"
	"fmt"
)

// MaxLineLength is RFC 5321 §4.5.3.1.6's limit on a text line, in octets,
// CRLF included.
const MaxLineLength = 1000

// LineEndingError reports a CR not followed by LF, or an LF not preceded by
// CR.
type LineEndingError struct {
	Offset int  // index of the offending byte, from 0
	Bare   byte // '\r' or '\n'
}

func (e *LineEndingError) Error() string {
	return fmt.Sprintf("bare %s at byte %d", byteName(e.Bare), e.Offset)
}

func byteName(c byte) string {
	switch c {
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	}
	return fmt.Sprintf("%#02x", c)
}

// CheckLineEndings returns a *LineEndingError for the first CR in b not
// followed by LF, or LF not preceded by CR, whichever comes first. Such
// bytes are how SMTP smuggling hides a second message inside the first
// (CVE-2023-51764 and its family), so Postern refuses them outright rather
// than normalizing. NUL and 8-bit bytes are not its concern.
func CheckLineEndings(b []byte) error {
	cr, lf := firstBareCR(b), firstBareLF(b)
	switch {
	case cr < 0 && lf < 0:
		return nil
	case lf < 0 || (cr >= 0 && cr < lf):
		return &LineEndingError{Offset: cr, Bare: '\r'}
	default:
		return &LineEndingError{Offset: lf, Bare: '\n'}
	}
}

// firstBareCR returns the index of the first CR in b not followed by LF,
// or -1.
func firstBareCR(b []byte) int {
	for i := 0; ; i += 2 {
		j := bytes.IndexByte(b[i:], '\r')
		if j < 0 {
			return -1
		}
		i += j
		if i+1 == len(b) || b[i+1] != '\n' {
			return i
		}
	}
}

// firstBareLF returns the index of the first LF in b not preceded by CR,
// or -1.
func firstBareLF(b []byte) int {
	for i := 0; ; i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j
		if i == 0 || b[i-1] != '\r' {
			return i
		}
	}
}

// LineLengthError reports a line longer than allowed.
type LineLengthError struct {
	Line   int // from 1
	Length int // octets, line ending included
}

func (e *LineLengthError) Error() string {
	return fmt.Sprintf("line %d is %d octets long", e.Line, e.Length)
}

// CheckLineLength returns a *LineLengthError for the first line of b longer
// than max octets, its line ending included (RFC 5321 §4.5.3.1.6: 1000).
// Lines end at LF; a last line without one counts its bytes alone. A max of
// zero or less means MaxLineLength.
func CheckLineLength(b []byte, max int) error {
	if max <= 0 {
		max = MaxLineLength
	}
	for line, i := 1, 0; i < len(b); line++ {
		n := bytes.IndexByte(b[i:], '\n') + 1
		if n == 0 {
			n = len(b) - i
		}
		if n > max {
			return &LineLengthError{Line: line, Length: n}
		}
		i += n
	}
	return nil
}
