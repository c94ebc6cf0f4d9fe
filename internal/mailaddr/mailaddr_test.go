package mailaddr

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in         string
		local, dom string
		wire       string // String(); "" means in
	}{
		{in: "a@example.test", local: "a", dom: "example.test"},
		{in: "a.b+c@Sub-1.Example.TEST", local: "a.b+c", dom: "Sub-1.Example.TEST"},
		{in: "Mixed.Case@x.test", local: "Mixed.Case", dom: "x.test"},
		{in: "!#$%&'*+-/=?^_`{|}~@x.test", local: "!#$%&'*+-/=?^_`{|}~", dom: "x.test"},
		{in: "a@localhost", local: "a", dom: "localhost"},
		{in: "a@[127.0.0.1]", local: "a", dom: "[127.0.0.1]"},
		{in: "a@[IPv6:::1]", local: "a", dom: "[IPv6:::1]"},
		{in: "a@[ipv6:2001:db8::1]", local: "a", dom: "[ipv6:2001:db8::1]"},
		{in: "a@[IPv6:::ffff:192.0.2.1]", local: "a", dom: "[IPv6:::ffff:192.0.2.1]"},
		// Quoted local parts: the value is unquoted, String quotes again.
		{in: `"ceo@b.test"@sub.test`, local: "ceo@b.test", dom: "sub.test"},
		{in: `"john doe"@x.test`, local: "john doe", dom: "x.test"},
		{in: `"a\"b"@x.test`, local: `a"b`, dom: "x.test"},
		{in: `"a\\b"@x.test`, local: `a\b`, dom: "x.test"},
		{in: `"a..b"@x.test`, local: "a..b", dom: "x.test"},
		{in: `".a"@x.test`, local: ".a", dom: "x.test"},
		{in: `"a@b"@x.test`, local: "a@b", dom: "x.test"},
		{in: `"(comment)"@x.test`, local: "(comment)", dom: "x.test"},
		// Quoting that is not needed is dropped; a needless quoted-pair too.
		{in: `"abc"@x.test`, local: "abc", dom: "x.test", wire: "abc@x.test"},
		{in: `"a\bc"@x.test`, local: "abc", dom: "x.test", wire: "abc@x.test"},
		{in: `"a\ b"@x.test`, local: "a b", dom: "x.test", wire: `"a b"@x.test`},
		// RFC 6531: UTF-8 local parts and U-labels.
		{in: "j\u00f6rg@example.test", local: "j\u00f6rg", dom: "example.test"},
		{in: "\u7528\u6237@\u4f8b\u5b50.\u6d4b\u8bd5", local: "\u7528\u6237", dom: "\u4f8b\u5b50.\u6d4b\u8bd5"},
		{in: "\"j\u00f6rg doe\"@b\u00fccher.test", local: "j\u00f6rg doe", dom: "b\u00fccher.test"},
		// Limits: 64 octets of local part, 254 of address.
		{in: strings.Repeat("a", 64) + "@x.test", local: strings.Repeat("a", 64), dom: "x.test"},
		{in: "a@" + strings.Repeat(strings.Repeat("b", 63)+".", 3) + strings.Repeat("c", 60), local: "a",
			dom: strings.Repeat(strings.Repeat("b", 63)+".", 3) + strings.Repeat("c", 60)},
	}
	for _, tc := range cases {
		a, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if a.Local != tc.local || a.Domain != tc.dom {
			t.Errorf("Parse(%q) = %#v, want Local %q Domain %q", tc.in, a, tc.local, tc.dom)
		}
		want := tc.wire
		if want == "" {
			want = tc.in
		}
		if got := a.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, want)
		}
		if !Valid(tc.in) {
			t.Errorf("Valid(%q) = false", tc.in)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	long := strings.Repeat("a", 65)
	cases := []struct {
		in   string
		want error
	}{
		{"", ErrLocalPart},
		{"postmaster", ErrDomain},
		{"@x.test", ErrLocalPart},
		{"a@", ErrDomain},
		{`""@x.test`, ErrLocalPart},
		// Control characters, anywhere, quoted or not.
		{"a\x00b@x.test", ErrControl},
		{"a\rb@x.test", ErrControl},
		{"a\nb@x.test", ErrControl},
		{"a\tb@x.test", ErrControl},
		{"a\x1bb@x.test", ErrControl},
		{"\x1b[31mred@x.test", ErrControl},
		{"a\x7f@x.test", ErrControl},
		{`"a` + "\x07" + `"@x.test`, ErrControl},
		{`"a\` + "\x07" + `"@x.test`, ErrControl},
		{`"a\` + "\x00" + `"@x.test`, ErrControl},
		{"a@x\r\n.test", ErrControl},
		{"a\u009b31m@x.test", ErrControl},
		{`"a` + "\u0085" + `"@x.test`, ErrControl},
		// Invalid UTF-8.
		{"a\xff@x.test", ErrUTF8},
		{"a@x\xc3.test", ErrUTF8},
		{"\xed\xa0\x80@x.test", ErrUTF8}, // a surrogate
		// Dot-strings.
		{"a..b@x.test", ErrLocalPart},
		{".a@x.test", ErrLocalPart},
		{"a.@x.test", ErrLocalPart},
		{".@x.test", ErrLocalPart},
		{"a b@x.test", ErrLocalPart},
		{"a\"b@x.test", ErrLocalPart},
		{`a\b@x.test`, ErrLocalPart},
		{"a(b)@x.test", ErrLocalPart},
		{"a<b>@x.test", ErrLocalPart},
		{"a,b@x.test", ErrLocalPart},
		{"a[b]@x.test", ErrLocalPart},
		{"a:b@x.test", ErrLocalPart},
		{"a;b@x.test", ErrLocalPart},
		{"ceo@b.test@sub.test", ErrLocalPart}, // the quotes lost: refused, not split anew
		// Quoted strings.
		{`"abc@x.test`, ErrLocalPart},
		{`"abc\"@x.test`, ErrLocalPart},
		{`"abc"d@x.test`, ErrLocalPart},
		{`"abc".d@x.test`, ErrLocalPart},
		{`a."bc"@x.test`, ErrLocalPart},
		{`"a"`, ErrDomain},
		{`"a\` + "\u00e9" + `"@x.test`, ErrLocalPart}, // quoted-pairSMTP is ASCII only
		// Domains.
		{"a@x..test", ErrDomain},
		{"a@.x.test", ErrDomain},
		{"a@x.test.", ErrDomain},
		{"a@-x.test", ErrDomain},
		{"a@x-.test", ErrDomain},
		{"a@x_y.test", ErrDomain},
		{"a@x!y.test", ErrDomain},
		{"a@x y.test", ErrDomain},
		{"a@x.test>", ErrDomain},
		{"a@b@x.test", ErrLocalPart},
		{`a@"x".test`, ErrDomain},
		{"a@" + strings.Repeat("b", 64) + ".test", ErrDomain},
		{"a@ex\u3002test", ErrDomain},    // an ideographic full stop is not a dot
		{"a@ex\u00a0test", ErrDomain},    // nor is a no-break space a letter
		{"a@\U0001F600.test", ErrDomain}, // IDNA2008 has no emoji
		// Address literals.
		{"a@[]", ErrDomain},
		{"a@[127.0.0.1", ErrDomain},
		{"a@127.0.0.1]", ErrDomain},
		{"a@[999.0.0.1]", ErrDomain},
		{"a@[127.0.0.01]", ErrDomain},
		{"a@[127.1]", ErrDomain},
		{"a@[::1]", ErrDomain},
		{"a@[IPv6:127.0.0.1]", ErrDomain},
		{"a@[IPv6:fe80::1%eth0]", ErrDomain},
		{"a@[IPv6:::1]x", ErrDomain},
		{"a@[x:y]", ErrDomain},
		{"a@[IPv6:::1].test", ErrDomain},
		// Limits.
		{long + "@x.test", ErrTooLong},
		{`"` + strings.Repeat("a ", 32) + `"@x.test`, ErrTooLong}, // 66 octets quoted
		{"a@" + strings.Repeat(strings.Repeat("b", 63)+".", 3) + strings.Repeat("c", 61), ErrTooLong},
	}
	for _, tc := range cases {
		a, err := Parse(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q) = %#v, %v; want %v", tc.in, a, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), tc.in) && tc.in != "" {
			t.Errorf("Parse(%q): the error %q quotes the address", tc.in, err)
		}
		if Valid(tc.in) {
			t.Errorf("Valid(%q) = true", tc.in)
		}
	}
}

func TestStringQuotes(t *testing.T) {
	cases := []struct {
		a    Address
		want string
	}{
		{Address{"a.b", "x.test"}, "a.b@x.test"},
		{Address{"ceo@b.test", "sub.test"}, `"ceo@b.test"@sub.test`},
		{Address{`a"b\c`, "x.test"}, `"a\"b\\c"@x.test`},
		{Address{"a..b", "x.test"}, `"a..b"@x.test`},
		{Address{"a.", "x.test"}, `"a."@x.test`},
		{Address{"", "x.test"}, `""@x.test`},
		{Address{"j\u00f6rg", "x.test"}, "j\u00f6rg@x.test"},
	}
	for _, tc := range cases {
		if got := tc.a.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.a, got, tc.want)
		}
	}
}
