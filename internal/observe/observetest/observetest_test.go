package observetest

import (
	"bytes"
	"log/slog"
	"slices"
	"testing"
)

func TestTextDuplicates(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
		bad  bool
	}{
		{`time=2026-12-03T18:00:00Z level=INFO msg=hello a=1 b="x y"`, nil, false},
		{`level=INFO msg=x session=a ip=1 session=b`, []string{"session"}, false},
		{`msg="auth failed" msg="quoted \" msg=inner"`, []string{"msg"}, false},
		{`level=INFO msg`, nil, true},
		{`msg="unterminated`, nil, true},
	} {
		got, err := TextDuplicates(tt.line)
		if (err != nil) != tt.bad || !slices.Equal(got, tt.want) {
			t.Errorf("TextDuplicates(%s) = %v, %v; want %v", tt.line, got, err, tt.want)
		}
	}
}

func TestJSONDuplicates(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
		bad  bool
	}{
		{`{"msg":"x","a":1,"g":{"a":2}}`, nil, false},
		{`{"msg":"x","msg":"y"}`, []string{"msg"}, false},
		{`{"a":{"b":1,"b":2},"l":[{"c":1,"c":1}]}`, []string{"a.b", "l.c"}, false},
		{`{"a":1}{"b":2}`, nil, true},
		{`[1]`, nil, true},
	} {
		got, err := JSONDuplicates([]byte(tt.line))
		if (err != nil) != tt.bad || !slices.Equal(got, tt.want) {
			t.Errorf("JSONDuplicates(%s) = %v, %v; want %v", tt.line, got, err, tt.want)
		}
	}
}

// TestSlogRepeats: slog's own handlers do write a repeated key twice,
// which is why the checks exist.
func TestSlogRepeats(t *testing.T) {
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).With("session", "a").Info("x", "session", "b")
	slog.New(slog.NewJSONHandler(&js, nil)).With("session", "a").Info("x", "session", "b")
	if d, _ := TextDuplicates(text.String()); !slices.Equal(d, []string{"session"}) {
		t.Errorf("text %s: %v", text.String(), d)
	}
	if d, _ := JSONDuplicates(js.Bytes()); !slices.Equal(d, []string{"session"}) {
		t.Errorf("json %s: %v", js.String(), d)
	}
}
