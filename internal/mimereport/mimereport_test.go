package mimereport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  string
		want error
	}{
		{"report", "Content-Type: multipart/report; report-type=Feedback-Report; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n", nil},
		{"no header section", "no colon here", ErrHeader},
		{"plain text", "Subject: hi\r\n\r\nhello\r\n", ErrNotReport},
		{"multipart/mixed", "Content-Type: multipart/mixed; boundary=b\r\n\r\n", ErrNotReport},
		{"bad media type", "Content-Type: multipart/report; ;;\r\n\r\n", ErrNotReport},
		{"no boundary", "Content-Type: multipart/report; report-type=delivery-status\r\n\r\n", ErrBoundary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params, mr, err := Open([]byte(tc.msg))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			if err != nil {
				if params != nil || mr != nil {
					t.Error("results with an error")
				}
				return
			}
			if params["report-type"] != "Feedback-Report" || mr == nil {
				t.Errorf("params %v", params)
			}
		})
	}
}

// parts opens msg and returns its parts' types and bodies read with limit.
func parts(t *testing.T, msg string, limit int) (types []string, bodies []string, errs []error) {
	t.Helper()
	_, mr, err := Open([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := ReadPart(p, limit)
		types, bodies, errs = append(types, PartType(p)), append(bodies, string(b)), append(errs, err)
	}
}

func TestReadPart(t *testing.T) {
	msg := "Content-Type: multipart/report; boundary=b\n\n" +
		"--b\n\nno type\n" +
		"--b\nContent-Type: Message/Delivery-Status; charset=x\nContent-Transfer-Encoding: BASE64\n\naGVs bG8g\n\td29y bGQ=\n" +
		"--b\nContent-Type: text/rfc822-headers\nContent-Transfer-Encoding: quoted-printable\n\nSubject: caf=C3=A9=\n au lait\n" +
		"--b\nContent-Type: ;;bad\n\nx\n" +
		"--b\nContent-Type: text/plain\n\n0123456789abcdef\n" +
		"--b--\n"
	types, bodies, errs := parts(t, msg, 10)
	wantTypes := []string{"text/plain", "message/delivery-status", "text/rfc822-headers", "", "text/plain"}
	wantBodies := []string{"no type", "hello world", "Subject: ca", "x", "0123456789a"} // limit+1 octets of a longer part
	for i := range wantTypes {
		if types[i] != wantTypes[i] || bodies[i] != wantBodies[i] {
			t.Errorf("part %d: %q %q, want %q %q", i, types[i], bodies[i], wantTypes[i], wantBodies[i])
		}
	}
	if errs[0] != nil || !errors.Is(errs[1], ErrTooLarge) || !errors.Is(errs[4], ErrTooLarge) {
		t.Errorf("errors %v", errs)
	}
	_, bodies, errs = parts(t, msg, 1000)
	if bodies[1] != "hello world" || bodies[2] != "Subject: café au lait" || errs[1] != nil || errs[2] != nil {
		t.Errorf("decoded %q, %q (%v)", bodies[1], bodies[2], errs)
	}

	// Cut short: what was read, and the error.
	_, mr, _ := Open([]byte("Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\n\r\nhalf a par"))
	p, err := mr.NextRawPart()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadPart(p, 1000)
	if string(b) != "half a par" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut short: %q, %v", b, err)
	}
}

func TestHeaderSection(t *testing.T) {
	for _, tc := range []struct {
		in, hdr  string
		complete bool
	}{
		{"A: 1\r\nB: 2\r\n\r\nbody", "A: 1\r\nB: 2\r\n", true},
		{"A: 1\nB: 2\n\nbody\n\nmore", "A: 1\nB: 2\n", true},
		{"\r\nbody", "", true},
		{"A: 1\r\n", "A: 1\r\n", false},
		{"A: 1", "A: 1", false},
		{"A: 1\r\n \r\nB: 2", "A: 1\r\n \r\nB: 2", false}, // a space is not an empty line
		{"", "", false},
	} {
		hdr, complete := HeaderSection([]byte(tc.in))
		if string(hdr) != tc.hdr || complete != tc.complete {
			t.Errorf("HeaderSection(%q) = %q, %v", tc.in, hdr, complete)
		}
	}
}

// FuzzReport: Open and ReadPart on anything keep their limits, and
// HeaderSection returns a prefix of its input.
func FuzzReport(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		hdr, complete := HeaderSection(msg)
		if !bytes.HasPrefix(msg, hdr) {
			t.Fatal("header section is not a prefix")
		}
		if rest := msg[len(hdr):]; complete != (bytes.HasPrefix(rest, []byte("\n")) || bytes.HasPrefix(rest, []byte("\r\n"))) {
			t.Fatalf("complete %v before %q", complete, rest[:min(len(rest), 4)])
		}
		_, mr, err := Open(msg)
		if err != nil {
			if !errors.Is(err, ErrHeader) && !errors.Is(err, ErrNotReport) && !errors.Is(err, ErrBoundary) {
				t.Fatalf("error %v", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error text %q", err)
			}
			return
		}
		const limit = 64
		for range 10 {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			b, err := ReadPart(p, limit)
			if len(b) > limit+1 || errors.Is(err, ErrTooLarge) != (len(b) > limit) {
				t.Fatalf("%d octets, %v", len(b), err)
			}
			PartType(p)
		}
	})
}
