package delivery

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxResultLine caps Result.Line, in octets.
const maxResultLine = 1024

// Result is the outcome of one delivery step: a reply from the remote
// server, or a condition found locally (network trouble, a refused TLS
// handshake, a message that must not be sent).
type Result struct {
	// Permanent is true for a 5xx reply or a local permanent condition:
	// retrying the same message to the same destination will not help.
	Permanent bool
	// Code is the SMTP reply code; 0 when there was no reply (network,
	// TLS, timeout, local refusal).
	Code int
	// Enhanced is the RFC 3463 status code the server sent, or the one
	// Postern chose for a local condition; all zero when there is none.
	Enhanced [3]int
	// Line is the remote reply as received (the lines of a multi-line
	// reply joined with "\n"), or Postern's description of a local
	// condition. Valid UTF-8, at most 1 KiB.
	Line string
}

// OK reports whether the result is a 2xx reply.
func (r Result) OK() bool { return r.Code >= 200 && r.Code < 300 }

// String returns the result on one line, for logs:
// "permanent failure: 550 5.1.1 no such user" or
// "temporary failure 4.4.1: connection refused by 192.0.2.1:25".
func (r Result) String() string {
	kind := "temporary failure"
	switch {
	case r.OK():
		kind = "ok"
	case r.Permanent:
		kind = "permanent failure"
	}
	if r.Code == 0 && r.Enhanced != ([3]int{}) {
		kind += fmt.Sprintf(" %d.%d.%d", r.Enhanced[0], r.Enhanced[1], r.Enhanced[2])
	}
	return kind + ": " + strings.ReplaceAll(r.Line, "\n", " ")
}

// Temp returns a local temporary condition, without an enhanced code.
func Temp(format string, a ...any) Result {
	return Result{Line: capLine(fmt.Sprintf(format, a...))}
}

// Perm returns a local permanent condition with the enhanced code enh.
func Perm(enh [3]int, format string, a ...any) Result {
	return Result{Permanent: true, Enhanced: enh, Line: capLine(fmt.Sprintf(format, a...))}
}

// tempEnh returns a local temporary condition with the enhanced code enh.
func tempEnh(enh [3]int, format string, a ...any) Result {
	r := Temp(format, a...)
	r.Enhanced = enh
	return r
}

// Enhanced codes (RFC 3463) that the client chooses for local conditions.
var (
	enhNoAnswer     = [3]int{4, 4, 1}  // connect failed
	enhBadConn      = [3]int{4, 4, 2}  // connection lost or timed out
	enhProtocol     = [3]int{4, 5, 0}  // the server broke the protocol
	enhTempSecurity = [3]int{4, 7, 0}  // TLS handshake failed
	enhNeedTLS      = [3]int{4, 7, 10} // TLS required, not available
	enhBadRcpt      = [3]int{5, 1, 3}  // recipient address unusable
	enhBadSender    = [3]int{5, 1, 7}  // sender address unusable
	enhNoRoute      = [3]int{5, 4, 4}  // unable to route: every MX address refused (private.go)
	enhTooBig       = [3]int{5, 3, 4}  // message larger than the server takes
	enhMedia        = [3]int{5, 6, 0}  // body not fit to send (bare CR or LF)
	enhNeedUTF8     = [3]int{5, 6, 7}  // non-ASCII address, no SMTPUTF8
)

// capLine makes s valid UTF-8 and cuts it to maxResultLine octets at a
// character boundary.
func capLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxResultLine {
		return s
	}
	n := maxResultLine
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
