package mailauth

import (
	"bytes"
	"strings"
)

// headerField is one raw header field: its name as written and its value
// with folding whitespace left in.
type headerField struct {
	Name  string
	Value string
}

// splitHeader returns the header fields of msg, in order, and whether the
// header section was ended by an empty line. It follows the same rules as
// go-msgauth's reader (a line starting with SP or HTAB continues the field
// before it; LF or CRLF line ends), so that its view of which fields exist
// matches the verifier's.
func splitHeader(msg []byte) ([]headerField, bool) {
	var fields []headerField
	for len(msg) > 0 {
		var line []byte
		i := bytes.IndexByte(msg, '\n')
		if i < 0 {
			line, msg = msg, nil
		} else {
			line, msg = msg[:i], msg[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return fields, i >= 0
		}
		if len(fields) > 0 && (line[0] == ' ' || line[0] == '\t') {
			fields[len(fields)-1].Value += "\r\n" + string(line)
			continue
		}
		name, value, _ := strings.Cut(string(line), ":")
		fields = append(fields, headerField{Name: strings.TrimSpace(name), Value: value})
	}
	return fields, false
}

// parseTags parses a DKIM tag-list (RFC 6376 section 3.2) leniently: it
// returns the tags it can read, with all whitespace removed from values,
// the first occurrence winning. It is only used to label results; the
// verifier does its own strict parsing.
func parseTags(s string) map[string]string {
	tags := make(map[string]string)
	for _, spec := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(spec, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := tags[k]; dup || k == "" {
			continue
		}
		tags[k] = stripFWS(v)
	}
	return tags
}

func stripFWS(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}
