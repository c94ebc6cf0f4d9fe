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
