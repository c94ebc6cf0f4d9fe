package main

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/postern/postern/internal/store"
)

func TestPrintable(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"app@acme.test", "app@acme.test"},
		{`"ceo@b.test"@sub.test`, `"ceo@b.test"@sub.test`},
		{`back\slash`, `back\slash`},
		{"j\u00f6rg \u7528\u6237 \U0001F600", "j\u00f6rg \u7528\u6237 \U0001F600"},
		{"\x1b[2J\x1b]0;pwned\x07", `\x1b[2J\x1b]0;pwned\x07`},
		{"a\r\nb\tc\x00d\x7fe", `a\r\nb\tc\x00d\x7fe`},
		{"csi\u009b31m nel\u0085", `csi\u009b31m nel\u0085`},
		{"bad\xff\xc3utf8\xed\xa0\x80", `bad\xff\xc3utf8\xed\xa0\x80`},
		{"rtl\u202eexe.txt\u2066\u2069 sep\u2028", `rtl\u202eexe.txt\u2066\u2069 sep\u2028`},
		{"\u00a0nbsp\u00ff", "\u00a0nbsp\u00ff"},
	}
	for _, tc := range cases {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := printableLines("one\x1b\ntwo\r\n"); got != "one\\x1b\ntwo\\r\n" {
		t.Errorf("printableLines = %q", got)
	}
}

// TestFinding6CLIEscapesControlCharacters: queue list and queue show print
// control characters in stored addresses as escapes, never as raw bytes
// (security review, finding 6: terminal escape sequences reached the
// operator through the queue).
func TestFinding6CLIEscapesControlCharacters(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	if code, _, errOut := c.run(nil, append(cfg, "user", "create", "acme")...); code != 0 {
		t.Fatal(errOut)
	}
	// Put in the queue directly: the funnel would refuse these addresses.
	ctx := context.Background()
	a := openApp(t, c.config)
	u, _ := a.Store.UserByName(ctx, "acme")
	err := a.Store.EnqueueBatch(ctx, []store.NewMessage{{ID: "0esc", UserID: u.ID, KeyID: "k1",
		From:       "app\x1b]0;pwned\x07@acme.test",
		Recipients: []string{"a\x1b[2J\rb@x.test", "c\u009b31md@x.test"},
		Meta:       `{"categories":["x` + "\x1b[5m" + `"]}`,
		Body:       []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: time.Now()}})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"queue", "list"}, {"queue", "show", "0esc"}} {
		code, out, errOut := c.run(nil, append(cfg, args...)...)
		if code != 0 {
			t.Fatalf("postern %v: exit %d, stderr %q", args, code, errOut)
		}
		for _, want := range []string{`app\x1b]0;pwned\x07@acme.test`, `a\x1b[2J\rb@x.test`, `c\u009b31md@x.test`} {
			if !strings.Contains(out, want) {
				t.Errorf("postern %v: output lacks %s:\n%s", args, want, out)
			}
		}
		if strings.ContainsAny(out, "\x1b\x07\r\u009b") {
			t.Errorf("postern %v: raw control characters in the output %q", args, out)
		}
	}
}

// FuzzPrintable checks that printable leaves no character that it would
// escape, and changes nothing in text that has none.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"app@acme.test", "\x1b[2J", "a\r\nb", "\u009b", "\xff\xc3", "\u202e", `back\slash`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := printable(s)
		for i, r := range p {
			n := utf8.RuneLen(r)
			if r == utf8.RuneError {
				_, n = utf8.DecodeRuneInString(p[i:])
			}
			if mustEscape(r, n) {
				t.Fatalf("printable(%q) = %q keeps %U", s, p, r)
			}
		}
		clean := true
		for i, r := range s {
			_, n := utf8.DecodeRuneInString(s[i:])
			clean = clean && !mustEscape(r, n)
		}
		if clean != (p == s) {
			t.Fatalf("printable(%q) = %q", s, p)
		}
	})
}
