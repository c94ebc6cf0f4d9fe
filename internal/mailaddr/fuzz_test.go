package mailaddr

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that whatever Parse accepts is free of control
// characters and invalid UTF-8, within the limits, and reads back as
// itself from its String form; and that the last "@" of that form is the
// separator, so splitting there finds the domain.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"a@example.test", `"ceo@b.test"@sub.test`, `"a\"b\\c"@x.test`, `"a\bc"@x.test`,
		"a@[127.0.0.1]", "a@[IPv6:::1]", "j\u00f6rg@b\u00fccher.test", "a..b@x.test",
		"a\x1bb@x.test", `"a` + "\x07" + `"@x.test`, "ceo@b.test@sub.test", `""@x.test`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			if Valid(s) {
				t.Fatalf("Valid(%q) but Parse: %v", s, err)
			}
			return
		}
		if !Valid(s) {
			t.Fatalf("Parse(%q) accepted but not Valid", s)
		}
		w := a.String()
		if len(w) > MaxAddress || !utf8.ValidString(w) || !utf8.ValidString(a.Local) {
			t.Fatalf("Parse(%q) = %#v: String %q too long or not UTF-8", s, a, w)
		}
		for _, r := range w {
			if r < 0x20 || r >= 0x7f && r <= 0x9f {
				t.Fatalf("Parse(%q).String() = %q has a control character", s, w)
			}
		}
		b, err := Parse(w)
		if err != nil || b != a {
			t.Fatalf("Parse(%q) = %#v; Parse(%q) = %#v, %v", s, a, w, b, err)
		}
		if b.String() != w {
			t.Fatalf("String not stable: %q then %q", w, b.String())
		}
		if at := strings.LastIndexByte(w, '@'); w[at+1:] != a.Domain {
			t.Fatalf("%q: the last @ is not the separator", w)
		}
		if at := strings.LastIndexByte(s, '@'); s[at+1:] != a.Domain {
			t.Fatalf("%q: the last @ of the input is not the separator", s)
		}
	})
}
