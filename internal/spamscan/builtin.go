package spamscan

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"unicode"
)

// DefaultThreshold is the built-in scanner's reject threshold when
// Builtin.Threshold is not set.
const DefaultThreshold = 5.0

// HardScore is the score of a message refused outright (GTUBE, an
// executable, a MIME structure too deep to scan), whatever its rules
// would add up to.
const HardScore = 1000.0

// Symbols of the built-in scanner's refusals (see doc.go for the scored
// rules).
const (
	SymGTUBE          = "GTUBE"
	SymExecutable     = "EXECUTABLE_ATTACHMENT"
	SymMIMETooComplex = "MIME_TOO_COMPLEX"
)

// GTUBE is the Generic Test for Unsolicited Bulk Email: a message that
// contains it is always refused as spam.
const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// Builtin is the scanner built into Postern: no network, no state. It
// refuses GTUBE and executable attachments, then adds up the scores of
// its rules (doc.go lists them): a total at or over Threshold is
// ActionReject, at or over half of it ActionAddHeader, else
// ActionAccept.
type Builtin struct {
	Threshold float64 // DefaultThreshold when 0 or less
}

func (b Builtin) threshold() float64 {
	if !(b.Threshold > 0) { // NaN too
		return DefaultThreshold
	}
	return b.Threshold
}

// Scan judges msg. It never returns an error.
func (b Builtin) Scan(_ context.Context, _ Envelope, msg []byte) (Verdict, error) {
	return b.scan(msg), nil
}

func (b Builtin) scan(msg []byte) Verdict {
	h, body := parseHeader(msg)
	w := &walker{}
	w.walk(h, body, 0)
	w.scanRawFields(msg)
	w.checkUUEncoded(msg)

	subject, hasSubject := h.first("subject")
	subject = decodeWords(subject)

	if hasGTUBE(msg, subject, w.decoded) {
		return hard(SymGTUBE, "message looks like spam (GTUBE)")
	}
	if w.exec != "" {
		return hard(SymExecutable, "executable attachment refused: "+w.exec)
	}
	if w.tooDeep {
		return hard(SymMIMETooComplex, "message structure too complex to scan")
	}

	in := ruleInput{header: h, subject: subject, hasSubject: hasSubject, w: w}
	var score float64
	var fired []string
	for _, r := range rules {
		if r.test(in) {
			score += r.score
			fired = append(fired, r.name)
		}
	}
	fired = sortedSymbols(fired)
	v := Verdict{Action: ActionAccept, Score: score, Symbols: fired}
	switch t := b.threshold(); {
	case score >= t:
		v.Action = ActionReject
		v.Reason = safeText(fmt.Sprintf("message looks like spam (score %.1f, rules %s)", score, strings.Join(fired, ",")))
	case score >= t/2:
		v.Action = ActionAddHeader
		v.Headers = spamHeaders(score, fired)
	}
	return v
}

func hard(symbol, reason string) Verdict {
	return Verdict{Action: ActionReject, Score: HardScore, Symbols: []string{symbol}, Reason: reason}
}

// hasGTUBE looks for the GTUBE string in the raw message (header and
// body), in the decoded Subject and in every decoded body part.
func hasGTUBE(msg []byte, subject string, decoded [][]byte) bool {
	g := []byte(GTUBE)
	if bytes.Contains(msg, g) || strings.Contains(subject, GTUBE) {
		return true
	}
	for _, d := range decoded {
		if bytes.Contains(d, g) {
			return true
		}
	}
	return false
}

// decodeWords decodes RFC 2047 encoded words, leaving the text as it is
// when it cannot.
func decodeWords(s string) string {
	if dec, err := (&mime.WordDecoder{CharsetReader: anyCharset}).DecodeHeader(s); err == nil {
		return dec
	}
	return s
}

// ruleInput is what the scored rules look at.
type ruleInput struct {
	header     header
	subject    string // decoded
	hasSubject bool
	w          *walker
}

// rule is one scored rule of the built-in scanner.
type rule struct {
	name  string
	score float64
	test  func(ruleInput) bool
}

// rules is the scored rule set; doc.go describes each rule, and must be
// kept in step.
var rules = []rule{
	{"MISSING_SUBJECT", 2.0, func(in ruleInput) bool {
		return strings.TrimSpace(in.subject) == ""
	}},
	{"EMPTY_BODY", 2.0, func(in ruleInput) bool {
		return !in.w.content
	}},
	{"SUBJECT_ALL_CAPS", 1.5, func(in ruleInput) bool {
		upper, cased := 0, 0
		for _, r := range in.subject {
			switch {
			case unicode.IsUpper(r):
				upper++
				cased++
			case unicode.IsLower(r):
				cased++
			}
		}
		return cased >= 8 && upper == cased
	}},
	{"MANY_EXCLAMATIONS", 1.5, func(in ruleInput) bool {
		if strings.Count(in.subject, "!") >= 3 {
			return true
		}
		n := 0
		for _, t := range in.w.texts {
			n += bytes.Count(t, []byte("!"))
		}
		return n >= 10
	}},
	{"URL_SHORTENER", 2.0, func(in ruleInput) bool {
		for _, t := range in.w.texts {
			if hasShortenerURL(t) {
				return true
			}
		}
		return false
	}},
	{"REPLY_TO_MISMATCH", 1.0, func(in ruleInput) bool {
		from, _ := in.header.first("from")
		replyTo, ok := in.header.first("reply-to")
		if !ok {
			return false
		}
		fd, rd := addressDomain(from), addressDomain(replyTo)
		return fd != "" && rd != "" && !relatedDomains(fd, rd)
	}},
	{"HTML_ONLY", 1.0, func(in ruleInput) bool {
		return in.w.hasHTML && !in.w.hasPlain
	}},
}

// shorteners are the URL shortening services URL_SHORTENER knows.
var shorteners = map[string]bool{
	"bit.ly": true, "tinyurl.com": true, "goo.gl": true, "t.co": true,
	"ow.ly": true, "is.gd": true, "buff.ly": true, "rebrand.ly": true,
	"cutt.ly": true, "shorturl.at": true, "rb.gy": true, "tiny.cc": true,
	"t.ly": true, "s.id": true, "v.gd": true,
}

// hasShortenerURL reports whether text has an http or https URL whose
// host is a shortener.
func hasShortenerURL(text []byte) bool {
	lower := bytes.ToLower(text)
	for _, scheme := range []string{"http://", "https://"} {
		rest := lower
		for {
			i := bytes.Index(rest, []byte(scheme))
			if i < 0 {
				break
			}
			rest = rest[i+len(scheme):]
			end := bytes.IndexAny(rest, "/?#:\"'<> \t\r\n)]")
			if end < 0 {
				end = len(rest)
			}
			host := strings.TrimPrefix(strings.TrimSuffix(string(rest[:end]), "."), "www.")
			if j := strings.LastIndexByte(host, '@'); j >= 0 { // userinfo@host
				host = host[j+1:]
			}
			if shorteners[host] {
				return true
			}
		}
	}
	return false
}

// addressDomain returns the lower-case domain of the first address in a
// From or Reply-To value, or "".
func addressDomain(v string) string {
	addr := ""
	if list, err := mail.ParseAddressList(v); err == nil && len(list) > 0 {
		addr = list[0].Address
	} else {
		// Lenient: what is between the last "<" and ">", or the value.
		addr = v
		if i := strings.LastIndexByte(v, '<'); i >= 0 {
			addr = v[i+1:]
			if j := strings.IndexByte(addr, '>'); j >= 0 {
				addr = addr[:j]
			}
		}
	}
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(addr[i+1:])), ".")
}

// relatedDomains reports whether a and b are the same domain or one is a
// subdomain of the other.
func relatedDomains(a, b string) bool {
	return a == b || strings.HasSuffix(a, "."+b) || strings.HasSuffix(b, "."+a)
}
