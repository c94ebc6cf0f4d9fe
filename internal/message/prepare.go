package message

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Line widths for the fields Postern adds (RFC 5322 §2.1.1), CRLF excluded.
const (
	foldWidth   = 78  // folded at WSP to stay within this where possible
	maxLineBody = 998 // never exceeded
)

// DateLayout is the RFC 5322 §3.3 date-time format used in Date and
// Received.
const DateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// Stamp is what Postern adds to every accepted message.
type Stamp struct {
	// Received is the value of the Received field prepended to the
	// message, normally built by Received. It may be folded (CRLF followed
	// by SP or HTAB); any other CR or LF makes Prepare fail. Empty: no
	// Received field.
	Received string
	// OriginatingIP, if valid, is prepended as "X-Originating-IP: [addr]"
	// (an IPv4-mapped address as IPv4, IPv6 without its zone).
	OriginatingIP netip.Addr
	// Hostname is the right side of a generated Message-ID.
	Hostname string
	// Now is the Date of a message that has none.
	Now time.Time
	// Rand feeds the Message-ID; nil means crypto/rand.
	Rand io.Reader
	// Drop, when set, leaves out the original fields it returns true for
	// (header hygiene: fields a client may not supply).
	Drop func(Field) bool
}

// Prepare validates msg (CheckLineEndings, ParseHeader) and returns a new
// message: the Received field, then X-Originating-IP, then the original
// header fields, then Date if msg has none, then Message-ID if msg has none
// (names compared case-insensitively), then the empty line and the body
// exactly as received. A message without an empty line gets one, so the
// result is always well-formed; it passes CheckLineEndings and ParseHeader.
// The added fields are folded at WSP so that no line exceeds 78 characters
// where a fold point exists, and never 998.
//
// The errors for msg are *LineEndingError and *HeaderError, the latter also
// when the stamped header would pass MaxHeaderFields or MaxHeaderBytes.
// Other errors come from the Stamp: a Received value that is not a
// well-formed field body, or Rand failing.
func Prepare(msg []byte, s Stamp) ([]byte, error) {
	if err := CheckLineEndings(msg); err != nil {
		return nil, err
	}
	h, err := ParseHeader(msg)
	if err != nil {
		return nil, err
	}
	out, _, err := PrepareParsed(msg, h, s)
	return out, err
}

// PrepareParsed is Prepare for a message whose header h has been parsed
// already (ParseHeader(msg), after CheckLineEndings); it also returns the
// header of the result, whose fields share memory with it. Fields for
// which s.Drop returns true are left out.
func PrepareParsed(msg []byte, h Header, s Stamp) ([]byte, Header, error) {
	var before, after []field // added before and after the original fields
	if s.Received != "" {
		before = append(before, field{"Received", s.Received})
	}
	if s.OriginatingIP.IsValid() {
		before = append(before, field{"X-Originating-IP", "[" + ipString(s.OriginatingIP) + "]"})
	}
	if !h.Has("Date") {
		after = append(after, field{"Date", s.Now.Format(DateLayout)})
	}
	if !h.Has("Message-ID") {
		id, err := newMessageID(s.Rand, s.Hostname)
		if err != nil {
			return nil, Header{}, err
		}
		after = append(after, field{"Message-ID", id})
	}

	out := make([]byte, 0, len(msg)+1024)
	type span struct {
		name       string
		start, end int
	}
	spans := make([]span, 0, len(before)+len(h.Fields)+len(after))
	add := func(name, value string) error {
		start := len(out)
		var err error
		if out, err = appendField(out, name, value); err != nil {
			return err
		}
		spans = append(spans, span{name, start, len(out)})
		return nil
	}
	for _, f := range before {
		if err := add(f.name, f.value); err != nil {
			return nil, Header{}, err
		}
	}
	kept := h
	kept.Fields = make([]Field, 0, len(h.Fields))
	for _, f := range h.Fields {
		if s.Drop != nil && s.Drop(f) {
			continue
		}
		kept.Fields = append(kept.Fields, f)
		start := len(out)
		out = append(out, f.Raw...)
		if !bytes.HasSuffix(f.Raw, crlf) { // the last line of a body-less message
			out = append(out, crlf...)
		}
		spans = append(spans, span{f.Name, start, len(out)})
	}
	for _, f := range after {
		if err := add(f.name, f.value); err != nil {
			return nil, Header{}, err
		}
	}
	if err := checkStamped(out, kept, len(before)+len(after)); err != nil {
		return nil, Header{}, err
	}
	out = append(out, crlf...)
	out = append(out, msg[h.BodyOffset:]...)
	end := 0
	if len(spans) > 0 {
		end = spans[len(spans)-1].end
	}
	oh := Header{BodyOffset: end + len(crlf), Fields: make([]Field, len(spans))}
	for i, sp := range spans {
		oh.Fields[i] = Field{Name: sp.name, Raw: out[sp.start:sp.end:sp.end]}
	}
	return out, oh, nil
}

// checkStamped returns a *HeaderError if the stamped header section hdr,
// which holds the fields of h and added more, is over ParseHeader's limits:
// the result of Prepare must parse.
func checkStamped(hdr []byte, h Header, added int) error {
	var reason string
	switch {
	case len(h.Fields)+added > MaxHeaderFields:
		reason = fmt.Sprintf("more than %d header fields once stamped", MaxHeaderFields)
	case len(hdr) > MaxHeaderBytes:
		reason = fmt.Sprintf("header section over %d octets once stamped", MaxHeaderBytes)
	default:
		return nil
	}
	line := 0 // the last line of the original header
	for _, f := range h.Fields {
		line += bytes.Count(f.Raw, crlf)
		if !bytes.HasSuffix(f.Raw, crlf) {
			line++
		}
	}
	return &HeaderError{Line: line, Reason: reason}
}

// field is a field that Prepare adds.
type field struct{ name, value string }

// ipString formats ip for a header: IPv4-mapped addresses as IPv4, no zone.
func ipString(ip netip.Addr) string {
	return ip.Unmap().WithZone("").String()
}

// newMessageID returns "<" + 24 random base32 characters + "@" + host + ">".
func newMessageID(r io.Reader, host string) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [15]byte // 120 bits: 24 base32 characters
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("message: Message-ID: read random: %w", err)
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var sb strings.Builder
	sb.WriteByte('<')
	for i := 0; i < 24; i++ {
		bit := i * 5
		v := uint(b[bit/8])<<8 | uint(at(b[:], bit/8+1))
		sb.WriteByte(alphabet[(v>>(11-bit%8))&31])
	}
	sb.WriteByte('@')
	sb.WriteString(sanitizeHost(host))
	sb.WriteByte('>')
	return sb.String(), nil
}

func at(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// appendField appends "name: value" CRLF to dst, keeping the folds already
// in value and folding every line longer than foldWidth at WSP.
func appendField(dst []byte, name, value string) ([]byte, error) {
	if reason := checkFieldValue(value); reason != "" {
		return nil, fmt.Errorf("message: %s field: %s", name, reason)
	}
	rest := name + ": " + value
	for i := 0; ; i++ {
		l, more, folded := strings.Cut(rest, "\r\n")
		if i > 0 {
			dst = append(dst, crlf...)
		}
		var ok bool
		if dst, ok = appendFolded(dst, l); !ok {
			return nil, fmt.Errorf("message: %s field: a line exceeds %d characters and cannot be folded", name, maxLineBody)
		}
		if !folded {
			return append(dst, crlf...), nil
		}
		rest = more
	}
}

// checkFieldValue returns why value is not a well-formed field body: every
// CR and LF must be part of a fold (CRLF followed by WSP), and no
// continuation line may be only whitespace.
func checkFieldValue(v string) string {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\n':
			if i == 0 || v[i-1] != '\r' {
				return "bare LF"
			}
		case '\r':
			if i+1 == len(v) || v[i+1] != '\n' {
				return "bare CR"
			}
			if i+2 == len(v) || !isWSP(v[i+2]) {
				return "CRLF not followed by whitespace"
			}
			if strings.Trim(nextPhysical(v[i+2:]), " \t") == "" {
				return "continuation line of only whitespace"
			}
		}
	}
	return ""
}

func nextPhysical(s string) string {
	if i := strings.IndexByte(s, '\r'); i >= 0 {
		return s[:i]
	}
	return s
}

// appendFolded appends line, folded at WSP so that each piece is at most
// foldWidth long where a fold point exists; a fold point is a WSP with
// non-WSP both before and after it, so no piece is only whitespace. It
// reports false if a piece is longer than maxLineBody.
func appendFolded(dst []byte, line string) ([]byte, bool) {
	ok := true
	for len(line) > foldWidth {
		i := foldPoint(line)
		if i < 0 {
			break
		}
		ok = ok && i <= maxLineBody
		dst = append(dst, line[:i]...)
		dst = append(dst, crlf...)
		line = line[i:]
	}
	return append(dst, line...), ok && len(line) <= maxLineBody
}

// foldPoint returns where to fold line: the last fold point at or before
// foldWidth (at the start of its WSP run), else the first one after it, else
// -1.
func foldPoint(line string) int {
	first := strings.IndexFunc(line, func(r rune) bool { return r != ' ' && r != '\t' })
	last := strings.LastIndexFunc(line, func(r rune) bool { return r != ' ' && r != '\t' })
	if first < 0 {
		return -1
	}
	for i := min(foldWidth, last-1); i > first; i-- {
		if isWSP(line[i]) {
			for i-1 > first && isWSP(line[i-1]) {
				i--
			}
			return i
		}
	}
	for i := foldWidth + 1; i < last; i++ {
		if isWSP(line[i]) {
			return i
		}
	}
	return -1
}
