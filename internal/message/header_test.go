package message

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name  string
		msg   string
		raws  []string // Raw of each field
		names []string
		body  string // msg[BodyOffset:]
	}{
		{
			name:  "simple",
			msg:   "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n",
			raws:  []string{"From: a@example.com\r\n", "To: b@example.org\r\n", "Subject: hi\r\n"},
			names: []string{"From", "To", "Subject"},
			body:  "hello\r\n",
		},
		{
			name:  "folded",
			msg:   "Subject: a\r\n b\r\n\tc\r\nTo: x\r\n\r\nbody",
			raws:  []string{"Subject: a\r\n b\r\n\tc\r\n", "To: x\r\n"},
			names: []string{"Subject", "To"},
			body:  "body",
		},
		{
			name:  "no body",
			msg:   "Subject: a\r\nTo: x\r\n",
			raws:  []string{"Subject: a\r\n", "To: x\r\n"},
			names: []string{"Subject", "To"},
			body:  "",
		},
		{
			name:  "no body, no final CRLF",
			msg:   "Subject: a\r\nTo: x\r\n y",
			raws:  []string{"Subject: a\r\n", "To: x\r\n y"},
			names: []string{"Subject", "To"},
			body:  "",
		},
		{
			name:  "empty body",
			msg:   "Subject: a\r\n\r\n",
			raws:  []string{"Subject: a\r\n"},
			names: []string{"Subject"},
			body:  "",
		},
		{
			name: "empty message",
			msg:  "",
			body: "",
		},
		{
			name: "no header",
			msg:  "\r\nbody\r\n",
			body: "body\r\n",
		},
		{
			name:  "WSP before colon",
			msg:   "Subject \t: a\r\nTo:b\r\n\r\n",
			raws:  []string{"Subject \t: a\r\n", "To:b\r\n"},
			names: []string{"Subject", "To"},
		},
		{
			name:  "empty value",
			msg:   "Subject:\r\nX-A: \r\n\r\n",
			raws:  []string{"Subject:\r\n", "X-A: \r\n"},
			names: []string{"Subject", "X-A"},
		},
		{
			name:  "8-bit and NUL in values",
			msg:   "Subject: h\xc3\xa9llo \xff\x00\r\n\r\n",
			raws:  []string{"Subject: h\xc3\xa9llo \xff\x00\r\n"},
			names: []string{"Subject"},
		},
		{
			name:  "odd but valid names",
			msg:   "X-!#$~: 1\r\n~: 2\r\n\r\n",
			raws:  []string{"X-!#$~: 1\r\n", "~: 2\r\n"},
			names: []string{"X-!#$~", "~"},
		},
		{
			name:  "body may hold anything",
			msg:   "A: 1\r\n\r\nFrom x\n\r \r\n\r\n:\r",
			raws:  []string{"A: 1\r\n"},
			names: []string{"A"},
			body:  "From x\n\r \r\n\r\n:\r",
		},
		{
			name:  "From field is not an mbox line",
			msg:   "From: a@example.com\r\nFrom : b@example.com\r\n\r\n",
			raws:  []string{"From: a@example.com\r\n", "From : b@example.com\r\n"},
			names: []string{"From", "From"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader([]byte(tt.msg))
			if err != nil {
				t.Fatalf("ParseHeader: %v", err)
			}
			var raws, names []string
			for _, f := range h.Fields {
				raws = append(raws, string(f.Raw))
				names = append(names, f.Name)
			}
			if !reflect.DeepEqual(raws, tt.raws) {
				t.Errorf("raws = %q, want %q", raws, tt.raws)
			}
			if !reflect.DeepEqual(names, tt.names) {
				t.Errorf("names = %q, want %q", names, tt.names)
			}
			if got := tt.msg[h.BodyOffset:]; got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
		})
	}
}

func TestParseHeaderInvalid(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		line   int
		reason string
	}{
		{"first line whitespace", " Subject: a\r\n\r\n", 1, "first line starts with whitespace"},
		{"first line tab", "\tSubject: a\r\n", 1, "first line starts with whitespace"},
		{"no colon", "Subject: a\r\nnot a header\r\n\r\n", 2, "missing colon"},
		{"no colon unterminated", "Subject", 1, "missing colon"},
		{"empty name", ": value\r\n\r\n", 1, "empty field name"},
		{"empty name later", "A: 1\r\n:x\r\n", 2, "empty field name"},
		{"space in name", "Sub ject: a\r\n\r\n", 1, "invalid character in field name"},
		{"8-bit name", "Subj\xe9ct: a\r\n\r\n", 1, "invalid character in field name"},
		{"control in name", "Sub\x01ject: a\r\n\r\n", 1, "invalid character in field name"},
		{"mbox From line", "From someone@example.com Mon Jan  1 00:00:00 2026\r\nSubject: a\r\n\r\n", 1, `mbox "From " line`},
		{"mbox From line with colon", "From a@example.com Mon Jan  1 00:00:00 2026\r\n\r\n", 1, `mbox "From " line`},
		{"From_ later", "Subject: a\r\nFrom x\r\n\r\n", 2, "missing colon"},
		{"whitespace-only continuation", "Subject: a\r\n\t \r\n\r\nbody", 2, "continuation line of only whitespace"},
		{"whitespace-only last line", "Subject: a\r\n ", 2, "continuation line of only whitespace"},
		{"bare LF in value", "Subject: a\nb\r\n\r\n", 1, "bare LF"},
		{"bare CR in value", "Subject: a\rb\r\n\r\n", 1, "bare CR"},
		{"bare LF line", "Subject: a\r\n\n\r\n", 2, "bare LF"},
		{"bare CR line", "Subject: a\r\n\r\r\n", 2, "bare CR"},
		{"bare LF at start", "\nSubject: a\r\n", 1, "bare LF"},
		{"trailing CR", "Subject: a\r", 1, "bare CR"},
		{"bare LF in continuation", "Subject: a\r\n b\nc\r\n\r\n", 2, "bare LF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseHeader([]byte(tt.msg))
			var he *HeaderError
			if !errors.As(err, &he) {
				t.Fatalf("got %v, want *HeaderError", err)
			}
			if he.Line != tt.line || he.Reason != tt.reason {
				t.Errorf("got line %d %q, want line %d %q", he.Line, he.Reason, tt.line, tt.reason)
			}
		})
	}
}

// A reason never quotes the message, so it may go back to the client.
func TestHeaderErrorDoesNotEcho(t *testing.T) {
	const secret = "Zq9secretXw"
	for _, msg := range []string{
		secret + "\r\n",
		secret + " x: y\r\n",
		"A: 1\r\n " + secret + "\n",
		"From " + secret + "\r\n",
		" " + secret + ": x\r\n",
	} {
		_, err := ParseHeader([]byte(msg))
		if err == nil {
			t.Fatalf("%q: no error", msg)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%q: error %q echoes the message", msg, err)
		}
	}
	if got, want := (&HeaderError{Line: 3, Reason: "missing colon"}).Error(), "header line 3: missing colon"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseHeaderLimits(t *testing.T) {
	fields := func(n int) string { return strings.Repeat("X-A: b\r\n", n) }
	if _, err := ParseHeader([]byte(fields(MaxHeaderFields) + "\r\nbody")); err != nil {
		t.Errorf("%d fields: %v", MaxHeaderFields, err)
	}
	var he *HeaderError
	_, err := ParseHeader([]byte(fields(MaxHeaderFields+1) + "\r\nbody"))
	if !errors.As(err, &he) || he.Line != MaxHeaderFields+1 {
		t.Errorf("%d fields: got %v, want a HeaderError at line %d", MaxHeaderFields+1, err, MaxHeaderFields+1)
	}

	// One field, folded, exactly MaxHeaderBytes long; then one byte more.
	long := func(n int) string {
		var b strings.Builder
		b.WriteString("X-Long: ")
		for b.Len()+100 < n {
			b.WriteString(strings.Repeat("y", 95) + "\r\n ")
		}
		b.WriteString(strings.Repeat("z", n-b.Len()-2) + "\r\n")
		return b.String()
	}
	if m := long(MaxHeaderBytes); len(m) != MaxHeaderBytes {
		t.Fatalf("test bug: len %d", len(m))
	}
	if h, err := ParseHeader([]byte(long(MaxHeaderBytes) + "\r\nbody")); err != nil || len(h.Fields) != 1 {
		t.Errorf("%d octets: %v", MaxHeaderBytes, err)
	}
	_, err = ParseHeader([]byte(long(MaxHeaderBytes+1) + "\r\nbody"))
	if !errors.As(err, &he) || !strings.Contains(he.Reason, "octets") {
		t.Errorf("%d octets: got %v, want a size HeaderError", MaxHeaderBytes+1, err)
	}
	// A message that never ends its header stops at the limit too.
	_, err = ParseHeader(bytes.Repeat([]byte("X-A: b\r\n "), MaxHeaderBytes))
	if !errors.As(err, &he) {
		t.Errorf("endless folded field: got %v, want HeaderError", err)
	}
	_, err = ParseHeader(append([]byte("X-A: "), bytes.Repeat([]byte("b"), MaxHeaderBytes)...))
	if !errors.As(err, &he) {
		t.Errorf("endless line: got %v, want HeaderError", err)
	}
}

func TestHeaderValues(t *testing.T) {
	msg := "Subject:  Hello,\r\n\tworld \r\n" +
		"X-Empty:\r\n" +
		"received: one\r\n" +
		"Received :\r\n two\r\n  three\t\r\n" +
		"RECEIVED: four\r\n" +
		"X-8bit: caf\xc3\xa9\r\n" +
		"\r\nReceived: not a field\r\n"
	h, err := ParseHeader([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want []string
	}{
		{"Subject", []string{"Hello,\tworld"}},
		{"subject", []string{"Hello,\tworld"}},
		{"X-Empty", []string{""}},
		{"Received", []string{"one", "two  three", "four"}},
		{"X-8BIT", []string{"caf\xc3\xa9"}},
		{"Missing", nil},
		{"Subjec", nil},
		{"\u212aeceived", nil}, // Kelvin sign: no Unicode folding
	}
	for _, tt := range tests {
		if got := h.Values(tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Values(%q) = %q, want %q", tt.name, got, tt.want)
		}
		if got := h.Count(tt.name); got != len(tt.want) {
			t.Errorf("Count(%q) = %d, want %d", tt.name, got, len(tt.want))
		}
		if got := h.Has(tt.name); got != (len(tt.want) > 0) {
			t.Errorf("Has(%q) = %v", tt.name, got)
		}
	}
}
