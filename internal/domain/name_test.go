package domain

import (
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":                        "example.com",
		"Example.COM.":                       "example.com",
		"xn--bcher-kva.example":              "xn--bcher-kva.example",
		"a-b.c-d.example":                    "a-b.c-d.example",
		"1password.com":                      "1password.com",
		strings.Repeat("a", 63) + ".example": strings.Repeat("a", 63) + ".example",
	} {
		if got, err := CheckName(in); err != nil || got != want {
			t.Errorf("CheckName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, problem := range map[string]string{
		"":                                    "empty",
		".":                                   "empty",
		"localhost":                           "two labels",
		"192.0.2.1":                           "IP address",
		"[2001:db8::1]":                       "IP address",
		"example.42":                          "all digits",
		"a..example":                          "empty label",
		"example..":                           "empty label",
		"-a.example":                          "hyphen",
		"a-.example":                          "hyphen",
		"a_b.example":                         "only letters",
		"a b.example":                         "only letters",
		"bücher.example":                      "A-labels",
		strings.Repeat("a", 64) + ".example":  "63",
		strings.Repeat("a.", 127) + "example": "253",
	} {
		_, err := CheckName(in)
		if err == nil || !strings.Contains(err.Error(), "is not a domain name") || !strings.Contains(err.Error(), problem) {
			t.Errorf("CheckName(%q): %v, want a refusal naming %q", in, err, problem)
		}
	}
}

func TestCheckSelector(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"s1", "s1"}, {"Brought", "brought"}, {"2026.q1", "2026.q1"}, {"pst-202611r", "pst-202611r"},
	} {
		if got, err := CheckSelector(tc.in); err != nil || got != tc.want {
			t.Errorf("CheckSelector(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", ".", "a..b", "-a", "a-", "a_b", "a b", "sel\r\n", "sél", strings.Repeat("a", 64),
		strings.Repeat("abcdefghi.", 20) + "a"} {
		if _, err := CheckSelector(bad); err == nil || !strings.Contains(err.Error(), "not a DKIM selector") {
			t.Errorf("CheckSelector(%q): %v, want refused", bad, err)
		}
	}
}
