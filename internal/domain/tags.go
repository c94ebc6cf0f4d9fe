package domain

import (
	"errors"
	"fmt"
	"strings"
)

// ParseDKIMRecord parses a DKIM key record, or any tag=value list of RFC
// 6376 §3.2 (DMARC records use the same form), into its tags. Tag names
// are case-sensitive (§3.2) and each may appear once; values keep their
// inner whitespace and lose the surrounding one. Whitespace is SP, HTAB,
// CR or LF, a little looser than FWS. An empty list is an error; a final
// ";" is allowed.
func ParseDKIMRecord(s string) (map[string]string, error) {
	tags := map[string]string{}
	specs := strings.Split(s, ";")
	for i, spec := range specs {
		spec = trimWS(spec)
		if spec == "" {
			if i == len(specs)-1 && i > 0 {
				break // a trailing ";"
			}
			return nil, errors.New("domain: tag list: empty tag")
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("domain: tag list: %q has no \"=\"", truncate(spec, 20))
		}
		name, value = trimWS(name), trimWS(value)
		if !validTagName(name) {
			return nil, fmt.Errorf("domain: tag list: bad tag name %q", truncate(name, 20))
		}
		if !validTagValue(value) {
			return nil, fmt.Errorf("domain: tag list: bad value for tag %q", name)
		}
		if _, dup := tags[name]; dup {
			return nil, fmt.Errorf("domain: tag list: duplicate tag %q", name)
		}
		tags[name] = value
	}
	return tags, nil
}

// tagOrder returns the tag names of a valid tag list in their order.
func tagOrder(s string) []string {
	var names []string
	for spec := range strings.SplitSeq(s, ";") {
		if name, _, ok := strings.Cut(spec, "="); ok {
			names = append(names, trimWS(name))
		}
	}
	return names
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimWS(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r < 0x80 && isWS(byte(r)) })
}

// removeWS drops all whitespace, as base64 values (p=) allow FWS inside.
func removeWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && isWS(byte(r)) {
			return -1
		}
		return r
	}, s)
}

// validTagName: ALPHA *ALNUMPUNC.
func validTagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

// validTagValue: VALCHARs (%x21-3A / %x3C-7E) with whitespace between.
func validTagValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isWS(c) {
			continue
		}
		if c < 0x21 || c > 0x7e || c == ';' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
