package delivery

import "testing"

func TestDotStuff(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{".a\r\n..b\r\nc.d\r\n", "..a\r\n...b\r\nc.d\r\n.\r\n"},
		{"a\r\n.", "a\r\n..\r\n.\r\n"},
		{"\r\n.\r\n", "\r\n..\r\n.\r\n"},
	}
	for _, tc := range cases {
		if got := string(dotStuff([]byte(tc.in))); got != tc.want {
			t.Errorf("dotStuff(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAddrOK(t *testing.T) {
	long := make([]byte, maxAddrLen+1)
	for i := range long {
		long[i] = 'a'
	}
	cases := []struct {
		a       string
		emptyOK bool
		want    bool
	}{
		{"user@example.test", false, true},
		{"", true, true},
		{"", false, false},
		{"Postmaster", false, true},
		{"j\xc3\xb6rg@example.test", false, true},
		{`"john doe"@example.test`, false, true},
		{"john doe@example.test", false, false},
		{"a>@example.test", false, false},
		{"<a@example.test", false, false},
		{"a@example.test\r\nRSET", false, false},
		{"a\x00@example.test", false, false},
		{"a\x7f@example.test", false, false},
		{"a\t@example.test", false, false},
		{string(long), false, false},
		{string(long[1:]), false, true},
	}
	for _, tc := range cases {
		if got := addrOK(tc.a, tc.emptyOK); got != tc.want {
			t.Errorf("addrOK(%q, %v) = %v", tc.a, tc.emptyOK, got)
		}
	}
}

func TestParseExtensions(t *testing.T) {
	ext := parseExtensions([]string{"250-mx.example.test hello", "250-pipelining", "250-SIZE 1000", "250-AUTH PLAIN LOGIN", "250-", "250 8BITMIME"})
	want := map[string]string{"PIPELINING": "", "SIZE": "1000", "AUTH": "PLAIN LOGIN", "8BITMIME": ""}
	if len(ext) != len(want) {
		t.Fatalf("%v", ext)
	}
	for k, v := range want {
		if got, ok := ext[k]; !ok || got != v {
			t.Errorf("%s = %q, %v", k, got, ok)
		}
	}
}
