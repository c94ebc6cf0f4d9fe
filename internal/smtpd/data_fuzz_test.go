package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

// FuzzReadData: whatever a client sends after 354, the reader either
// ends at the first line that is exactly "." after a CRLF and hands back
// the message unchanged but for transparency dots, or refuses it; a
// message it accepts has only CRLF line endings and no NUL, and the
// budget is never left holding bytes of a refused one.
func FuzzReadData(f *testing.F) {
	for _, s := range []string{
		"Subject: x\r\n\r\nhi\r\n.\r\n",
		"..dot\r\n.\r\n",
		"a\r\n.\rX\r\n.\r\n",
		"a\r\r\n.\r\n",
		"a\n.\nb\r\n.\r\n",
		"\x00\r\n.\r\n",
		".\r\n",
		"no end",
	} {
		f.Add([]byte(s), uint16(64))
	}
	f.Fuzz(func(t *testing.T, in []byte, max uint16) {
		bud := newBudget(1 << 20)
		msg, reserved, err := readData(bufio.NewReaderSize(bytes.NewReader(in), 16), int64(max), bud, func() {})
		if err != nil {
			if reserved != 0 || bud.inUse() != 0 {
				t.Fatalf("refused, yet %d reserved and %d in use", reserved, bud.inUse())
			}
			if errors.Is(err, errTooBig) || errors.Is(err, errBareLineEnding) || errors.Is(err, errNUL) {
				if !bytes.Contains(in, []byte("\r\n.\r\n")) && !bytes.HasPrefix(in, []byte(".\r\n")) {
					t.Fatalf("a refusal (%v) of a DATA that never ended", err)
				}
			}
			return
		}
		if bud.inUse() != reserved || int64(len(msg)) > reserved && len(msg) > 0 {
			t.Fatalf("%d bytes held with %d reserved (%d in use)", len(msg), reserved, bud.inUse())
		}
		if int64(len(msg)) > int64(max) && max > 0 {
			t.Fatalf("%d bytes accepted over the limit %d", len(msg), max)
		}
		if bytes.IndexByte(msg, 0) >= 0 {
			t.Fatal("NUL accepted")
		}
		for i, c := range msg {
			if c == '\r' && (i+1 >= len(msg) || msg[i+1] != '\n') || c == '\n' && (i == 0 || msg[i-1] != '\r') {
				t.Fatalf("bare line ending accepted at %d: %q", i, msg)
			}
		}
		if len(msg) > 0 && !bytes.HasSuffix(msg, []byte("\r\n")) {
			t.Fatalf("accepted message does not end with CRLF: %q", msg)
		}
	})
}

// FuzzParsePathArg: MAIL and RCPT arguments never panic, a path never
// holds a control character, and a refusal never echoes the input.
func FuzzParsePathArg(f *testing.F) {
	for _, s := range []string{
		"FROM:<a@b.test>", "FROM:<> SIZE=100 BODY=8BITMIME", "TO:<\"a>b\"@c.test>",
		"TO:<@r.test,@s.test:u@d.test>", "FROM: <a@b.test>", "TO:<a\x1b@b.test>", "FROM:<\"\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, prefix := range []string{"FROM:", "TO:"} {
			path, params, e := parsePathArg(arg, prefix)
			if e != nil {
				// Refusals are fixed texts: nothing of the input in them.
				if e.Text != textPathSyntax && e.Text != textPathControl {
					t.Fatalf("reply %q is not one of the fixed refusals", e.Text)
				}
				continue
			}
			for _, c := range []byte(path) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("path %q holds a control byte", path)
				}
			}
			for k, v := range params {
				if !printableASCII(k) || !printableASCII(v) {
					t.Fatalf("parameter %q=%q not printable", k, v)
				}
			}
		}
	})
}
