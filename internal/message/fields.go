package message

import (
	"fmt"
	"sort"
	"strings"
)

// AddFields returns msg with the fields added at the top of its header, in
// the order of their names (so the result does not depend on map order),
// and the header of the result. h is msg's parsed header. A field that is
// not one well-formed header field (a plain name; line breaks in the value
// only as CRLF folds) is left out. An error means the result would pass
// the header limits; msg is then unchanged.
func AddFields(msg []byte, h Header, fields map[string]string) ([]byte, Header, error) {
	names := make([]string, 0, len(fields))
	for name, value := range fields {
		if safeField(name, value) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var top []byte
	for _, name := range names {
		top = append(top, name+": "+fields[name]+"\r\n"...)
	}
	if len(h.Fields)+len(names) > MaxHeaderFields || h.BodyOffset+len(top) > MaxHeaderBytes {
		return msg, h, fmt.Errorf("message: %d added fields would pass the header limits", len(names))
	}
	out := append(top, msg...)
	oh, err := ParseHeader(out)
	if err != nil {
		return msg, h, fmt.Errorf("message: added fields: %w", err)
	}
	return out, oh, nil
}

// safeField reports whether name: value is one well-formed header field:
// a plain name, and line breaks in the value only as CRLF folds.
func safeField(name, value string) bool {
	if name == "" || strings.ContainsAny(name, ": \t\r\n") {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' {
			return false
		}
	}
	for i := 0; i < len(value); i++ {
		switch value[i] {
		case '\n':
			return false // a CRLF is consumed below; a bare LF is not a fold
		case '\r':
			if i+2 >= len(value) || value[i+1] != '\n' || (value[i+2] != ' ' && value[i+2] != '\t') {
				return false
			}
			i++
		}
	}
	return true
}
