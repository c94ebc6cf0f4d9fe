// Package observetest checks log output in tests: each line parsed as
// Postern writes it (logfmt from slog's TextHandler, or JSON), and the
// keys it repeats reported, since a repeated key is one that logfmt and
// JSON consumers silently lose.
package observetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Pairs parses one logfmt line (slog.TextHandler's output) into its keys
// and values, in order, repeats included.
func Pairs(line string) ([][2]string, error) {
	var out [][2]string
	s := strings.TrimRight(line, "\r\n")
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return out, nil
		}
		key, rest, err := token(s, '=')
		if err != nil {
			return out, fmt.Errorf("key: %w in %q", err, line)
		}
		if rest == "" || rest[0] != '=' {
			return out, fmt.Errorf("key %q without a value in %q", key, line)
		}
		val, rest, err := token(rest[1:], ' ')
		if err != nil {
			return out, fmt.Errorf("value of %q: %w in %q", key, err, line)
		}
		out = append(out, [2]string{key, val})
		s = rest
	}
}

// token reads a bare word up to stop (or a space), or a quoted string.
func token(s string, stop byte) (string, string, error) {
	if strings.HasPrefix(s, `"`) {
		prefix, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", s, err
		}
		v, err := strconv.Unquote(prefix)
		return v, s[len(prefix):], err
	}
	i := strings.IndexAny(s, string([]byte{stop, ' '}))
	if i < 0 {
		return s, "", nil
	}
	return s[:i], s[i:], nil
}

// TextDuplicates returns the keys a logfmt line repeats.
func TextDuplicates(line string) ([]string, error) {
	pairs, err := Pairs(line)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var dup []string
	for _, p := range pairs {
		if seen[p[0]] {
			dup = append(dup, p[0])
		}
		seen[p[0]] = true
	}
	return dup, nil
}

// JSONDuplicates returns the keys a JSON line repeats within one object
// (a nested object, a slog group, is checked on its own and its keys are
// reported as "group.key"). It reads the tokens one by one: decoding into
// a map would keep the last value and hide the repeat.
func JSONDuplicates(line []byte) ([]string, error) {
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var dup []string
	if err := object(d, "", &dup); err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("more than one value on the line")
	}
	return dup, nil
}

func object(d *json.Decoder, path string, dup *[]string) error {
	t, err := d.Token()
	if err != nil {
		return err
	}
	if t != json.Delim('{') {
		return fmt.Errorf("not an object: %v", t)
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		k, ok := t.(string)
		if !ok {
			return fmt.Errorf("key %v is not a string", t)
		}
		if seen[k] {
			*dup = append(*dup, path+k)
		}
		seen[k] = true
		if err := value(d, path+k+".", dup); err != nil {
			return err
		}
	}
	_, err = d.Token() // '}'
	return err
}

func value(d *json.Decoder, path string, dup *[]string) error {
	// Peek by decoding into RawMessage, then walk objects in it.
	var raw json.RawMessage
	if err := d.Decode(&raw); err != nil {
		return err
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '{':
		return object(json.NewDecoder(bytes.NewReader(raw)), path, dup)
	case len(raw) > 0 && raw[0] == '[':
		ad := json.NewDecoder(bytes.NewReader(raw))
		if _, err := ad.Token(); err != nil {
			return err
		}
		for ad.More() {
			if err := value(ad, path, dup); err != nil {
				return err
			}
		}
	}
	return nil
}
