package message

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// zeroRand yields zero bytes: the Message-ID's random part is all "a".
type zeroRand struct{}

func (zeroRand) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type failRand struct{}

func (failRand) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func testStamp() Stamp {
	return Stamp{
		Received:      "from client.example ([192.0.2.1])\r\n\tby mail.example.com (Postern) with ESMTPSA; Mon, 23 Nov 2026 10:00:00 +0000",
		OriginatingIP: netip.MustParseAddr("192.0.2.1"),
		Hostname:      "mail.example.com",
		Now:           testNow,
		Rand:          zeroRand{},
	}
}

const (
	wantReceived = "Received: from client.example ([192.0.2.1])\r\n\tby mail.example.com (Postern) with ESMTPSA; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	wantOrigIP   = "X-Originating-IP: [192.0.2.1]\r\n"
	wantDate     = "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
	wantMsgID    = "Message-ID: <aaaaaaaaaaaaaaaaaaaaaaaa@mail.example.com>\r\n"
)

func TestPrepare(t *testing.T) {
	tests := []struct {
		name  string
		msg   string
		stamp func(*Stamp)
		want  string
	}{
		{
			name: "adds Date and Message-ID",
			msg:  "From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n",
			want: wantReceived + wantOrigIP + "From: a@example.com\r\nSubject: hi\r\n" + wantDate + wantMsgID + "\r\nhello\r\n",
		},
		{
			name: "keeps Date and Message-ID, any case",
			msg:  "date: Sun, 1 Nov 2026 00:00:00 +0100\r\nmessage-id: <x@y>\r\n\r\nhello\r\n",
			stamp: func(s *Stamp) {
				s.Rand = failRand{} // not read
			},
			want: wantReceived + wantOrigIP + "date: Sun, 1 Nov 2026 00:00:00 +0100\r\nmessage-id: <x@y>\r\n\r\nhello\r\n",
		},
		{
			name: "keeps Date only",
			msg:  "DATE: x\r\n\r\n",
			want: wantReceived + wantOrigIP + "DATE: x\r\n" + wantMsgID + "\r\n",
		},
		{
			name: "keeps Message-ID only",
			msg:  "Message-Id: <x@y>\r\n\r\n",
			want: wantReceived + wantOrigIP + "Message-Id: <x@y>\r\n" + wantDate + "\r\n",
		},
		{
			name: "duplicates kept as they are",
			msg:  "Date: 1\r\nDate: 2\r\n\r\n",
			want: wantReceived + wantOrigIP + "Date: 1\r\nDate: 2\r\n" + wantMsgID + "\r\n",
		},
		{
			name: "body bytes exact",
			msg:  "Subject: x\r\n\r\n\r\n.\r\n..\r\nFrom me\r\n \r\n\x00\xff\r\nno final CRLF",
			want: wantReceived + wantOrigIP + "Subject: x\r\n" + wantDate + wantMsgID + "\r\n\r\n.\r\n..\r\nFrom me\r\n \r\n\x00\xff\r\nno final CRLF",
		},
		{
			name: "folded fields kept",
			msg:  "Subject: a\r\n b\r\nTo :\r\n\tc@example.com\r\n\r\nx",
			want: wantReceived + wantOrigIP + "Subject: a\r\n b\r\nTo :\r\n\tc@example.com\r\n" + wantDate + wantMsgID + "\r\nx",
		},
		{
			name: "no body",
			msg:  "Subject: x\r\n",
			want: wantReceived + wantOrigIP + "Subject: x\r\n" + wantDate + wantMsgID + "\r\n",
		},
		{
			name: "no body, no final CRLF",
			msg:  "Subject: x",
			want: wantReceived + wantOrigIP + "Subject: x\r\n" + wantDate + wantMsgID + "\r\n",
		},
		{
			name: "empty message",
			msg:  "",
			want: wantReceived + wantOrigIP + wantDate + wantMsgID + "\r\n",
		},
		{
			name: "no header",
			msg:  "\r\nbody",
			want: wantReceived + wantOrigIP + wantDate + wantMsgID + "\r\nbody",
		},
		{
			name:  "IPv6",
			msg:   "\r\n",
			stamp: func(s *Stamp) { s.OriginatingIP = netip.MustParseAddr("2001:db8::1%eth0") },
			want:  wantReceived + "X-Originating-IP: [2001:db8::1]\r\n" + wantDate + wantMsgID + "\r\n",
		},
		{
			name:  "IPv4-mapped",
			msg:   "\r\n",
			stamp: func(s *Stamp) { s.OriginatingIP = netip.MustParseAddr("::ffff:192.0.2.7") },
			want:  wantReceived + "X-Originating-IP: [192.0.2.7]\r\n" + wantDate + wantMsgID + "\r\n",
		},
		{
			name:  "no IP, no Received",
			msg:   "\r\n",
			stamp: func(s *Stamp) { s.OriginatingIP = netip.Addr{}; s.Received = "" },
			want:  wantDate + wantMsgID + "\r\n",
		},
		{
			name:  "Date in the zone of Now",
			msg:   "Message-ID: <x@y>\r\n\r\n",
			stamp: func(s *Stamp) { s.Now = testNow.In(time.FixedZone("", -(3*3600 + 30*60))) },
			want:  wantReceived + wantOrigIP + "Message-ID: <x@y>\r\nDate: Mon, 23 Nov 2026 06:30:00 -0330\r\n\r\n",
		},
		{
			name:  "hostname sanitized",
			msg:   "\r\n",
			stamp: func(s *Stamp) { s.Hostname = "..bad host>\r\n..example..com." },
			want:  wantReceived + wantOrigIP + wantDate + "Message-ID: <aaaaaaaaaaaaaaaaaaaaaaaa@badhost.example.com>\r\n\r\n",
		},
		{
			name:  "empty hostname",
			msg:   "\r\n",
			stamp: func(s *Stamp) { s.Hostname = "" },
			want:  wantReceived + wantOrigIP + wantDate + "Message-ID: <aaaaaaaaaaaaaaaaaaaaaaaa@localhost>\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testStamp()
			if tt.stamp != nil {
				tt.stamp(&s)
			}
			got, err := Prepare([]byte(tt.msg), s)
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Prepare:\n got %q\nwant %q", got, tt.want)
			}
			checkPrepared(t, got)
		})
	}
}

// checkPrepared checks what every output of Prepare must satisfy.
func checkPrepared(t *testing.T, out []byte) Header {
	t.Helper()
	if err := CheckLineEndings(out); err != nil {
		t.Fatalf("output: %v", err)
	}
	h, err := ParseHeader(out)
	if err != nil {
		t.Fatalf("output: %v", err)
	}
	if h.BodyOffset < 2 || string(out[h.BodyOffset-2:h.BodyOffset]) != "\r\n" {
		t.Fatalf("output has no empty line: %q", out)
	}
	return h
}

func TestPrepareErrors(t *testing.T) {
	tests := []struct {
		name  string
		msg   string
		stamp func(*Stamp)
		check func(error) bool
	}{
		{"bare LF in body", "Subject: x\r\n\r\na\nb", nil, isType[*LineEndingError]},
		{"bare CR in header", "Subject: x\r\r\n\r\n", nil, isType[*LineEndingError]},
		{"bad header", "Subject x\r\n\r\n", nil, isType[*HeaderError]},
		{"mbox", "From a@b Mon Jan  1 00:00:00 2026\r\n\r\n", nil, isType[*HeaderError]},
		{"rand fails", "\r\n", func(s *Stamp) { s.Rand = failRand{} }, func(err error) bool { return err != nil }},
		{"rand short", "\r\n", func(s *Stamp) { s.Rand = strings.NewReader("short") }, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"Received with bare LF", "\r\n", func(s *Stamp) { s.Received = "a\nBcc: x" }, errNot[*HeaderError]},
		{"Received with CRLF, no WSP", "\r\n", func(s *Stamp) { s.Received = "a\r\nBcc: x" }, errNot[*HeaderError]},
		{"Received ending in CRLF", "\r\n", func(s *Stamp) { s.Received = "a\r\n" }, errNot[*HeaderError]},
		{"Received with empty fold", "\r\n", func(s *Stamp) { s.Received = "a\r\n \r\n b" }, errNot[*HeaderError]},
		{"Received unfoldable", "\r\n", func(s *Stamp) { s.Received = strings.Repeat("x", 1000) }, errNot[*HeaderError]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testStamp()
			if tt.stamp != nil {
				tt.stamp(&s)
			}
			out, err := Prepare([]byte(tt.msg), s)
			if !tt.check(err) {
				t.Errorf("got %v (%T)", err, err)
			}
			if out != nil {
				t.Errorf("got output %q with an error", out)
			}
		})
	}
}

func isType[E error](err error) bool {
	var e E
	return errors.As(err, &e)
}

func errNot[E error](err error) bool { return err != nil && !isType[E](err) }

func TestPrepareFolding(t *testing.T) {
	long := strings.Repeat("h", 200) + ".example"
	s := testStamp()
	s.Received = Received(Trace{
		Helo:     long,
		ClientIP: netip.MustParseAddr("2001:db8:1234:5678:9abc:def0:1234:5678"),
		By:       "mail.example.com",
		With:     "ESMTPSA",
		TLS:      "TLS1.3 TLS_CHACHA20_POLY1305_SHA256",
		KeyID:    "key_0123456789abcdefghijklmnopqrstuvwxyz",
		ID:       "01JABCDEFGHJKMNPQRSTVWXYZ0",
		For:      "a.rather.long.local.part.for.testing@subdomain.recipient-domain.example",
		Now:      testNow,
	})
	s.Hostname = strings.Repeat("m", 63) + "." + strings.Repeat("n", 63) + ".example"
	out, err := Prepare([]byte("Subject: x\r\n\r\nbody"), s)
	if err != nil {
		t.Fatal(err)
	}
	h := checkPrepared(t, out)
	header := string(out[:h.BodyOffset-2])
	for _, l := range strings.Split(strings.TrimSuffix(header, "\r\n"), "\r\n") {
		// Only the HELO and the Message-ID have no fold point inside.
		if len(l) > 78 && !strings.Contains(l, long) && !strings.Contains(l, s.Hostname) {
			t.Errorf("line of %d characters: %q", len(l), l)
		}
	}
	if !strings.Contains(header, "Received: from\r\n "+long+"\r\n ([IPv6:2001:db8:1234:5678:9abc:def0:1234:5678])\r\n") {
		t.Errorf("Received not folded as expected:\n%s", header)
	}
	if !strings.Contains(header, "Message-ID:\r\n <aaaaaaaaaaaaaaaaaaaaaaaa@"+s.Hostname+">\r\n") {
		t.Errorf("Message-ID not folded as expected:\n%s", header)
	}
	// Unfolding gives back the value.
	if got, want := h.Values("Received")[0], strings.ReplaceAll(s.Received, "\r\n", ""); got != want {
		t.Errorf("Received unfolds to %q, want %q", got, want)
	}
}

func TestAppendFolded(t *testing.T) {
	tests := []struct {
		line string
		want string
		ok   bool
	}{
		{"short", "short", true},
		{strings.Repeat("a", 78), strings.Repeat("a", 78), true},
		{strings.Repeat("a", 70) + " " + strings.Repeat("b", 20), strings.Repeat("a", 70) + "\r\n " + strings.Repeat("b", 20), true},
		{strings.Repeat("a", 70) + "   " + strings.Repeat("b", 20), strings.Repeat("a", 70) + "\r\n   " + strings.Repeat("b", 20), true},
		{strings.Repeat("a", 100) + " b", strings.Repeat("a", 100) + "\r\n b", true},
		{strings.Repeat("a", 100) + "   ", strings.Repeat("a", 100) + "   ", true}, // trailing WSP is no fold point
		{"\t" + strings.Repeat("a", 100), "\t" + strings.Repeat("a", 100), true},   // nor leading
		{"\t  " + strings.Repeat("a", 90) + " b", "\t  " + strings.Repeat("a", 90) + "\r\n b", true},
		{strings.Repeat("a", 998), strings.Repeat("a", 998), true},
		{strings.Repeat("a", 999), strings.Repeat("a", 999), false},
		{strings.Repeat("a", 999) + " b", strings.Repeat("a", 999) + "\r\n b", false},
		{"a " + strings.Repeat("b", 997), "a\r\n " + strings.Repeat("b", 997), true},
		{"a " + strings.Repeat("b", 998), "a\r\n " + strings.Repeat("b", 998), false},
		{strings.Repeat("ab ", 60), strings.Repeat("ab ", 25) + "ab\r\n" + strings.Repeat(" ab", 26) + "\r\n" + strings.Repeat(" ab", 8) + " ", true},
	}
	for _, tt := range tests {
		got, ok := appendFolded(nil, tt.line)
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("appendFolded(%q) =\n %q, %v\nwant\n %q, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMessageID(t *testing.T) {
	re := regexp.MustCompile(`^<[a-z2-7]{24}@mail\.example\.com>$`)
	seen := map[string]bool{}
	for range 100 {
		id, err := newMessageID(nil, "mail.example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(id) {
			t.Fatalf("Message-ID %q", id)
		}
		if seen[id] {
			t.Fatalf("Message-ID %q repeated", id)
		}
		seen[id] = true
	}
	// The encoding uses every bit: 0xff... is all "7", a known pattern
	// gives a known id.
	id, _ := newMessageID(bytes.NewReader(bytes.Repeat([]byte{0xff}, 15)), "h")
	if id != "<"+strings.Repeat("7", 24)+"@h>" {
		t.Errorf("all ones: %q", id)
	}
	id, _ = newMessageID(bytes.NewReader([]byte{0, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56, 0xd7}), "h")
	if want := "<abcdefghijklmnopqrstuvwx@h>"; id != want {
		t.Errorf("pattern: %q, want %q", id, want)
	}
}

// The result of Prepare must parse, so an input near ParseHeader's limits is
// refused rather than stamped past them.
func TestPrepareLimits(t *testing.T) {
	s := testStamp() // adds four fields to a message without Date and Message-ID
	fields := func(n int) []byte { return []byte(strings.Repeat("X-A: b\r\n", n) + "\r\nbody") }
	out, err := Prepare(fields(MaxHeaderFields-4), s)
	if err != nil {
		t.Fatalf("%d fields: %v", MaxHeaderFields-4, err)
	}
	checkPrepared(t, out)
	_, err = Prepare(fields(MaxHeaderFields-3), s)
	var he *HeaderError
	if !errors.As(err, &he) || he.Line != MaxHeaderFields-3 {
		t.Errorf("%d fields: got %v, want HeaderError at line %d", MaxHeaderFields-3, err, MaxHeaderFields-3)
	}

	big := func(n int) []byte { // one field of n octets, then the body
		return []byte("X-Big: " + strings.Repeat("b", n-9) + "\r\n\r\nbody")
	}
	stamped, err := Prepare(big(10), s)
	if err != nil {
		t.Fatal(err)
	}
	extra := len(stamped) - len(big(10)) // octets Prepare adds
	out, err = Prepare(big(MaxHeaderBytes-extra), s)
	if err != nil {
		t.Fatalf("header of %d octets: %v", MaxHeaderBytes-extra, err)
	}
	checkPrepared(t, out)
	_, err = Prepare(big(MaxHeaderBytes-extra+1), s)
	if !errors.As(err, &he) || he.Line != 1 {
		t.Errorf("header of %d octets: got %v, want HeaderError at line 1", MaxHeaderBytes-extra+1, err)
	}
}

// PrepareParsed hands back the header of what it built, the same as
// parsing the result again, and leaves out the fields Drop names.
func TestPrepareParsedHeader(t *testing.T) {
	for _, msg := range []string{
		"From: a@b.test\r\nX-Originating-IP: [10.9.9.9]\r\nSubject: hi\r\n\r\nbody\r\n",
		"Subject: no body",
		"\r\nonly a body\r\n",
	} {
		h, err := ParseHeader([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		out, oh, err := PrepareParsed([]byte(msg), h, Stamp{
			Received: "from x by y; " + testNow.Format(DateLayout), OriginatingIP: netip.MustParseAddr("192.0.2.7"),
			Hostname: "mx.test", Now: testNow, Rand: zeroRand{},
			Drop: func(f Field) bool { return strings.EqualFold(f.Name, "X-Originating-IP") },
		})
		if err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		again, err := ParseHeader(out)
		if err != nil {
			t.Fatalf("%q: result does not parse: %v", msg, err)
		}
		if again.BodyOffset != oh.BodyOffset || len(again.Fields) != len(oh.Fields) {
			t.Fatalf("%q: header %+v, parsed again %+v", msg, oh, again)
		}
		for i := range oh.Fields {
			if oh.Fields[i].Name != again.Fields[i].Name || string(oh.Fields[i].Raw) != string(again.Fields[i].Raw) {
				t.Errorf("%q: field %d: %q, parsed again %q", msg, i, oh.Fields[i].Raw, again.Fields[i].Raw)
			}
		}
		if got := oh.Values("X-Originating-IP"); len(got) != 1 || got[0] != "[192.0.2.7]" {
			t.Errorf("%q: X-Originating-IP %q, want only Postern's", msg, got)
		}
	}
}
