package message

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/ and run with every
// go test.

func FuzzParseHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := ParseHeader(msg)
		if err != nil {
			var he *HeaderError
			if !errors.As(err, &he) || he.Line < 1 || he.Reason == "" {
				t.Fatalf("error %v (%T) is not a HeaderError with line and reason", err, err)
			}
			return
		}
		if h.BodyOffset < 0 || h.BodyOffset > len(msg) {
			t.Fatalf("BodyOffset %d out of [0, %d]", h.BodyOffset, len(msg))
		}
		if len(h.Fields) > MaxHeaderFields {
			t.Fatalf("%d fields", len(h.Fields))
		}
		var joined []byte
		for i, f := range h.Fields {
			if f.Name == "" || !bytes.HasPrefix(f.Raw, []byte(f.Name)) {
				t.Fatalf("field %d: name %q, raw %q", i, f.Name, f.Raw)
			}
			if i < len(h.Fields)-1 && !bytes.HasSuffix(f.Raw, crlf) {
				t.Fatalf("field %d does not end in CRLF: %q", i, f.Raw)
			}
			if v := f.Value(); strings.ContainsAny(v, "\r\n") {
				t.Fatalf("field %d: value %q not unfolded", i, v)
			}
			joined = append(joined, f.Raw...)
		}
		if h.BodyOffset > len(joined) {
			joined = append(joined, crlf...) // the empty line
		}
		if !bytes.Equal(joined, msg[:h.BodyOffset]) {
			t.Fatalf("fields + separator = %q, want msg[:BodyOffset] = %q", joined, msg[:h.BodyOffset])
		}
		if len(joined) > MaxHeaderBytes+2 {
			t.Fatalf("header section of %d octets", len(joined))
		}
	})
}

func FuzzPrepare(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte, helo, rcpt, host string) {
		before, errBefore := ParseHeader(msg)
		s := Stamp{
			Received: Received(Trace{
				Helo:     helo,
				ClientIP: netip.MustParseAddr("2001:db8::25"),
				By:       host,
				With:     "ESMTPSA",
				TLS:      "TLS1.3 TLS_AES_128_GCM_SHA256",
				KeyID:    "pk_fuzz",
				ID:       "01FUZZ",
				For:      rcpt,
				Now:      testNow,
			}),
			OriginatingIP: netip.MustParseAddr("192.0.2.1"),
			Hostname:      host,
			Now:           testNow,
			Rand:          zeroRand{},
		}
		out, err := Prepare(msg, s)
		if err != nil {
			if CheckLineEndings(msg) == nil && errBefore == nil {
				t.Fatalf("Prepare refused a valid message: %v", err)
			}
			return
		}
		if err := CheckLineEndings(out); err != nil {
			t.Fatalf("output: %v", err)
		}
		h, err := ParseHeader(out)
		if err != nil {
			t.Fatalf("output: %v\n%q", err, out)
		}
		if !bytes.Equal(out[h.BodyOffset:], msg[before.BodyOffset:]) {
			t.Fatalf("body changed: %q, want %q", out[h.BodyOffset:], msg[before.BodyOffset:])
		}
		if h.BodyOffset < 2 || !bytes.Equal(out[h.BodyOffset-2:h.BodyOffset], crlf) {
			t.Fatal("output has no empty line")
		}
		for _, name := range []string{"Date", "Message-ID"} {
			if n, m := before.Count(name), h.Count(name); n <= 1 && m != 1 || n > 1 && m != n {
				t.Fatalf("%d %s fields in, %d out", n, name, m)
			}
		}
		if h.Count("Received") != before.Count("Received")+1 || h.Fields[0].Name != "Received" {
			t.Fatalf("Received not prepended once")
		}
		// The original fields, in order, between the prepended and the
		// appended ones.
		if len(h.Fields) < len(before.Fields)+2 {
			t.Fatalf("%d fields out for %d in", len(h.Fields), len(before.Fields))
		}
		for i, f := range before.Fields {
			g := h.Fields[i+2]
			if !bytes.Equal(bytes.TrimSuffix(g.Raw, crlf), bytes.TrimSuffix(f.Raw, crlf)) {
				t.Fatalf("field %d: %q, want %q", i, g.Raw, f.Raw)
			}
		}
		// No line of an added field is over 998 characters.
		added := append(h.Fields[:2:2], h.Fields[len(before.Fields)+2:]...)
		for _, f := range added {
			for _, l := range bytes.Split(bytes.TrimSuffix(f.Raw, crlf), crlf) {
				if len(l) > maxLineBody {
					t.Fatalf("%s: line of %d characters", f.Name, len(l))
				}
			}
		}
	})
}

func FuzzCheckLineEndings(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		wantAt, wantBare := refLineEndings(b)
		err := CheckLineEndings(b)
		if wantAt < 0 {
			if err != nil {
				t.Fatalf("CheckLineEndings(%q) = %v, want nil", b, err)
			}
			return
		}
		var le *LineEndingError
		if !errors.As(err, &le) || le.Offset != wantAt || le.Bare != wantBare {
			t.Fatalf("CheckLineEndings(%q) = %v, want bare %q at %d", b, err, wantBare, wantAt)
		}
	})
}

// refLineEndings is the obvious loop that CheckLineEndings must agree with.
func refLineEndings(b []byte) (int, byte) {
	for i, c := range b {
		switch {
		case c == '\r' && (i+1 == len(b) || b[i+1] != '\n'):
			return i, '\r'
		case c == '\n' && (i == 0 || b[i-1] != '\r'):
			return i, '\n'
		}
	}
	return -1, 0
}
