package spamscan

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Action is what a scanner advises doing with a message. The names are
// rspamd's, with underscores; the built-in scanner uses only
// ActionAccept, ActionAddHeader and ActionReject.
type Action string

// The actions, from the mildest to the strictest.
const (
	ActionAccept     Action = "accept"
	ActionAddHeader  Action = "add_header"
	ActionGreylist   Action = "greylist"
	ActionSoftReject Action = "soft_reject"
	ActionReject     Action = "reject"
)

// rank orders the actions by strictness; an unknown action ranks above
// them all, so that it is never taken for a milder one.
func (a Action) rank() int {
	switch a {
	case ActionAccept:
		return 0
	case ActionAddHeader:
		return 1
	case ActionGreylist:
		return 2
	case ActionSoftReject:
		return 3
	case ActionReject:
		return 4
	}
	return 5
}

// Stricter reports whether a is a stricter action than b.
func (a Action) Stricter(b Action) bool { return a.rank() > b.rank() }

// Verdict is a scanner's judgement of one message.
type Verdict struct {
	Action Action
	Score  float64
	// Symbols are the names of the rules that fired, sorted.
	Symbols []string
	// Reason is safe to send to the client in the SMTP reply: it never
	// quotes the message, and holds printable ASCII only.
	Reason string
	// Headers are fields to add to the message when it is accepted with
	// ActionAddHeader: name → value. A value may be folded (CRLF followed
	// by a space or tab), never holds a bare CR or LF, and has no final
	// CRLF.
	Headers map[string]string
}

// Envelope is what the SMTP session knows about a message besides its
// bytes.
type Envelope struct {
	ClientIP   netip.Addr
	Helo       string
	From       string // MAIL FROM address, "" for the null reverse-path
	User       string // the authenticated user
	Recipients []string
	QueueID    string // optional; rspamd logs it
}

// Scanner judges a message. An error means the scanner could not judge
// (it is down, slow or confused); the caller decides whether to accept
// anyway (fail open) or refuse for now (fail closed).
type Scanner interface {
	Scan(ctx context.Context, env Envelope, msg []byte) (Verdict, error)
}

var (
	_ Scanner = Builtin{}
	_ Scanner = (*Rspamd)(nil)
	_ Scanner = Chain{}
)

// maxReasonLen bounds a Reason, and the reply text made from it.
const maxReasonLen = 200

// safeText returns s with every byte outside printable ASCII replaced by
// "?", runs of spaces collapsed, trimmed, and cut to maxReasonLen bytes:
// text that may go into an SMTP reply line.
func safeText(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s) && b.Len() < maxReasonLen; i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			space = b.Len() > 0
			continue
		case c < 0x20 || c > 0x7e:
			c = '?'
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// validFieldName reports whether name is a header field name (RFC 5322
// §3.6.8: printable US-ASCII except ":").
func validFieldName(name string) bool {
	if name == "" || len(name) > 76 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// validFieldValue reports whether v can be written after "Name: " as it
// is: every CRLF is followed by a space or tab and by something else than
// whitespace (RFC 5322 §2.2.3), no other control character than HTAB, no
// line over 998 octets, and no final CRLF. Octets over 127 are allowed
// (RFC 6532).
func validFieldValue(v string) bool {
	line := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\r':
			if i+2 >= len(v) || v[i+1] != '\n' || (v[i+2] != ' ' && v[i+2] != '\t') {
				return false
			}
			if strings.TrimLeft(nextLineOf(v[i+2:]), " \t") == "" {
				return false
			}
			i++
			line = 0
			continue
		case c == '\t':
		case c < 0x20 || c == 0x7f:
			return false
		}
		line++
		if line > 998-78 { // leaves room for the field name
			return false
		}
	}
	return true
}

func nextLineOf(s string) string {
	if i := strings.IndexByte(s, '\r'); i >= 0 {
		return s[:i]
	}
	return s
}

// cleanHeaders returns the valid fields of h, or nil when none is.
func cleanHeaders(h map[string]string) map[string]string {
	var out map[string]string
	for name, v := range h {
		if validFieldName(name) && validFieldValue(v) {
			if out == nil {
				out = make(map[string]string, len(h))
			}
			out[name] = v
		}
	}
	return out
}

// sortedSymbols returns the deduplicated, sorted union of the lists.
func sortedSymbols(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// spamHeaders are the fields Postern adds to a message accepted with
// ActionAddHeader, when the scanner gives none of its own.
func spamHeaders(score float64, symbols []string) map[string]string {
	status := fmt.Sprintf("Yes, score=%.2f", score)
	if len(symbols) > 0 {
		status += " tests=" + strings.Join(symbols, ",")
	}
	h := map[string]string{
		"X-Spam":        "Yes",
		"X-Spam-Score":  fmt.Sprintf("%.2f", score),
		"X-Spam-Status": status,
	}
	return cleanHeaders(h) // drops a status line made too long by its tests
}
