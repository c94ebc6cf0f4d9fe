package dsn

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crlf converts LF line endings to CRLF.
func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

func TestParsePostfix(t *testing.T) {
	for _, tc := range []struct {
		file       string
		want       Parsed
		hdrPrefix  string
		hdrSuffix  string
		notInHdrOf string
	}{{
		file: "postfix-bounce.eml",
		want: Parsed{
			ReportingMTA: "mail.example.com",
			QueueID:      "4Z6sKw6PXtz9sWk",
			Recipients: []ParsedRecipient{{
				FinalRecipient:    "bob@example.net",
				OriginalRecipient: "bob@example.net",
				Action:            Failed,
				Status:            [3]int{5, 1, 1},
				RemoteMTA:         "mx1.example.net",
				Diagnostic:        "550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
			}, {
				FinalRecipient:    "carol@example.org",
				OriginalRecipient: "carol@example.org",
				Action:            Failed,
				Status:            [3]int{5, 2, 2},
				RemoteMTA:         "mx.example.org",
				Diagnostic:        "552 5.2.2 Mailbox full",
			}},
		},
		hdrPrefix:  "Return-Path: <alice@example.com>\n",
		hdrSuffix:  "Content-Transfer-Encoding: 8bit\n",
		notInHdrOf: "Revenue is up",
	}, {
		file: "postfix-delayed.eml",
		want: Parsed{
			ReportingMTA: "mail.example.com",
			QueueID:      "4Z6tB02Yvmz9sXq",
			Recipients: []ParsedRecipient{{
				FinalRecipient:    "dave@example.net",
				OriginalRecipient: "dave@example.net",
				Action:            Delayed,
				Status:            [3]int{4, 4, 1},
				Diagnostic:        "connect to mx.example.net[198.51.100.40]:25: Connection timed out",
			}},
		},
		hdrPrefix: "Return-Path: <alice@example.com>\n",
		hdrSuffix: "Subject: Réunion de jeudi\n",
	}} {
		lf := readTestdata(t, tc.file)
		for _, variant := range []struct {
			name string
			msg  []byte
		}{{"LF", lf}, {"CRLF", toCRLF(lf)}} {
			t.Run(tc.file+"/"+variant.name, func(t *testing.T) {
				p, err := Parse(variant.msg)
				if err != nil {
					t.Fatal(err)
				}
				hdr := string(bytes.ReplaceAll(p.OriginalHeaders, []byte("\r\n"), []byte("\n")))
				if !strings.HasPrefix(hdr, tc.hdrPrefix) || !strings.HasSuffix(hdr, tc.hdrSuffix) {
					t.Errorf("OriginalHeaders %q", hdr)
				}
				if tc.notInHdrOf != "" && strings.Contains(hdr, tc.notInHdrOf) {
					t.Errorf("OriginalHeaders has the body: %q", hdr)
				}
				p.OriginalHeaders = nil
				if !equalParsed(p, &tc.want) {
					t.Errorf("got  %+v\nwant %+v", *p, tc.want)
				}
			})
		}
	}
}

// report wraps a delivery-status body (LF line endings) in a minimal
// multipart/report.
func report(status string) []byte {
	return []byte("From: MAILER-DAEMON@example.net\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=XX\n\n" +
		"--XX\nContent-Type: text/plain\n\nhuman text\n" +
		"--XX\nContent-Type: message/delivery-status\n\n" + status +
		"\n--XX--\n")
}

const okStatus = "Reporting-MTA: dns; mx.example.net\n\n" +
	"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.0.0\n"

func TestParseTolerant(t *testing.T) {
	base64Part := []byte("From: x@example.net\r\n" +
		"Content-Type: Multipart/Report; boundary=\"b b\"; Report-Type=Delivery-Status\r\n\r\n" +
		"--b b\r\nContent-Type: Message/Delivery-Status\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" +
		wrap76(base64.StdEncoding.EncodeToString([]byte(okStatus))) +
		"\r\n--b b\r\nContent-Type: text/rfc822-headers; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Subject: caf=C3=A9 =\r\nna=C3=AFve\r\n\r\n--b b--\r\n")
	for _, tc := range []struct {
		name string
		msg  []byte
		want ParsedRecipient
		hdr  string
	}{
		{"minimal", report(okStatus), ParsedRecipient{FinalRecipient: "a@example.com", Action: Failed, Status: [3]int{5, 0, 0}}, ""},
		{"case and folding", report("reporting-mta: DNS;mx.example.net\n\n" +
			"FINAL-RECIPIENT:RFC822;\n   a@example.com\naction:   FAILED  \nSTATUS : 5.1.1 (bad mailbox)\n" +
			"remote-mta: dns;\n\tmx.example.com\ndiagnostic-code: SMTP; 550 5.1.1\n\t  no\n  such    user  \n"),
			ParsedRecipient{FinalRecipient: "a@example.com", Action: Failed, Status: [3]int{5, 1, 1},
				RemoteMTA: "mx.example.com", Diagnostic: "550 5.1.1 no such    user"}, ""},
		{"no per-message group", report("Final-Recipient: rfc822; <a@example.com>\nAction: delayed\nStatus: 4.4.7\n"),
			ParsedRecipient{FinalRecipient: "a@example.com", Action: Delayed, Status: [3]int{4, 4, 7}}, ""},
		{"utf-8 address", report("Reporting-MTA: dns; mx.example.net\n\nOriginal-Recipient: utf-8; jos\\x{e9}+1@example.com\n" +
			"Final-Recipient: UTF-8; jos\\x{E9}@example.com\nAction: relayed\nStatus: 2.0.0\n"),
			ParsedRecipient{FinalRecipient: "josé@example.com", OriginalRecipient: "josé+1@example.com",
				Action: Relayed, Status: [3]int{2, 0, 0}}, ""},
		{"untyped values", report("Reporting-MTA: mx.example.net\n\nFinal-Recipient: a@example.com\nAction: expanded\nStatus: 2.1.5\n" +
			"Diagnostic-Code: 250 ok; queued as 12\n"),
			ParsedRecipient{FinalRecipient: "a@example.com", Action: Expanded, Status: [3]int{2, 1, 5},
				Diagnostic: "250 ok; queued as 12"}, ""},
		{"controls and bad UTF-8", report("Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; a\x00b\xff@example.com\n" +
			"Action: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 550 \x1b[31mred\r\n"),
			ParsedRecipient{FinalRecipient: "a b\uFFFD@example.com", Action: Failed, Status: [3]int{5, 0, 0},
				Diagnostic: "550  [31mred"}, ""},
		{"trailing blank lines and extra fields", report("\n\n" + okStatus + "X-Unknown: 1\n\n\n"),
			ParsedRecipient{FinalRecipient: "a@example.com", Action: Failed, Status: [3]int{5, 0, 0}}, ""},
		{"base64 and quoted-printable", base64Part,
			ParsedRecipient{FinalRecipient: "a@example.com", Action: Failed, Status: [3]int{5, 0, 0}},
			"Subject: café naïve\r\n"},
		{"no closing boundary", bytes.TrimSuffix(report(okStatus), []byte("\n--XX--\n")),
			ParsedRecipient{FinalRecipient: "a@example.com", Action: Failed, Status: [3]int{5, 0, 0}}, ""},
		{"cut-off returned message", append(bytes.TrimSuffix(report(okStatus), []byte("--XX--\n")),
			"--XX\nContent-Type: message/rfc822\n\nSubject: s\nTo: t\n\nbody cut sh"...),
			ParsedRecipient{FinalRecipient: "a@example.com", Action: Failed, Status: [3]int{5, 0, 0}},
			"Subject: s\nTo: t\n"},
		{"delivery-status last, headers first", []byte("Content-Type: multipart/report; boundary=XX\n\n--XX\n" +
			"Content-Type: text/rfc822-headers\n\nSubject: first\n\n--XX\nContent-Type: message/rfc822\n\nSubject: second\n\n" +
			"--XX\nContent-Type: message/delivery-status\n\n" + okStatus + "\n--XX--\n"),
			ParsedRecipient{FinalRecipient: "a@example.com", Action: Failed, Status: [3]int{5, 0, 0}},
			"Subject: first\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Recipients) != 1 || p.Recipients[0] != tc.want {
				t.Errorf("recipients %+v\nwant %+v", p.Recipients, tc.want)
			}
			if string(p.OriginalHeaders) != tc.hdr || (tc.hdr == "") != (p.OriginalHeaders == nil) {
				t.Errorf("OriginalHeaders %q, want %q", p.OriginalHeaders, tc.hdr)
			}
		})
	}
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + " \r\n")
		s = s[76:]
	}
	return b.String() + s + "\r\n"
}

func TestParseErrors(t *testing.T) {
	many := func(n int) string {
		var b strings.Builder
		b.WriteString("Reporting-MTA: dns; x\n")
		for i := range n {
			fmt.Fprintf(&b, "\nFinal-Recipient: rfc822; r%d@example.com\nAction: failed\nStatus: 5.0.0\n", i)
		}
		return b.String()
	}
	var manyParts strings.Builder
	manyParts.WriteString("Content-Type: multipart/report; boundary=XX\n\n")
	for range MaxParts + 1 {
		manyParts.WriteString("--XX\nContent-Type: text/plain\n\nx\n")
	}
	manyParts.WriteString("--XX--\n")

	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"plain text", []byte("Subject: hi\n\nhello\n"), ErrNotReport},
		{"multipart/mixed", bytes.Replace(report(okStatus), []byte("multipart/report"), []byte("multipart/mixed"), 1), ErrNotReport},
		{"MDN", bytes.Replace(report(okStatus), []byte("report-type=delivery-status"), []byte("report-type=disposition-notification"), 1), ErrNotReport},
		{"bad Content-Type", []byte("Content-Type: multipart/report; boundary\n\n"), ErrNotReport},
		{"no boundary", []byte("Content-Type: multipart/report\n\n--XX--\n"), ErrMalformed},
		{"bad header", []byte("not a header\n\n"), ErrMalformed},
		{"no delivery-status", bytes.Replace(report(okStatus), []byte("message/delivery-status"), []byte("text/plain"), 1), ErrNoDeliveryStatus},
		{"bad MIME", []byte("Content-Type: multipart/report; boundary=XX\n\n--XX\ngarbage header\n\n--XX--\n"), ErrMalformed},
		{"never a part", []byte("Content-Type: multipart/report; boundary=XX\n\nno parts\n"), ErrMalformed},
		{"status 5.1", report(strings.Replace(okStatus, "5.0.0", "5.1", 1)), ErrMalformed},
		{"status 6.0.0", report(strings.Replace(okStatus, "5.0.0", "6.0.0", 1)), ErrMalformed},
		{"status 5.1.1000", report(strings.Replace(okStatus, "5.0.0", "5.1.1000", 1)), ErrMalformed},
		{"status 05.1.1", report(strings.Replace(okStatus, "5.0.0", "05.1.1", 1)), ErrMalformed},
		{"status x.y.z", report(strings.Replace(okStatus, "5.0.0", "x.y.z", 1)), ErrMalformed},
		{"status 5..1", report(strings.Replace(okStatus, "5.0.0", "5..1", 1)), ErrMalformed},
		{"status +5.1.1", report(strings.Replace(okStatus, "5.0.0", "+5.1.1", 1)), ErrMalformed},
		{"no status", report(strings.Replace(okStatus, "Status: 5.0.0\n", "", 1)), ErrMalformed},
		{"no action", report(strings.Replace(okStatus, "Action: failed\n", "", 1)), ErrMalformed},
		{"unknown action", report(strings.Replace(okStatus, "failed", "bounced", 1)), ErrMalformed},
		{"no Final-Recipient", report(strings.Replace(okStatus, "Final-Recipient", "Original-Recipient", 1)), ErrMalformed},
		{"no recipients", report("Reporting-MTA: dns; x\n"), ErrMalformed},
		{"empty delivery-status", report(""), ErrMalformed},
		{"continuation of nothing", report(" folded\n" + okStatus), ErrMalformed},
		{"line without colon", report(okStatus + "garbage\n"), ErrMalformed},
		{"empty field name", report(okStatus + ": x\n"), ErrMalformed},
		{"1000 recipients is fine", report(many(MaxRecipients)), nil},
		{"1001 recipients", report(many(MaxRecipients + 1)), ErrTooLarge},
		{"1001 recipients, no per-message group", report(strings.TrimPrefix(many(MaxRecipients+1), "Reporting-MTA: dns; x\n\n")), ErrTooLarge},
		{"delivery-status over 1 MiB", report(okStatus + "X-Pad: " + strings.Repeat("x", MaxPartSize) + "\n"), ErrTooLarge},
		{"headers over 1 MiB", append(bytes.TrimSuffix(report(okStatus), []byte("--XX--\n")),
			"--XX\nContent-Type: text/rfc822-headers\n\nX-Pad: "+strings.Repeat("x", MaxPartSize)+"\n--XX--\n"...), ErrTooLarge},
		{"too many parts", []byte(manyParts.String()), ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.msg)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || p != nil {
				t.Fatalf("Parse: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestParseReturnedMessageLarge: a returned message/rfc822 over
// MaxPartSize is no error; its header section is still returned.
func TestParseReturnedMessageLarge(t *testing.T) {
	msg := append(bytes.TrimSuffix(report(okStatus), []byte("--XX--\n")),
		"--XX\nContent-Type: message/rfc822\n\nSubject: big\n\n"+strings.Repeat("body line\n", MaxPartSize/5)+"--XX--\n"...)
	p, err := Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.OriginalHeaders) != "Subject: big\n" {
		t.Errorf("OriginalHeaders %q", p.OriginalHeaders)
	}
}

// TestParseErrorsDoNotEcho: error text never quotes the message.
func TestParseErrorsDoNotEcho(t *testing.T) {
	const marker = "SECRET-MARKER"
	for _, msg := range []string{
		marker + "\n\n",
		"Content-Type: multipart/report; boundary=XX\n\n--XX\n" + marker + "\n\n--XX--\n",
		"Content-Type: " + marker + "\n\n",
		string(report(okStatus + marker + "\n")),
		string(report(strings.Replace(okStatus, "5.0.0", marker, 1))),
		string(report(strings.Replace(okStatus, "failed", marker, 1))),
	} {
		_, err := Parse([]byte(msg))
		if err == nil || strings.Contains(err.Error(), marker) {
			t.Errorf("Parse(%.40q) = %v", msg, err)
		}
	}
}

func TestParseStatusCode(t *testing.T) {
	for in, want := range map[string][3]int{
		"2.0.0": {2, 0, 0}, "4.4.1": {4, 4, 1}, "5.7.26": {5, 7, 26}, "5.999.999": {5, 999, 999}, "5.01.001": {5, 1, 1},
	} {
		if got, ok := parseStatusCode(in); !ok || got != want {
			t.Errorf("parseStatusCode(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "5", "5.1", "5.1.1.1", "1.0.0", "3.0.0", "55.1.1", "5.1000.1", "5.-1.1", "5. 1.1", "5.a.1"} {
		if _, ok := parseStatusCode(in); ok {
			t.Errorf("parseStatusCode(%q) ok", in)
		}
	}
	if !slices.Equal([]string{firstWord(" 5.1.1 (x)"), firstWord("failed;x"), firstWord("")}, []string{"5.1.1", "failed", ""}) {
		t.Error("firstWord")
	}
}

func TestAboutAddress(t *testing.T) {
	for status, want := range map[[3]int]bool{
		{5, 1, 1}: true, {5, 1, 10}: true, {5, 2, 1}: true,
		{5, 2, 2}: false, // mailbox full: about now, not the address
		{5, 7, 1}: false, {5, 0, 0}: false, {4, 1, 1}: false, {2, 0, 0}: false,
	} {
		if got := AboutAddress(status); got != want {
			t.Errorf("AboutAddress(%v) = %v, want %v", status, got, want)
		}
	}
}
