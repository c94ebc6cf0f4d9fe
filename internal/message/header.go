package message

import (
	"bytes"
	"fmt"
)

// Limits on the header section that ParseHeader accepts.
const (
	MaxHeaderFields = 1000    // fields
	MaxHeaderBytes  = 1 << 20 // octets of fields, the empty line excluded
)

// Field is one header field.
type Field struct {
	// Name is the field name as written, without the WSP that obsolete
	// syntax allows before the colon.
	Name string
	// Raw is the whole field, name through final CRLF, folds included,
	// exactly as in the message. It shares memory with the parsed message.
	// Only the last field of a message with no empty line and no final
	// CRLF lacks the CRLF.
	Raw []byte
}

// Value returns the field body unfolded (RFC 5322 §2.2.3: every CRLF
// removed) with leading and trailing WSP trimmed.
func (f Field) Value() string {
	v := f.Raw
	if i := bytes.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	v = bytes.TrimSuffix(v, crlf)
	if bytes.Contains(v, crlf) { // folded: one copy without the folds
		v = bytes.ReplaceAll(v, crlf, nil)
	}
	return string(bytes.Trim(v, " \t"))
}

// Header is the parsed header section of a message.
type Header struct {
	Fields []Field
	// BodyOffset is the index of the first body byte, after the empty line,
	// or len(msg) when the message has no empty line.
	BodyOffset int
}

// Has reports whether the header has a field named name, compared
// case-insensitively.
func (h Header) Has(name string) bool {
	for _, f := range h.Fields {
		if equalFoldASCII(f.Name, name) {
			return true
		}
	}
	return false
}

// Count returns the number of fields named name, compared
// case-insensitively.
func (h Header) Count(name string) int {
	n := 0
	for _, f := range h.Fields {
		if equalFoldASCII(f.Name, name) {
			n++
		}
	}
	return n
}

// Values returns the unfolded, trimmed values (see Field.Value) of the
// fields named name, compared case-insensitively, in message order.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h.Fields {
		if equalFoldASCII(f.Name, name) {
			vs = append(vs, f.Value())
		}
	}
	return vs
}

// HeaderError reports a malformed header section. Reason never contains
// bytes of the message.
type HeaderError struct {
	Line   int // physical line, from 1
	Reason string
}

func (e *HeaderError) Error() string {
	return fmt.Sprintf("header line %d: %s", e.Line, e.Reason)
}

// ParseHeader parses the header section of msg: the fields up to the first
// empty line. A message without an empty line is all header and no body.
// It returns a *HeaderError when:
//   - a line ends in a bare CR or LF;
//   - the first line starts with whitespace (a continuation of nothing);
//   - the message starts with an mbox "From " line;
//   - a field name is empty or has a byte outside printable US-ASCII, or a
//     line has no colon;
//   - a continuation line is only whitespace;
//   - there are more than MaxHeaderFields fields or MaxHeaderBytes octets.
func ParseHeader(msg []byte) (Header, error) {
	// Room for the fields of most messages at once, rather than growing
	// through 1, 2, 4 … 16.
	h := Header{Fields: make([]Field, 0, 16)}
	line := 0
	i := 0
	for i < len(msg) {
		line++
		if bytes.HasPrefix(msg[i:], crlf) {
			h.BodyOffset = i + 2
			return h, nil
		}
		start := i
		end, next, reason := nextLine(msg, i)
		if reason != "" {
			return Header{}, &HeaderError{Line: line, Reason: reason}
		}
		nameLen, reason := fieldName(msg[i:end], line)
		if reason != "" {
			return Header{}, &HeaderError{Line: line, Reason: reason}
		}
		i = next
		for i < len(msg) && isWSP(msg[i]) {
			line++
			end, next, reason := nextLine(msg, i)
			if reason == "" && len(bytes.Trim(msg[i:end], " \t")) == 0 {
				reason = "continuation line of only whitespace"
			}
			if reason != "" {
				return Header{}, &HeaderError{Line: line, Reason: reason}
			}
			i = next
			if i > MaxHeaderBytes {
				break
			}
		}
		if i > MaxHeaderBytes {
			return Header{}, &HeaderError{Line: line, Reason: fmt.Sprintf("header section over %d octets", MaxHeaderBytes)}
		}
		if len(h.Fields) == MaxHeaderFields {
			return Header{}, &HeaderError{Line: line, Reason: fmt.Sprintf("more than %d header fields", MaxHeaderFields)}
		}
		h.Fields = append(h.Fields, Field{
			Name: fieldNameString(msg[start : start+nameLen]),
			Raw:  msg[start:i:i],
		})
	}
	h.BodyOffset = len(msg)
	return h, nil
}

var crlf = []byte("\r\n")

// fieldNameString returns name as a string: for the names most messages
// have, as Postern or mail programs write them, a constant (a switch on
// string(name) compares without copying), else a copy.
func fieldNameString(name []byte) string {
	switch string(name) {
	case "From":
		return "From"
	case "To":
		return "To"
	case "Cc":
		return "Cc"
	case "Subject":
		return "Subject"
	case "Date":
		return "Date"
	case "Message-ID":
		return "Message-ID"
	case "Message-Id":
		return "Message-Id"
	case "MIME-Version":
		return "MIME-Version"
	case "Mime-Version":
		return "Mime-Version"
	case "Content-Type":
		return "Content-Type"
	case "Content-Transfer-Encoding":
		return "Content-Transfer-Encoding"
	case "Reply-To":
		return "Reply-To"
	case "Received":
		return "Received"
	case "X-Originating-IP":
		return "X-Originating-IP"
	case "DKIM-Signature":
		return "DKIM-Signature"
	case "List-Unsubscribe":
		return "List-Unsubscribe"
	case "List-Unsubscribe-Post":
		return "List-Unsubscribe-Post"
	case "X-Spam":
		return "X-Spam"
	case "X-Spam-Status":
		return "X-Spam-Status"
	case "X-Spam-Score":
		return "X-Spam-Score"
	}
	return string(name)
}

// nextLine finds the line starting at i: its content ends at end, and the
// next line starts at next (after the CRLF, or len(msg) for an unterminated
// last line). A bare CR or LF yields a reason.
func nextLine(msg []byte, i int) (end, next int, reason string) {
	end, next = len(msg), len(msg)
	if j := bytes.IndexByte(msg[i:], '\n'); j >= 0 {
		if j == 0 || msg[i+j-1] != '\r' {
			return 0, 0, "bare LF"
		}
		end, next = i+j-1, i+j+1
	}
	if bytes.IndexByte(msg[i:end], '\r') >= 0 {
		return 0, 0, "bare CR"
	}
	return end, next, ""
}

// fieldName returns the length of the field name at the start of line, the
// first line of a field, or the reason it has none.
func fieldName(l []byte, line int) (n int, reason string) {
	if isWSP(l[0]) {
		return 0, "first line starts with whitespace"
	}
	for n < len(l) && isFtext(l[n]) {
		n++
	}
	j := n
	for j < len(l) && isWSP(l[j]) {
		j++
	}
	if j < len(l) && l[j] == ':' {
		if n == 0 {
			return 0, "empty field name"
		}
		return n, ""
	}
	switch {
	case line == 1 && bytes.HasPrefix(l, []byte("From ")):
		return 0, `mbox "From " line`
	case bytes.IndexByte(l, ':') < 0:
		return 0, "missing colon"
	default:
		return 0, "invalid character in field name"
	}
}

// isFtext reports whether c may appear in a field name (RFC 5322 §3.6.8).
func isFtext(c byte) bool { return c >= 33 && c <= 126 && c != ':' }

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// equalFoldASCII compares a and b ignoring ASCII case only: field names are
// ASCII, and Unicode folding would match "K" (Kelvin) to "k".
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
