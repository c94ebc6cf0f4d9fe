package delivery

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on a reply (RFC 5321 §4.5.3.1.5 sets 512 octets per reply line;
// real servers write longer ones, so Postern allows four times that).
const (
	maxReplyLineLen = 2048 // octets, line ending excluded
	maxReplyLines   = 100
)

// reply is one SMTP reply (RFC 5321 §4.2).
type reply struct {
	Code     int
	Enhanced [3]int   // from the last line's text, zero when absent
	Lines    []string // the lines as received, line endings removed
}

// result turns the reply into a Result: permanent for 5xx, the lines
// joined with "\n".
func (rep reply) result() Result {
	return Result{
		Permanent: rep.Code >= 500,
		Code:      rep.Code,
		Enhanced:  rep.Enhanced,
		Line:      capLine(strings.Join(rep.Lines, "\n")),
	}
}

// protocolError is a reply that is not an SMTP reply. After one, the
// client cannot know where the next reply starts: the connection is lost.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return "protocol error: " + e.msg }

func protoErr(format string, a ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, a...)}
}

// parseReply reads one reply from r (RFC 5321 §4.2): zero or more lines
// "ddd-text", then "ddd text" or "ddd". Every line carries the same code,
// whose first digit is 2 to 5. A line may end in CRLF or, leniently, LF.
// A line longer than maxReplyLineLen, more than maxReplyLines lines, a
// control character, or anything else is a *protocolError. Errors from r
// are returned as they are (io.ErrUnexpectedEOF for a cut line).
func parseReply(r *bufio.Reader) (reply, error) {
	var rep reply
	var code string
	for {
		line, err := readReplyLine(r)
		if err != nil {
			if err == io.EOF && len(rep.Lines) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return reply{}, err
		}
		if len(rep.Lines) == maxReplyLines {
			return reply{}, protoErr("reply longer than %d lines", maxReplyLines)
		}
		c, last, err := splitReplyLine(line)
		if err != nil {
			return reply{}, err
		}
		if code == "" {
			code = c
		} else if c != code {
			return reply{}, protoErr("reply lines with codes %s and %s", code, c)
		}
		rep.Lines = append(rep.Lines, line)
		if last {
			break
		}
	}
	rep.Code = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	last := rep.Lines[len(rep.Lines)-1]
	if len(last) > 4 {
		rep.Enhanced = parseEnhanced(last[4:], code[0])
	}
	return rep, nil
}

// readReplyLine reads one line and removes its LF or CRLF.
func readReplyLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > maxReplyLineLen+2 {
			return "", protoErr("reply line longer than %d octets", maxReplyLineLen)
		}
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	buf = bytes.TrimSuffix(buf[:len(buf)-1], []byte{'\r'})
	if len(buf) > maxReplyLineLen {
		return "", protoErr("reply line longer than %d octets", maxReplyLineLen)
	}
	return string(buf), nil
}

// splitReplyLine checks one reply line and returns its code and whether
// it is the last line of the reply.
func splitReplyLine(line string) (code string, last bool, err error) {
	for i := 0; i < len(line); i++ {
		if c := line[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return "", false, protoErr("control character in reply %s", quoteStart(line))
		}
	}
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]) {
		return "", false, protoErr("not an SMTP reply: %s", quoteStart(line))
	}
	if len(line) == 3 {
		return line, true, nil
	}
	switch line[3] {
	case ' ':
		return line[:3], true, nil
	case '-':
		return line[:3], false, nil
	}
	return "", false, protoErr("not an SMTP reply: %s", quoteStart(line))
}

// parseEnhanced returns the enhanced status code (RFC 3463 §2) at the
// start of text, "class.subject.detail" followed by a space or the end,
// when its class is the reply code's first digit (2, 4 or 5); else zero.
func parseEnhanced(text string, class byte) [3]int {
	word, _, _ := strings.Cut(text, " ")
	parts := strings.Split(word, ".")
	if class == '3' || len(parts) != 3 || len(parts[0]) != 1 || parts[0][0] != class {
		return [3]int{}
	}
	var enh [3]int
	for i, p := range parts {
		if len(p) == 0 || len(p) > 3 {
			return [3]int{}
		}
		for j := 0; j < len(p); j++ {
			if !isDigit(p[j]) {
				return [3]int{}
			}
			enh[i] = enh[i]*10 + int(p[j]-'0')
		}
	}
	return enh
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// quoteStart quotes the start of a remote line for an error description.
func quoteStart(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// isProtocolError reports whether err is a *protocolError.
func isProtocolError(err error) bool {
	var pe *protocolError
	return errors.As(err, &pe)
}
