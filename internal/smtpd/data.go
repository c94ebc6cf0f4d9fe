package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"sync"
)

// The DATA reader (RFC 5321 §4.1.1.4, §4.5.2). It is Postern's own, not
// the SMTP library's, because a reader that repairs what it reads hides
// SMTP smuggling: go-smtp's drops the CR of "\r\n.\rX" and does not end a
// line at "\r\r\n". This one changes nothing but the removal of a
// transparency dot, ends the data only at a line that is exactly ".\r\n"
// after a CRLF, and reports every bare CR, bare LF and NUL, so the session
// can refuse the message whole with 554.

// Errors of readData, after the whole DATA has been read.
var (
	// errBareLineEnding: a CR not followed by LF, or an LF not preceded
	// by CR (smuggling).
	errBareLineEnding = errors.New("smtpd: bare CR or LF in DATA")
	// errNUL: a NUL octet in DATA.
	errNUL = errors.New("smtpd: NUL in DATA")
	// errTooBig: more than the limit; the rest was read and dropped.
	errTooBig = errors.New("smtpd: message too big")
	// errBudget: the server's in-flight budget was full; the rest was
	// read and dropped.
	errBudget = errors.New("smtpd: in-flight budget exhausted")
)

// budget bounds the message bytes all sessions hold while reading DATA,
// so many slow or large DATA phases cannot exhaust memory.
type budget struct {
	mu    sync.Mutex
	limit int64
	used  int64
}

func newBudget(limit int64) *budget { return &budget{limit: limit} }

// take reserves n bytes; false when that would pass the limit.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// inUse is what is reserved now (for tests and metrics).
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// budgetStep is how much a session reserves at a time.
const budgetStep = 64 << 10

// readData reads a DATA section up to and including its end line. It
// returns the message (without the end line, transparency dots removed)
// and the bytes it reserved from bud, to be given back when the message
// is no longer held. On errTooBig and errBudget the message is nil and the
// rest of the section was read and dropped; on a read error the section
// did not end and the connection is unusable.
func readData(r *bufio.Reader, max int64, bud *budget, renew func()) (msg []byte, reserved int64, err error) {
	var flaw error // the first fault seen; reported at the end
	if max <= 0 {
		max = 1<<63 - 1
	}
	lineStart := true
	pendingCR := false // the last octet read was a CR
	for {
		renew()
		chunk, rerr := r.ReadSlice('\n')
		if rerr != nil && rerr != bufio.ErrBufferFull {
			bud.give(reserved)
			return nil, 0, rerr
		}
		full := rerr == nil // chunk ends with LF
		if lineStart && full && len(chunk) == 3 && chunk[0] == '.' && chunk[1] == '\r' {
			break // the end line
		}
		if lineStart && len(chunk) > 0 && chunk[0] == '.' {
			chunk = chunk[1:] // transparency (§4.5.2)
		}
		prevCR := pendingCR
		if flaw == nil {
			flaw = scanLine(chunk, prevCR)
		}
		if len(chunk) > 0 {
			pendingCR = chunk[len(chunk)-1] == '\r'
		}
		// A line starts only after CRLF: a bare LF does not end one, so
		// "\n.\r\n" is not the end of the data.
		n := len(chunk)
		lineStart = full && (n >= 2 && chunk[n-2] == '\r' || n == 1 && prevCR)
		if flaw == nil && int64(len(msg)+n) > max {
			flaw = errTooBig
		}
		if flaw != nil {
			// The message is refused whatever follows: hold none of it.
			msg = nil
			bud.give(reserved)
			reserved = 0
			continue
		}
		if need := int64(len(msg) + n); need > reserved {
			step := max64(budgetStep, need-reserved)
			if !bud.take(step) {
				flaw = errBudget
				msg = nil
				bud.give(reserved)
				reserved = 0
				continue
			}
			reserved += step
		}
		msg = append(msg, chunk...)
	}
	if flaw != nil {
		return nil, 0, flaw
	}
	return msg, reserved, nil
}

// scanLine finds a bare CR, bare LF or NUL in a piece of a line. prevCR
// says the piece before it ended with a CR, which this piece's first
// octet must then complete as CRLF.
func scanLine(b []byte, prevCR bool) error {
	if prevCR && (len(b) == 0 || b[0] != '\n') {
		return errBareLineEnding
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return errNUL
	}
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\r':
			if i+1 < len(b) && b[i+1] != '\n' {
				return errBareLineEnding
			}
		case '\n':
			if i == 0 && !prevCR || i > 0 && b[i-1] != '\r' {
				return errBareLineEnding
			}
		}
	}
	return nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
