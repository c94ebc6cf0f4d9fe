package compose

import (
	"encoding/base64"
	"mime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Header line widths, CRLF excluded: RFC 5322 §2.1.1 asks for at most 78
// and allows 998; RFC 2047 §2 limits a line holding an encoded-word to
// 76. Every line stays within 76 where a fold point allows.
const (
	foldWidth = 76  // folded at WSP to stay within this where possible
	maxLine   = 998 // never exceeded
)

// A header field body is written as tokens: the first has no leading WSP,
// every other starts with WSP followed by something else, and a fold
// (CRLF) may be put before any but the first. Joined, the tokens are the
// field body; unfolding (RFC 5322 §2.2.3) gives it back exactly.

// appendField appends "name: body" CRLF, folded greedily before a token
// that would take the line past foldWidth. A first token too long for the
// first line goes on the second (RFC 5322 allows FWS after the colon).
// foldable tells whether every line stays within maxLine.
func appendField(b []byte, name string, toks []string) []byte {
	b = append(b, name...)
	b = append(b, ':')
	line := len(name) + 1
	if len(toks) > 0 && toks[0] != "" && line+1+len(toks[0]) > foldWidth && 1+len(toks[0]) <= foldWidth {
		b = append(b, '\r', '\n')
		line = 0
	}
	b = append(b, ' ')
	line++
	for i, t := range toks {
		if i > 0 && line+len(t) > foldWidth {
			b = append(b, '\r', '\n')
			line = 0
		}
		b = append(b, t...)
		line += len(t)
	}
	return append(b, '\r', '\n')
}

// foldable reports whether appendField(name, toks) keeps every line
// within maxLine: a line longer than foldWidth holds a single token.
func foldable(name string, toks []string) bool {
	for i, t := range toks {
		n := len(t)
		if i == 0 {
			n += len(name) + 2
		}
		if n > maxLine {
			return false
		}
	}
	return true
}

// unstructuredTokens splits v at each WSP that is followed by a non-WSP
// byte, the only places a fold may go without making a line of only WSP.
func unstructuredTokens(v string) []string {
	var toks []string
	start := 0
	for i := 1; i+1 < len(v); i++ {
		if isWSP(v[i]) && !isWSP(v[i+1]) {
			toks = append(toks, v[start:i])
			start = i
		}
	}
	return append(toks, v[start:])
}

// textTokens renders unstructured text (a Subject, RFC 5322 §3.2.5):
// printable ASCII as it is, folded at its spaces; anything else, text
// that looks like an encoded-word, and a word too long for one line, as
// RFC 2047 encoded-words.
func textTokens(name, s string) []string {
	if isPrintableASCII(s) && !strings.Contains(s, "=?") {
		toks := unstructuredTokens(s)
		ok := true
		for _, t := range toks {
			if len(t) > foldWidth-1 {
				ok = false
				break
			}
		}
		if ok {
			return toks
		}
	}
	return encodeWords(s, firstBudget(name))
}

// firstBudget is the room for the first token on the first line of the
// field name.
func firstBudget(name string) int { return foldWidth - len(name) - 2 }

// valueTokens renders the value of a user-given header, which may be
// structured: printable ASCII is kept and only folded; other text becomes
// RFC 2047 encoded-words.
func valueTokens(name, s string) []string {
	if isPrintableASCII(s) {
		return unstructuredTokens(s)
	}
	return encodeWords(s, firstBudget(name))
}

// phraseTokens renders a display name (RFC 5322 §3.2.5 phrase): atoms
// when it is only atoms, else a quoted-string, else (non-ASCII, too long,
// or looking like an encoded-word) RFC 2047 encoded-words, which §5(3)
// allows in a phrase.
func phraseTokens(name string, first int) []string {
	if name == "" {
		return nil
	}
	if isPrintableASCII(name) && !strings.Contains(name, "=?") && !strings.Contains(name, "\t") {
		words := strings.Split(name, " ")
		atoms := true
		for _, w := range words {
			if w == "" || len(w) > foldWidth-2 || !isAtom(w) {
				atoms = false
				break
			}
		}
		if atoms {
			for i := 1; i < len(words); i++ {
				words[i] = " " + words[i]
			}
			return words
		}
		if q := quoteString(name); len(q) <= foldWidth-2 {
			return []string{q}
		}
	}
	return encodeWords(name, first)
}

// mailbox is a checked address: Email a bare ASCII addr-spec, Name free
// of control characters.
type mailbox struct {
	Email string
	Name  string
}

// addressListTokens renders mailboxes as an address-list (RFC 5322
// §3.4), folding only between words and after commas.
func addressListTokens(field string, list []mailbox) []string {
	var toks []string
	for i, m := range list {
		n := len(toks)
		first := maxWord
		if i == 0 {
			first = firstBudget(field)
		}
		toks = append(toks, phraseTokens(m.Name, first)...)
		if m.Name != "" {
			toks = append(toks, "<"+m.Email+">")
		} else {
			toks = append(toks, m.Email)
		}
		for j := n; j < len(toks); j++ {
			if j > 0 && (toks[j] == "" || !isWSP(toks[j][0])) {
				toks[j] = " " + toks[j]
			}
		}
		if i < len(list)-1 {
			toks[len(toks)-1] += ","
		}
	}
	return toks
}

// mediaTypeTokens renders a Content-Type or Content-Disposition body
// (RFC 2045 §5.1, RFC 2183 §2): the value, then each parameter (sorted)
// as its own token. Nil if mime cannot format it.
func mediaTypeTokens(v string, params map[string]string) []string {
	base := mime.FormatMediaType(v, nil)
	if base == "" {
		return nil
	}
	toks := []string{base}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pt := paramTokens(k, params[k])
		if pt == nil {
			return nil
		}
		for _, t := range pt {
			toks[len(toks)-1] += ";"
			toks = append(toks, t)
		}
	}
	return toks
}

// paramTokens renders one parameter, " attr=value", quoted or in RFC 2231
// form as mime.FormatMediaType does; one too long for a line is cut into
// RFC 2231 §3 continuations " attr*0*=…", " attr*1*=…", each
// percent-encoded (the first after the utf-8 charset and an empty
// language) and cut between characters. Nil if attr is not a token.
func paramTokens(attr, value string) []string {
	p := mime.FormatMediaType("x", map[string]string{attr: value})
	if p == "" {
		return nil
	}
	p = p[len("x;"):]
	if len(p)+1 <= foldWidth {
		return []string{p}
	}
	attr = strings.ToLower(attr)
	var toks []string
	cur := " " + attr + "*0*=utf-8''"
	for _, r := range value {
		var enc []byte
		for _, c := range []byte(string(r)) {
			if c <= ' ' || c >= 0x7f || strings.IndexByte("*'%()<>@,;:\\\"/[]?=", c) >= 0 {
				enc = append(enc, '%', upperHex[c>>4], upperHex[c&0xf])
			} else {
				enc = append(enc, c)
			}
		}
		if len(cur)+len(enc)+1 > foldWidth && !strings.HasSuffix(cur, "=") && !strings.HasSuffix(cur, "''") {
			toks = append(toks, cur)
			cur = " " + attr + "*" + strconv.Itoa(len(toks)) + "*="
		}
		cur += string(enc)
	}
	return append(toks, cur)
}

// RFC 2047 encoded-words: at most 75 characters each (§2), charset utf-8,
// split between characters (§5), Q or B, whichever is shorter. The Q form
// uses only the characters §5(3) allows in a phrase, so the same words
// serve a display name, a Subject and any unstructured field.
const (
	wordPrefix  = "=?utf-8?"
	maxWord     = 75
	wordPayload = maxWord - len(wordPrefix) - len("q??=")
	maxBBytes   = wordPayload / 4 * 3
)

// encodeWords encodes s as encoded-words, the first without and the rest
// with a leading space. Decoders drop the space between adjacent
// encoded-words (RFC 2047 §6.2), so s comes back exactly. The first word
// is at most first characters long; when that leaves no room, the first
// token is empty and every word starts a line of its own.
func encodeWords(s string, first int) []string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	qlen := 0
	for i := 0; i < len(s); i++ {
		if qSafe(s[i]) || s[i] == ' ' {
			qlen++
		} else {
			qlen += 3
		}
	}
	useQ := qlen <= (len(s)+2)/3*4
	var words []string
	if first > maxWord {
		first = maxWord
	}
	if first < len(wordPrefix)+len("q??=")+12 {
		words = append(words, "")
		first = maxWord
	}
	var cur []byte
	flush := func() {
		var w string
		if useQ {
			w = wordPrefix + "q?" + string(cur) + "?="
		} else {
			w = wordPrefix + "b?" + base64.StdEncoding.EncodeToString(cur) + "?="
		}
		if len(words) > 0 {
			w = " " + w
		}
		words = append(words, w)
		cur = cur[:0]
	}
	for len(s) > 0 {
		_, n := utf8.DecodeRuneInString(s)
		r := s[:n]
		s = s[n:]
		var enc []byte
		if useQ {
			for i := 0; i < len(r); i++ {
				enc = appendQ(enc, r[i])
			}
		} else {
			enc = []byte(r)
		}
		limit := wordPayload
		if !useQ {
			limit = maxBBytes
		}
		if len(words) == 0 {
			// The first word: the payload that fits in first.
			limit = first - (maxWord - wordPayload)
			if !useQ {
				limit = limit / 4 * 3
			}
		}
		if len(cur)+len(enc) > limit && len(cur) > 0 {
			flush()
		}
		cur = append(cur, enc...)
	}
	if len(cur) > 0 || len(words) == 0 {
		flush()
	}
	return words
}

const upperHex = "0123456789ABCDEF"

func appendQ(b []byte, c byte) []byte {
	switch {
	case c == ' ':
		return append(b, '_')
	case qSafe(c):
		return append(b, c)
	}
	return append(b, '=', upperHex[c>>4], upperHex[c&0xf])
}

// qSafe reports whether c may stand for itself in a Q encoded-word in a
// phrase (RFC 2047 §5(3)).
func qSafe(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '!' || c == '*' || c == '+' || c == '-' || c == '/'
}

// isAtom reports whether w is an RFC 5322 §3.2.3 atom (atext only).
func isAtom(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", rune(c)) {
			return false
		}
	}
	return w != ""
}

// quoteString renders s, printable ASCII, as an RFC 5322 §3.2.4
// quoted-string.
func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isPrintableASCII reports whether s is only printable US-ASCII, SP and
// HTAB.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 0x20 || s[i] > 0x7e) && s[i] != '\t' {
			return false
		}
	}
	return true
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }
