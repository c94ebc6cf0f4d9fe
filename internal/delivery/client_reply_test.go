package delivery

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseReply(t *testing.T) {
	long := strings.Repeat("x", maxReplyLineLen-4)
	lines := func(n int) string { return strings.Repeat("250-x\r\n", n-1) + "250 x\r\n" }
	cases := []struct {
		name  string
		in    string
		code  int
		enh   [3]int
		lines []string
		err   string // "" for none; else the error text
	}{
		{"single", "250 ok\r\n", 250, [3]int{}, []string{"250 ok"}, ""},
		{"code alone", "250\r\n", 250, [3]int{}, []string{"250"}, ""},
		{"enhanced", "550 5.1.1 no such user\r\n", 550, [3]int{5, 1, 1}, []string{"550 5.1.1 no such user"}, ""},
		{"enhanced alone", "250 2.0.0\r\n", 250, [3]int{2, 0, 0}, []string{"250 2.0.0"}, ""},
		{"enhanced three digits", "452 4.123.999 x\r\n", 452, [3]int{4, 123, 999}, []string{"452 4.123.999 x"}, ""},
		{"enhanced class mismatch", "550 4.1.1 x\r\n", 550, [3]int{}, []string{"550 4.1.1 x"}, ""},
		{"enhanced four digits", "550 5.1.1000 x\r\n", 550, [3]int{}, []string{"550 5.1.1000 x"}, ""},
		{"enhanced with colon", "550 5.1.1: x\r\n", 550, [3]int{}, []string{"550 5.1.1: x"}, ""},
		{"enhanced two parts", "550 5.1 x\r\n", 550, [3]int{}, []string{"550 5.1 x"}, ""},
		{"no enhanced for 3xx", "354 3.0.0 go ahead\r\n", 354, [3]int{}, []string{"354 3.0.0 go ahead"}, ""},
		{"multi-line", "250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n", 250, [3]int{},
			[]string{"250-mx.example.test", "250-PIPELINING", "250 SIZE 100"}, ""},
		{"enhanced from the last line only", "550-5.1.1 a\r\n550 b\r\n", 550, [3]int{}, []string{"550-5.1.1 a", "550 b"}, ""},
		{"enhanced on the last line", "451-a\r\n451 4.3.0 b\r\n", 451, [3]int{4, 3, 0}, []string{"451-a", "451 4.3.0 b"}, ""},
		{"bare LF accepted", "250-a\n250 b\n", 250, [3]int{}, []string{"250-a", "250 b"}, ""},
		{"empty continuation", "250-\r\n250 \r\n", 250, [3]int{}, []string{"250-", "250 "}, ""},
		{"tab in text", "250 a\tb\r\n", 250, [3]int{}, []string{"250 a\tb"}, ""},
		{"8-bit text kept", "550 5.7.1 \xffé\r\n", 550, [3]int{5, 7, 1}, []string{"550 5.7.1 \xffé"}, ""},
		{"longest line", "250 " + long + "\r\n", 250, [3]int{}, []string{"250 " + long}, ""},
		{"most lines", lines(maxReplyLines), 250, [3]int{}, strings.Split(strings.TrimSuffix(strings.ReplaceAll(lines(maxReplyLines), "\r\n", "\n"), "\n"), "\n"), ""},

		{"garbage", "hello there\r\n", 0, [3]int{}, nil, `protocol error: not an SMTP reply: "hello there"`},
		{"code 6xx", "650 x\r\n", 0, [3]int{}, nil, `protocol error: not an SMTP reply: "650 x"`},
		{"code 1xx", "199 x\r\n", 0, [3]int{}, nil, `protocol error: not an SMTP reply: "199 x"`},
		{"two digits", "25 x\r\n", 0, [3]int{}, nil, `protocol error: not an SMTP reply: "25 x"`},
		{"four digits", "2500 x\r\n", 0, [3]int{}, nil, `protocol error: not an SMTP reply: "2500 x"`},
		{"letter in code", "2x0 x\r\n", 0, [3]int{}, nil, `protocol error: not an SMTP reply: "2x0 x"`},
		{"tab separator", "250\tx\r\n", 0, [3]int{}, nil, `protocol error: not an SMTP reply: "250\tx"`},
		{"mixed codes", "250-a\r\n550 b\r\n", 0, [3]int{}, nil, "protocol error: reply lines with codes 250 and 550"},
		{"NUL", "250 a\x00b\r\n", 0, [3]int{}, nil, `protocol error: control character in reply "250 a\x00b"`},
		{"bare CR", "250 a\rb\r\n", 0, [3]int{}, nil, `protocol error: control character in reply "250 a\rb"`},
		{"line too long", "250 " + long + "x\r\n", 0, [3]int{}, nil, "protocol error: reply line longer than 2048 octets"},
		{"line far too long", strings.Repeat("2", 10000) + "\r\n", 0, [3]int{}, nil, "protocol error: reply line longer than 2048 octets"},
		{"too many lines", lines(maxReplyLines + 1), 0, [3]int{}, nil, "protocol error: reply longer than 100 lines"},
		{"empty line", "\r\n", 0, [3]int{}, nil, `protocol error: not an SMTP reply: ""`},
		{"nothing", "", 0, [3]int{}, nil, io.EOF.Error()},
		{"cut line", "250 ok", 0, [3]int{}, nil, io.ErrUnexpectedEOF.Error()},
		{"cut reply", "250-ok\r\n", 0, [3]int{}, nil, io.ErrUnexpectedEOF.Error()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := parseReply(bufio.NewReader(strings.NewReader(tc.in)))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if strings.HasPrefix(tc.err, "protocol error") != isProtocolError(err) {
					t.Errorf("isProtocolError(%v) wrong", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Code != tc.code || rep.Enhanced != tc.enh || strings.Join(rep.Lines, "|") != strings.Join(tc.lines, "|") {
				t.Errorf("got %d %v %q", rep.Code, rep.Enhanced, rep.Lines)
			}
		})
	}
}

func TestParseReplyLeavesTheNextReply(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("250-a\r\n250 b\r\n550 5.1.1 c\r\n"))
	first, err := parseReply(r)
	if err != nil || first.Code != 250 || len(first.Lines) != 2 {
		t.Fatalf("%+v %v", first, err)
	}
	second, err := parseReply(r)
	if err != nil || second.Code != 550 || second.Enhanced != [3]int{5, 1, 1} {
		t.Fatalf("%+v %v", second, err)
	}
}

func TestReplyResult(t *testing.T) {
	rep, err := parseReply(bufio.NewReader(strings.NewReader("550-5.7.1 first\r\n550 5.7.1 caf\xe9\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Permanent: true, Code: 550, Enhanced: [3]int{5, 7, 1}, Line: "550-5.7.1 first\n550 5.7.1 caf\uFFFD"}
	if got := rep.result(); got != want {
		t.Errorf("got %#v", got)
	}
	big := strings.Repeat("450-"+strings.Repeat("é", 700)+"\r\n", 3) + "450 end\r\n"
	rep, err = parseReply(bufio.NewReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	res := rep.result()
	if len(res.Line) > maxResultLine || len(res.Line) < maxResultLine-3 || !utf8.ValidString(res.Line) || res.Permanent || res.Code != 450 {
		t.Errorf("capped result: %d octets, valid %v", len(res.Line), utf8.ValidString(res.Line))
	}
}

// FuzzParseReply checks that any input gives either a protocol or I/O
// error or a reply within the limits, without panicking.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"250 ok\r\n",
		"250-mx\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
		"550 5.1.1 no\r\n",
		"354 go\r\n",
		"hello\r\n",
		"250-a\r\n550 b\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := parseReply(bufio.NewReaderSize(strings.NewReader(string(data)), 16))
		if err != nil {
			var pe *protocolError
			if !errors.As(err, &pe) && err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("unexpected error type %T %v", err, err)
			}
			return
		}
		if rep.Code < 200 || rep.Code > 599 {
			t.Fatalf("code %d", rep.Code)
		}
		if len(rep.Lines) == 0 || len(rep.Lines) > maxReplyLines {
			t.Fatalf("%d lines", len(rep.Lines))
		}
		code := rep.Lines[0][:3]
		for i, l := range rep.Lines {
			if len(l) > maxReplyLineLen || l[:3] != code || strings.ContainsAny(l, "\r\n\x00") {
				t.Fatalf("line %d %q", i, l)
			}
			if last := i == len(rep.Lines)-1; last != (len(l) == 3 || l[3] == ' ') {
				t.Fatalf("line %d %q: continuation wrong", i, l)
			}
		}
		if e := rep.Enhanced; e != ([3]int{}) && (e[0] != rep.Code/100 || e[1] > 999 || e[2] > 999 || e[1] < 0 || e[2] < 0) {
			t.Fatalf("enhanced %v for %d", e, rep.Code)
		}
		res := rep.result()
		if len(res.Line) > maxResultLine || !utf8.ValidString(res.Line) || res.Permanent != (rep.Code >= 500) {
			t.Fatalf("result %#v", res)
		}
	})
}
