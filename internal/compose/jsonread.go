package compose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jreader reads one JSON document token by token, so that every type
// error is reported with its path, duplicate keys are found, nesting is
// bounded and nothing past a limit is kept. A syntax error stops it.
type jreader struct {
	what  string // "request body": the subject of document-level errors
	dec   *json.Decoder
	errs  *Errors
	depth int
	bad   bool // a syntax or nesting error: stop reading
}

func newJReader(b []byte, what string, errs *Errors) *jreader {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return &jreader{what: what, dec: dec, errs: errs}
}

// token returns the next token; false after a syntax error.
func (r *jreader) token() (json.Token, bool) {
	if r.bad {
		return nil, false
	}
	t, err := r.dec.Token()
	if err != nil {
		r.fail(err)
		return nil, false
	}
	return t, true
}

// fail records a syntax error without Go's text, which quotes input.
func (r *jreader) fail(err error) {
	r.bad = true
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		r.errs.addf("", "%s is not valid JSON (at byte %d)", r.what, se.Offset)
	case errors.Is(err, io.EOF) && r.dec.InputOffset() == 0:
		r.errs.add("", r.what+" is empty")
	default:
		r.errs.add("", r.what+" is not valid JSON (it ends early)")
	}
}

// end checks that nothing but whitespace follows the document.
func (r *jreader) end() {
	if r.bad {
		return
	}
	if _, err := r.dec.Token(); err != io.EOF {
		r.bad = true
		r.errs.add("", r.what+" has data after the JSON object")
	}
}

// enter counts one level of nesting, failing past MaxDepth.
func (r *jreader) enter() bool {
	r.depth++
	if r.depth > MaxDepth {
		r.bad = true
		r.errs.addf("", "%s is nested more than %d levels deep", r.what, MaxDepth)
		return false
	}
	return true
}

// skip consumes one value.
func (r *jreader) skip() {
	if t, ok := r.token(); ok {
		r.skipAfter(t)
	}
}

// skipAfter consumes the rest of the value that starts with t.
func (r *jreader) skipAfter(t json.Token) {
	if d, ok := t.(json.Delim); !ok || (d != '{' && d != '[') {
		return
	}
	if !r.enter() {
		return
	}
	for level := 1; level > 0; {
		t, ok := r.token()
		if !ok {
			return
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			level++
			if !r.enter() {
				return
			}
		case json.Delim('}'), json.Delim(']'):
			level--
			r.depth--
		}
	}
}

// mismatch reports a value of the wrong type and skips it.
func (r *jreader) mismatch(path, want string, t json.Token) {
	if path == "" {
		r.errs.add("", r.what+" must be a JSON "+strings.TrimPrefix(strings.TrimPrefix(want, "an "), "a "))
	} else {
		r.errs.add(path, "must be "+want)
	}
	r.skipAfter(t)
}

// object reads an object, calling member for each key with its path;
// member must consume the value (skip it at least). It reports false for
// null or a value of another type (reported).
func (r *jreader) object(path string, member func(key, path string)) bool {
	t, ok := r.token()
	if !ok || t == nil {
		return false
	}
	if t != json.Delim('{') {
		r.mismatch(path, "an object", t)
		return false
	}
	if !r.enter() {
		return false
	}
	seen := make(map[string]bool)
	for !r.bad && r.dec.More() {
		kt, ok := r.token()
		if !ok {
			return false
		}
		key, _ := kt.(string) // json.Decoder only yields string keys
		kp := join(path, key)
		if seen[key] {
			r.errs.add(kp, "is given more than once")
			r.skip()
			continue
		}
		seen[key] = true
		member(key, kp)
	}
	if _, ok := r.token(); !ok { // '}'
		return false
	}
	r.depth--
	return true
}

// array reads an array, calling elem for each index with its path; elem
// must consume the value. Past keep elements, the rest are only counted:
// the returned n is the true length.
func (r *jreader) array(path string, keep int, elem func(i int, path string)) (n int, present bool) {
	t, ok := r.token()
	if !ok || t == nil {
		return 0, false
	}
	if t != json.Delim('[') {
		r.mismatch(path, "an array", t)
		return 0, false
	}
	if !r.enter() {
		return 0, false
	}
	for ; !r.bad && r.dec.More(); n++ {
		if n >= keep {
			r.skip()
			continue
		}
		elem(n, path+"."+strconv.Itoa(n))
	}
	if _, ok := r.token(); !ok { // ']'
		return n, false
	}
	r.depth--
	return n, true
}

// str reads a string or null ("", false).
func (r *jreader) str(path string) (string, bool) {
	t, ok := r.token()
	if !ok || t == nil {
		return "", false
	}
	s, ok := t.(string)
	if !ok {
		r.mismatch(path, "a string", t)
		return "", false
	}
	return s, true
}

// integer reads an integer that fits in int64, or null (0, false).
func (r *jreader) integer(path string) (int64, bool) {
	t, ok := r.token()
	if !ok || t == nil {
		return 0, false
	}
	num, ok := t.(json.Number)
	if !ok {
		r.mismatch(path, "an integer", t)
		return 0, false
	}
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		r.errs.add(path, "must be an integer")
		return 0, false
	}
	return n, true
}

// boolean reads true, false or null (false, false).
func (r *jreader) boolean(path string) (bool, bool) {
	t, ok := r.token()
	if !ok || t == nil {
		return false, false
	}
	b, ok := t.(bool)
	if !ok {
		r.mismatch(path, "true or false", t)
		return false, false
	}
	return b, true
}

// strMap reads an object of strings. Past keep members the rest are
// skipped and only counted in n.
func (r *jreader) strMap(path string, keep int) (m map[string]string, n int) {
	r.object(path, func(key, kp string) {
		n++
		if n > keep {
			r.skip()
			return
		}
		if v, ok := r.str(kp); ok {
			if m == nil {
				m = make(map[string]string)
			}
			m[key] = v
		}
	})
	return m, n
}

// unknown reports a key Postern does not know and skips its value.
func (r *jreader) unknown(path string) {
	r.errs.add(path, "is not a field Postern knows; check its spelling")
	r.skip()
}

// join appends a JSON key to a field path, cut and cleaned so a path never
// carries much of the input or bytes a client cannot show. An empty key
// leaves the path of its object.
func join(path, key string) string {
	const max = 64
	if key == "" {
		return path
	}
	var b strings.Builder
	b.Grow(len(path) + 1 + min(len(key), max) + 3)
	if path != "" {
		b.WriteString(path)
		b.WriteByte('.')
	}
	for i := 0; i < len(key); i++ {
		if i == max {
			b.WriteString("...")
			break
		}
		c := key[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// quote returns a short, printable rendering of s for an error message.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xc0 == 0x80 {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
