package delivery

import (
	"context"
	"strings"
	"testing"

	"github.com/postern/postern/internal/testenv"
)

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

func TestWireAddr(t *testing.T) {
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 60)
	cases := []struct {
		a       string
		emptyOK bool
		want    string // "" with ok false: refused
		ok      bool
	}{
		{"user@example.test", false, "user@example.test", true},
		{"", true, "", true},
		{"", false, "", false},
		{"Postmaster", false, "", false},
		{"j\xc3\xb6rg@example.test", false, "j\xc3\xb6rg@example.test", true},
		{`"john doe"@example.test`, false, `"john doe"@example.test`, true},
		{`"john"@example.test`, false, "john@example.test", true},
		{`"a\b\\"@example.test`, false, `"ab\\"@example.test`, true},
		{"a@[IPv6:::1]", false, "a@[IPv6:::1]", true},
		{"john doe@example.test", false, "", false},
		{"a>@example.test", false, "", false},
		{"<a@example.test", false, "", false},
		{"a@example.test\r\nRSET", false, "", false},
		{"a\x00@example.test", false, "", false},
		{"a\x7f@example.test", false, "", false},
		{"a\t@example.test", false, "", false},
		{"a@example.test>", false, "", false},
		{long, false, long, true},
		{"a" + long, false, "", false},
	}
	for _, tc := range cases {
		got, ok := wireAddr(tc.a, tc.emptyOK)
		if got != tc.want || ok != tc.ok {
			t.Errorf("wireAddr(%q, %v) = %q, %v; want %q, %v", tc.a, tc.emptyOK, got, ok, tc.want, tc.ok)
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

// TestFinding6QuotedLocalPartRequotedOnWire: addresses leave in the form
// RFC 5321 writes them, quoted again by mailaddr; an address that is not
// a mailbox never reaches the wire (security review, finding 6).
func TestFinding6QuotedLocalPartRequotedOnWire(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{NoSTARTTLS: true})
	c := dialSink(t, sink, ClientOptions{})
	env := envelope(`"john doe"@example.test`, `"r\ob"@example.test`, `"a\"b\\c"@example.test`, "a..b@example.test")
	env.From = `"ceo@b.test"@sub.test`
	msg, rcpts, err := c.Send(context.Background(), env)
	if err != nil || !msg.OK() {
		t.Fatalf("%v %v", msg, err)
	}
	checkResults(t, rcpts, queued, queued, queued,
		Result{Permanent: true, Enhanced: [3]int{5, 1, 3}, Line: `recipient address "a..b@example.test" cannot be sent`})
	want := `EHLO postern.test|MAIL FROM:<"ceo@b.test"@sub.test> SIZE=25|RCPT TO:<"john doe"@example.test>|RCPT TO:<rob@example.test>|RCPT TO:<"a\"b\\c"@example.test>|DATA`
	if got := commands(sink); got != want {
		t.Errorf("commands\n got %s\nwant %s", got, want)
	}

	// The same sender with its quotes lost (as go-smtp hands it) is not a
	// mailbox: refused before MAIL, never written as it is.
	env = envelope("rcpt@example.test")
	env.From = "ceo@b.test@sub.test"
	msg, rcpts, err = c.Send(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	refused := Result{Permanent: true, Enhanced: [3]int{5, 1, 7}, Line: `sender address "ceo@b.test@sub.test" cannot be sent`}
	checkResult(t, "msg", msg, refused)
	checkResults(t, rcpts, refused)
	if got := commands(sink); strings.Count(got, "MAIL") != 1 || strings.Contains(got, "ceo@b.test@sub.test") {
		t.Errorf("commands %s", got)
	}

	// Control characters are refused for one recipient, never written,
	// and the Result quotes them as text.
	msg, rcpts, err = c.Send(context.Background(), envelope("ok@example.test", "a\x1b[2Jb@example.test", "c\x00d@example.test"))
	if err != nil || !msg.OK() {
		t.Fatalf("%v %v", msg, err)
	}
	checkResults(t, rcpts, queued,
		Result{Permanent: true, Enhanced: [3]int{5, 1, 3}, Line: `recipient address "a\x1b[2Jb@example.test" cannot be sent`},
		Result{Permanent: true, Enhanced: [3]int{5, 1, 3}, Line: `recipient address "c\x00d@example.test" cannot be sent`})
	for _, r := range rcpts {
		if strings.ContainsAny(r.Line, "\x00\x1b") {
			t.Errorf("raw control byte in %q", r.Line)
		}
	}
}
