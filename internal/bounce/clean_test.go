package bounce

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"550 5.1.1 no such user", 512, "550 5.1.1 no such user"},
		{"a\x1b[31mb\x00c\x7fd\u0085e\tf", 512, "a [31mb c d e f"},
		{"abc\u202edef\u2066g", 512, "abcdefg"},
		{"bad \xff\xfe utf-8", 512, "bad \uFFFD utf-8"},
		{"abcdefghij", 10, "abcdefghij"},
		{"abcdefghijk", 10, "abcdefg…"},
		// é is 2 octets, € 3: the cut never splits one.
		{"ééééé", 8, "éé…"},
		{"a€€€", 8, "a€…"},
		{"€€€€", 6, "€…"},
		{"€€€€", 5, "…"},
	} {
		got := clean(tc.in, tc.limit)
		if got != tc.want || len(got) > tc.limit || !utf8.ValidString(got) {
			t.Errorf("clean(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
	if got := clean(strings.Repeat("x", 100<<10), MaxText); len(got) != MaxText {
		t.Errorf("100 KB cut to %d octets, want %d", len(got), MaxText)
	}
}
