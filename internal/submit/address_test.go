package submit

import "testing"

func TestValidAddress(t *testing.T) {
	cases := map[string]bool{
		"a@example.test":           true,
		"a.b+c@Sub-1.Example.TEST": true,
		"a@[127.0.0.1]":            true,
		"a@[IPv6:::1]":             true,
		"a@localhost":              true,
		"a@example..test":          false,
		"a@-example.test":          false,
		"a@exa_mple.test":          false,
		"a@ex!ample.test":          false,
		"a@exa\x01mple.test":       false,
		"a@[IPv6:127.0.0.1]":       false,
		"a@[::1]":                  false,
		"a@[999.0.0.1]":            false,
		"a@":                       false,
		"@example.test":            false,
		"postmaster":               false,
		"a@" + string(make([]byte, 64)) + ".test": false,
		"a\r@example.test":                        false, // control characters in the local part
		"a\x00b@example.test":                     false,
		"\x1b[31mred@example.test":                false,
		"a\x7f@example.test":                      false,
	}
	for in, want := range cases {
		if got := ValidAddress(in); got != want {
			t.Errorf("ValidAddress(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestFinding6LocalParts: local parts are RFC 5321 dot-strings or quoted
// strings without control characters (security review, finding 6).
func TestFinding6LocalParts(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		{`"ceo@b.test"@sub.test`, true}, // syntax only: the identity check may still refuse it
		{`"john doe"@x.test`, true},
		{"a\x00b@x.test", false},
		{"a\rb@x.test", false},
		{"a\x1bb@x.test", false},
		{"a..b@x.test", false},
		{".a@x.test", false},
		{"a.@x.test", false},
		{`"a` + "\x07" + `"@x.test`, false},
		{"ceo@b.test@sub.test", false}, // the same address with its quotes lost
		{"a b@x.test", false},
		{`"a"b@x.test`, false},
	}
	for _, tc := range cases {
		if got := ValidAddress(tc.addr); got != tc.want {
			t.Errorf("ValidAddress(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
