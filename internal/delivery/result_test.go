package delivery

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestResult(t *testing.T) {
	cases := []struct {
		r    Result
		ok   bool
		text string
	}{
		{Result{Code: 250, Enhanced: [3]int{2, 0, 0}, Line: "250 2.0.0 OK: queued"}, true, "ok: 250 2.0.0 OK: queued"},
		{Result{Permanent: true, Code: 550, Enhanced: [3]int{5, 1, 1}, Line: "550-5.1.1 a\n550 5.1.1 b"}, false, "permanent failure: 550-5.1.1 a 550 5.1.1 b"},
		{Result{Code: 451, Line: "451 later"}, false, "temporary failure: 451 later"},
		{Temp("DNS lookup of MX for %s failed", "example.test"), false, "temporary failure: DNS lookup of MX for example.test failed"},
		{tempEnh(enhNoAnswer, "connection refused by %s", "192.0.2.1:25"), false, "temporary failure 4.4.1: connection refused by 192.0.2.1:25"},
		{Perm([3]int{5, 1, 2}, "domain %s does not exist", "nx.test"), false, "permanent failure 5.1.2: domain nx.test does not exist"},
	}
	for _, tc := range cases {
		if tc.r.OK() != tc.ok || tc.r.String() != tc.text {
			t.Errorf("%#v: OK %v String %q", tc.r, tc.r.OK(), tc.r.String())
		}
	}
	if p := Perm([3]int{5, 6, 0}, "x"); !p.Permanent || p.Code != 0 || p.Enhanced != [3]int{5, 6, 0} {
		t.Errorf("Perm %#v", p)
	}
	if tr := Temp("x"); tr.Permanent || tr.Code != 0 || tr.Enhanced != [3]int{} || tr.Line != "x" {
		t.Errorf("Temp %#v", tr)
	}
}

func TestCapLine(t *testing.T) {
	long := strings.Repeat("ü", 1000) // 2000 octets
	got := capLine(long)
	if len(got) != maxResultLine || !utf8.ValidString(got) {
		t.Errorf("%d octets, valid %v", len(got), utf8.ValidString(got))
	}
	if got := capLine("a\xffb"); got != "a\uFFFDb" {
		t.Errorf("%q", got)
	}
	if got := Temp("%s", long); len(got.Line) > maxResultLine {
		t.Errorf("Temp not capped: %d", len(got.Line))
	}
}
