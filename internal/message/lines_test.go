package message

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckLineEndings(t *testing.T) {
	const prefix = "Subject: x\r\n\r\nhello"
	const suffix = "MAIL FROM:<evil@example.com>\r\n"
	tests := []struct {
		name    string
		variant string // put between prefix and suffix
		bare    byte   // 0: no error
		at      int    // offset of the bare byte in variant
	}{
		{"crlf", "\r\n.\r\n", 0, 0},
		{"crlf only", "\r\n", 0, 0},
		{"LF.LF", "\n.\n", '\n', 0},
		{"CR.CR", "\r.\r", '\r', 0},
		{"CR.LF", "\r.\n", '\r', 0},
		{"LF.CR", "\n.\r", '\n', 0},
		{"LF.CRLF", "\n.\r\n", '\n', 0},
		{"CRLF.LF", "\r\n.\n", '\n', 3},
		{"CRLF.CR", "\r\n.\r", '\r', 3},
		{"CRCRLF", "\r\r\n", '\r', 0},
		{"CRLFCR", "\r\n\r", '\r', 2},
		{"LFLF", "\n\n", '\n', 0},
		{"CR NUL LF", "\r\x00\n", '\r', 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, pre := range []string{prefix, ""} {
				msg := pre + tt.variant + suffix
				check(t, msg, tt.bare, len(pre)+tt.at)
			}
		})
	}
	t.Run("edges", func(t *testing.T) {
		check(t, "", 0, 0)
		check(t, "\r\n", 0, 0)
		check(t, "no line ending at all", 0, 0)
		check(t, "NUL \x00 and 8-bit \xff are fine\r\n", 0, 0)
		check(t, "trailing lone CR\r", '\r', 16)
		check(t, "\r", '\r', 0)
		check(t, "\nSubject: x\r\n", '\n', 0)
		check(t, "\n", '\n', 0)
		check(t, "a\r\nb\r\nc\n", '\n', 7)
		check(t, "a\r\nb\r\nc\rd\n", '\r', 7)
	})
}

func check(t *testing.T, msg string, bare byte, at int) {
	t.Helper()
	err := CheckLineEndings([]byte(msg))
	if bare == 0 {
		if err != nil {
			t.Errorf("CheckLineEndings(%q) = %v, want nil", msg, err)
		}
		return
	}
	var le *LineEndingError
	if !errors.As(err, &le) {
		t.Fatalf("CheckLineEndings(%q) = %v, want *LineEndingError", msg, err)
	}
	if le.Bare != bare || le.Offset != at {
		t.Errorf("CheckLineEndings(%q) = {Offset %d, Bare %q}, want {%d, %q}", msg, le.Offset, le.Bare, at, bare)
	}
}

// The smuggling payload of CVE-2023-51764 (Postfix) and its siblings in
// other MTAs: an end-of-data sequence with a bare LF, hiding a second
// transaction inside the first message.
func TestSmuggling_CVE_2023_51764(t *testing.T) {
	for _, eod := range []string{"\n.\r\n", "\r\n.\n", "\n.\n", "\r.\r\n", "\r\n.\r", "\r.\r"} {
		msg := "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello" + eod +
			"MAIL FROM:<admin@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nFrom: admin@example.com\r\n\r\nsmuggled\r\n"
		if err := CheckLineEndings([]byte(msg)); err == nil {
			t.Errorf("end of data %q: accepted", eod)
		}
		if _, err := Prepare([]byte(msg), Stamp{}); err == nil {
			t.Errorf("end of data %q: Prepare accepted", eod)
		}
	}
}

func TestLineEndingErrorText(t *testing.T) {
	for _, tt := range []struct {
		err  *LineEndingError
		want string
	}{
		{&LineEndingError{Offset: 123, Bare: '\n'}, "bare LF at byte 123"},
		{&LineEndingError{Offset: 0, Bare: '\r'}, "bare CR at byte 0"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestCheckLineLength(t *testing.T) {
	line := func(n int) string { return strings.Repeat("x", n-2) + "\r\n" }
	tests := []struct {
		name     string
		msg      string
		max      int
		wantLine int // 0: no error
		wantLen  int
	}{
		{"empty", "", 1000, 0, 0},
		{"exactly 1000", line(1000), 1000, 0, 0},
		{"1001", line(1001), 1000, 1, 1001},
		{"third line", line(10) + line(1000) + line(1001), 1000, 3, 1001},
		{"unterminated last line ok", line(10) + strings.Repeat("x", 1000), 1000, 0, 0},
		{"unterminated last line long", line(10) + strings.Repeat("x", 1001), 1000, 2, 1001},
		{"bare LF ends a line", strings.Repeat("x", 999) + "\n" + "y", 1000, 0, 0},
		{"default max", line(1001), 0, 1, 1001},
		{"small max", "ab\r\nabc\r\n", 4, 2, 5},
		{"empty lines", "\r\n\r\n\r\n", 2, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckLineLength([]byte(tt.msg), tt.max)
			if tt.wantLine == 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var le *LineLengthError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want *LineLengthError", err)
			}
			if le.Line != tt.wantLine || le.Length != tt.wantLen {
				t.Errorf("got line %d length %d, want line %d length %d", le.Line, le.Length, tt.wantLine, tt.wantLen)
			}
		})
	}
	if got, want := (&LineLengthError{Line: 3, Length: 1201}).Error(), "line 3 is 1201 octets long"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
