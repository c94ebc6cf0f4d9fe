package smtpd

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
	}
	for in, want := range cases {
		if got := validAddress(in); got != want {
			t.Errorf("validAddress(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSafeField(t *testing.T) {
	cases := []struct {
		name, value string
		ok          bool
	}{
		{"X-Spam-Score", "2.0", true},
		{"X-Spamd-Result", "default: False [1.0 / 15.0];\r\n\tSYMBOL(1.0)", true},
		{"X-Bad", "a\r\nBcc: victim@example.test", false},
		{"X-Bad", "a\nb", false},
		{"X-Bad", "a\r", false},
		{"X-Bad", "a\r\n", false},
		{"Bad Name", "v", false},
		{"Bad:Name", "v", false},
		{"", "v", false},
	}
	for _, tc := range cases {
		if got := safeField(tc.name, tc.value); got != tc.ok {
			t.Errorf("safeField(%q, %q) = %v", tc.name, tc.value, got)
		}
	}
}
