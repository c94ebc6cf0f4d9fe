package arf

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// toCRLF converts LF line endings to CRLF, as a report arrives over SMTP.
func toCRLF(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

func TestParseRealWorldShapes(t *testing.T) {
	for _, tc := range []struct {
		file      string
		want      Report // OriginalHeader checked apart
		hdrPrefix string
		hdrSuffix string
		senders   []string
	}{{
		// RFC 5965 Appendix B.1: the required fields only.
		file:      "rfc5965-b1.eml",
		want:      Report{FeedbackType: Abuse, UserAgent: "SomeGenerator/1.0", Version: "1"},
		hdrPrefix: "Received: from mailserver.example.net\n",
		hdrSuffix: "Date: Thu, 02 Sep 2004 12:31:03 -0500\n",
	}, {
		// RFC 5965 Appendix B.2, as published: its returned message has
		// an empty line after Received, so its header section ends there.
		file: "rfc5965-b2.eml",
		want: Report{
			FeedbackType: Abuse, UserAgent: "SomeGenerator/1.0", Version: "1",
			OriginalMailFrom:      "somespammer@example.net",
			OriginalRcptTo:        []string{"user@example.com"},
			ArrivalDate:           mustDate(t, "Thu, 8 Mar 2005 14:00:00 EDT"),
			ReportingMTA:          "mail.example.com",
			SourceIP:              netip.MustParseAddr("192.0.2.1"),
			AuthenticationResults: []string{"mail.example.com; spf=fail smtp.mail=somespammer@example.com"},
			ReportedDomains:       []string{"example.net"},
			ReportedURIs:          []string{"http://example.net/earn_money.html", "mailto:user@example.com"},
		},
		hdrPrefix: "From: <somespammer@example.net>\n",
		hdrSuffix: "Thu, 08 Mar 2005 14:00:00 -0400\n",
		senders:   []string{"somespammer@example.net"},
	}, {
		// Yahoo's complaint feedback loop: the draft's Version 0.1, the
		// historic Received-Date, the recipient redacted.
		file: "yahoo-cfl.eml",
		want: Report{
			FeedbackType: Abuse, UserAgent: "Yahoo!-Mail-Feedback/2.0", Version: "0.1",
			OriginalMailFrom:      "b-0g2r4t6v8a0c2e4g6i8k0m2o4q-1-494148-abcdefghijklmnop@pst-bounces.shop.example",
			OriginalRcptTo:        []string{"redacted@yahoo.example"},
			ArrivalDate:           mustDate(t, "Tue, 01 Dec 2026 08:59:02 +0000"),
			AuthenticationResults: []string{"mta4322.mail.ir2.yahoo.com  from=shop.example; domainkeys=neutral (no sig);  from=shop.example; dkim=pass (ok)"},
			ReturnPaths:           []string{"b-0g2r4t6v8a0c2e4g6i8k0m2o4q-1-494148-abcdefghijklmnop@pst-bounces.shop.example"},
			MessageID:             "<20261201085859.4q2@shop.example>",
		},
		hdrPrefix: "Return-Path: <b-0g2r4t6v8a0c2e4g6i8k0m2o4q-1-494148-abcdefghijklmnop@pst-bounces.shop.example>\n",
		hdrSuffix: "Content-Type: text/plain; charset=utf-8\n",
		senders:   []string{"b-0g2r4t6v8a0c2e4g6i8k0m2o4q-1-494148-abcdefghijklmnop@pst-bounces.shop.example"},
	}, {
		// A Microsoft-style report: recipient redacted everywhere, the
		// reported message base64-encoded, the explanation
		// quoted-printable.
		file: "microsoft-jmrp.eml",
		want: Report{
			FeedbackType: Abuse, UserAgent: "Hotmail FBL", Version: "1",
			OriginalMailFrom: "news@shop.example",
			ArrivalDate:      mustDate(t, "Tue, 01 Dec 2026 09:58:00 -0800"),
			ReportingMTA:     "mail.hotmail.example",
			SourceIP:         netip.MustParseAddr("198.51.100.25"),
			Incidents:        1,
			ReportedDomains:  []string{"shop.example"},
			ReturnPaths:      []string{"b-0g2r4t6v8a0c2e4g6i8k0m2o4q-2-494148-qrstuvwxyz234567a@pst-bounces.shop.example"},
			MessageID:        "<cyber-2026@shop.example>",
		},
		hdrPrefix: "Return-Path: <b-0g2r4t6v8a0c2e4g6i8k0m2o4q-2-494148-",
		hdrSuffix: "Message-ID: <cyber-2026@shop.example>\r\n", // CRLF inside base64 either way
		senders:   []string{"b-0g2r4t6v8a0c2e4g6i8k0m2o4q-2-494148-qrstuvwxyz234567a@pst-bounces.shop.example", "news@shop.example"},
	}, {
		// Letter case, comments, folding, an IPv6 literal, extension
		// fields, text/rfc822-headers with two Return-Path fields, and a
		// fourth part.
		file: "headers-only.eml",
		want: Report{
			FeedbackType: Fraud, UserAgent: "ISP-FBL/3.1 (build 42)", Version: "1",
			OriginalEnvelopeID: "01JNQ7",
			OriginalMailFrom:   "news@shop.example",
			OriginalRcptTo:     []string{"alice@isp.example", "bob@isp.example"},
			ArrivalDate:        mustDate(t, "Tue, 01 Dec 2026 09:58:00 +0000"),
			ReportingMTA:       "fbl.isp.example",
			SourceIP:           netip.MustParseAddr("2001:db8::25"),
			Incidents:          3,
			ReturnPaths:        []string{"bounce@shop.example", "b-0g2r4t6v8a0c2e4g6i8k0m2o4q-0-494148-aaaaaaaaaaaaaaaa@pst-bounces.shop.example"},
			MessageID:          "<verify-1@shop.example>",
		},
		hdrPrefix: "Return-Path: <bounce@shop.example>\n",
		hdrSuffix: "Message-ID: <verify-1@shop.example>\n",
		senders:   []string{"bounce@shop.example", "b-0g2r4t6v8a0c2e4g6i8k0m2o4q-0-494148-aaaaaaaaaaaaaaaa@pst-bounces.shop.example", "news@shop.example"},
	}} {
		lf := readTestdata(t, tc.file)
		for _, variant := range []struct {
			name string
			msg  []byte
		}{{"LF", lf}, {"CRLF", toCRLF(lf)}} {
			t.Run(tc.file+"/"+variant.name, func(t *testing.T) {
				r, err := Parse(variant.msg)
				if err != nil {
					t.Fatal(err)
				}
				hdr := string(r.OriginalHeader)
				prefix, suffix := tc.hdrPrefix, tc.hdrSuffix
				if variant.name == "CRLF" {
					prefix, suffix = string(toCRLF([]byte(prefix))), string(toCRLF([]byte(suffix)))
				}
				if !strings.HasPrefix(hdr, prefix) || !strings.HasSuffix(hdr, suffix) {
					t.Errorf("OriginalHeader = %q", hdr)
				}
				if strings.Contains(hdr, "Spam Spam") || strings.Contains(hdr, "invoice is attached") || strings.Contains(hdr, "Deals!") {
					t.Errorf("OriginalHeader holds the body: %q", hdr)
				}
				got := *r
				got.OriginalHeader = nil
				if !got.ArrivalDate.Equal(tc.want.ArrivalDate) {
					t.Errorf("ArrivalDate = %v, want %v", got.ArrivalDate, tc.want.ArrivalDate)
				}
				got.ArrivalDate = tc.want.ArrivalDate
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("Parse:\n got %+v\nwant %+v", got, tc.want)
				}
				if s := r.Senders(); !reflect.DeepEqual(s, tc.senders) {
					t.Errorf("Senders = %q, want %q", s, tc.senders)
				}
				if !r.FeedbackType.Complaint() {
					t.Errorf("%s is not a complaint", r.FeedbackType)
				}
			})
		}
	}
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := mail.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestComplaint(t *testing.T) {
	for typ, want := range map[FeedbackType]bool{
		Abuse: true, Fraud: true, Virus: true, Other: true, "x-unknown": true,
		NotSpam: false, AuthFailure: false,
	} {
		if got := typ.Complaint(); got != want {
			t.Errorf("%s.Complaint() = %v", typ, got)
		}
	}
}

// report builds a feedback report from its parts' raw text: the
// top-level Content-Type, then each part as "Content-Type: …\n\nbody".
func report(contentType string, parts ...string) []byte {
	var b strings.Builder
	b.WriteString("From: fbl@isp.example\r\nMIME-Version: 1.0\r\nContent-Type: " + contentType + "\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--B\r\n" + strings.ReplaceAll(p, "\n", "\r\n") + "\r\n")
	}
	b.WriteString("--B--\r\n")
	return []byte(b.String())
}

const (
	topType  = `multipart/report; report-type=feedback-report; boundary="B"`
	text     = "Content-Type: text/plain\n\nA user complained."
	fields   = "Feedback-Type: abuse\nUser-Agent: Test/1\nVersion: 1\n"
	original = "Content-Type: message/rfc822\n\nReturn-Path: <b@pst-bounces.shop.example>\nMessage-ID: <m@shop.example>\nSubject: hi\n\nbody"
)

func fb(extra string) string { return "Content-Type: message/feedback-report\n\n" + fields + extra }

// The marker must never show in an error text: errors quote no message
// bytes.
const marker = "SECRET-MARKER"

func TestParseRefusals(t *testing.T) {
	many := func(field string, n int) string {
		return strings.Repeat(field+": x"+marker+"@isp.example\n", n)
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		want error
	}{
		{"plain message", []byte("From: a@b.example\r\nSubject: " + marker + "\r\n\r\nhello\r\n"), ErrNotReport},
		{"no header section", []byte(marker), ErrMalformed},
		{"a DSN", report(`multipart/report; report-type=delivery-status; boundary="B"`, text, fb(""), original), ErrNotReport},
		{"no report-type", report(`multipart/report; boundary="B"`, text, fb(""), original), ErrNotReport},
		{"multipart/mixed", report(`multipart/mixed; report-type=feedback-report; boundary="B"`, text, fb(""), original), ErrNotReport},
		{"no boundary", report(`multipart/report; report-type=feedback-report`, text, fb(""), original), ErrMalformed},
		{"feedback-report first", report(topType, fb(""), original), ErrMalformed},
		{"second part not the report", report(topType, text, text, original), ErrMalformed},
		{"no second part", report(topType, text), ErrMalformed},
		{"no third part", report(topType, text, fb("")), ErrMalformed},
		{"third part of another type", report(topType, text, fb(""), text), ErrMalformed},
		{"no Feedback-Type", report(topType, text, "Content-Type: message/feedback-report\n\nUser-Agent: T/1\nVersion: 1\n", original), ErrMalformed},
		{"no User-Agent", report(topType, text, "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n", original), ErrMalformed},
		{"no Version", report(topType, text, "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: T/1\n", original), ErrMalformed},
		{"Feedback-Type twice", report(topType, text, fb("Feedback-Type: not-spam\n"), original), ErrMalformed},
		{"Original-Mail-From twice", report(topType, text, fb("Original-Mail-From: <a@b.example>\nOriginal-Mail-From: <c@d.example>\n"), original), ErrMalformed},
		{"Feedback-Type not a token", report(topType, text, "Content-Type: message/feedback-report\n\nFeedback-Type: ab/use"+marker+"\nUser-Agent: T/1\nVersion: 1\n", original), ErrMalformed},
		{"bad Version", report(topType, text, "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: T/1\nVersion: one"+marker+"\n", original), ErrMalformed},
		{"empty User-Agent", report(topType, text, "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent:\nVersion: 1\n", original), ErrMalformed},
		{"bad Source-IP", report(topType, text, fb("Source-IP: 192.0.2."+marker+"\n"), original), ErrMalformed},
		{"bad Arrival-Date", report(topType, text, fb("Arrival-Date: yesterday "+marker+"\n"), original), ErrMalformed},
		{"bad Received-Date", report(topType, text, fb("Received-Date: yesterday "+marker+"\n"), original), ErrMalformed},
		{"bad Incidents", report(topType, text, fb("Incidents: -1"+marker+"\n"), original), ErrMalformed},
		{"bad Original-Mail-From", report(topType, text, fb("Original-Mail-From: <no at sign "+marker+">\n"), original), ErrMalformed},
		{"Original-Mail-From with text after", report(topType, text, fb("Original-Mail-From: <a@b.example> "+marker+"\n"), original), ErrMalformed},
		{"null Original-Rcpt-To", report(topType, text, fb("Original-Rcpt-To: <>\n"), original), ErrMalformed},
		{"empty Reporting-MTA", report(topType, text, fb("Reporting-MTA: dns;\n"), original), ErrMalformed},
		{"a line that is not a field", report(topType, text, fb(marker+" no colon\n"), original), ErrMalformed},
		{"continuation of nothing", report(topType, text, "Content-Type: message/feedback-report\n\n  "+marker+"\n"+fields, original), ErrMalformed},
		{"text after the fields", report(topType, text, fb("\nFeedback-Type: "+marker+"\n"), original), ErrMalformed},
		{"too many fields", report(topType, text, fb(strings.Repeat("X-Ext: 1\n", MaxFields)), original), ErrTooLarge},
		{"a field too long", report(topType, text, fb("X-Ext: "+strings.Repeat("y", MaxFieldLen+1)+"\n"), original), ErrTooLarge},
		{"a folded field too long", report(topType, text, fb("X-Ext: y\n"+strings.Repeat(" "+strings.Repeat("y", 70)+"\n", MaxFieldLen/70+1)), original), ErrTooLarge},
		{"too many Original-Rcpt-To", report(topType, text, fb(many("Original-Rcpt-To", MaxRepeated+1)), original), ErrTooLarge},
		{"feedback-report part too large", report(topType, text, fb(strings.Repeat("X-Ext: "+strings.Repeat("z", 1000)+"\n", MaxReportSize/1000+1)), original), ErrTooLarge},
		{"original header too large", report(topType, text, fb(""),
			"Content-Type: message/rfc822\n\n"+strings.Repeat("X-Long: "+strings.Repeat("h", 990)+"\n", MaxOriginalHeader/1000+1)+"\nbody"), ErrTooLarge},
		{"header part too large", report(topType, text, fb(""),
			"Content-Type: text/rfc822-headers\n\n"+strings.Repeat("X-Long: "+strings.Repeat("h", 990)+"\n", MaxOriginalHeader/1000+1)), ErrTooLarge},
		{"cut short in the report", []byte(strings.TrimSuffix(string(report(topType, text, fb(""), original)), "--B--\r\n")[:200]), ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(tc.msg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %+v, %v; want %v", r, err, tc.want)
			}
			if r != nil {
				t.Error("a Report with an error")
			}
			if strings.Contains(err.Error(), marker) || strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error text %q quotes the message", err)
			}
		})
	}
}

func TestParseLimitsInclusive(t *testing.T) {
	// At each limit, not over it, the report parses.
	msg := report(topType, text, fb(strings.Repeat("Original-Rcpt-To: <u@isp.example>\n", MaxRepeated)+
		strings.Repeat("X-Ext: 1\n", MaxFields-3-MaxRepeated)), original)
	r, err := Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.OriginalRcptTo) != MaxRepeated {
		t.Errorf("%d Original-Rcpt-To", len(r.OriginalRcptTo))
	}
	long := report(topType, text, fb("X-Ext: "+strings.Repeat("y", MaxFieldLen)+"\n"), original)
	if _, err := Parse(long); err != nil {
		t.Errorf("a field of MaxFieldLen: %v", err)
	}
}

// The body of the reported message is never read past its header
// section: a large attachment does not make the report too large, and a
// message cut short after its header section still gives it.
func TestParseOriginal(t *testing.T) {
	big := report(topType, text, fb(""), original+strings.Repeat("attachment line\n", 2*MaxOriginalHeader/16))
	r, err := Parse(big)
	if err != nil {
		t.Fatal(err)
	}
	if r.MessageID != "<m@shop.example>" || !reflect.DeepEqual(r.ReturnPaths, []string{"b@pst-bounces.shop.example"}) {
		t.Errorf("from a large original: %q, %q", r.MessageID, r.ReturnPaths)
	}
	if bytes.Contains(r.OriginalHeader, []byte("attachment")) {
		t.Error("the body was kept")
	}

	cut := report(topType, text, fb(""), original)
	cut = cut[:bytes.Index(cut, []byte("body"))+2]
	r, err = Parse(cut)
	if err != nil {
		t.Fatalf("cut short in the body: %v", err)
	}
	if r.MessageID != "<m@shop.example>" {
		t.Errorf("cut short: %+v", r)
	}
	cut = cut[:bytes.Index(cut, []byte("Subject"))]
	if _, err := Parse(cut); !errors.Is(err, ErrMalformed) {
		t.Errorf("cut short in the header section: %v", err)
	}

	// Two Message-ID fields name no message; more than MaxReturnPaths
	// Return-Path fields are not all read; the null path is left out; a
	// malformed line in the original is skipped, not an error.
	var hdr strings.Builder
	hdr.WriteString("Content-Type: message/rfc822\n\nReturn-Path: <>\n" + marker + " not a field\n")
	for i := range MaxReturnPaths + 2 {
		fmt.Fprintf(&hdr, "Return-Path: <rp%d@shop.example>\n", i)
	}
	hdr.WriteString("Message-ID: <a@x>\nMessage-ID: <b@x>\n\nbody")
	r, err = Parse(report(topType, text, fb(""), hdr.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ReturnPaths) != MaxReturnPaths || r.ReturnPaths[0] != "rp0@shop.example" || r.MessageID != "" {
		t.Errorf("ReturnPaths %q, MessageID %q", r.ReturnPaths, r.MessageID)
	}
}

func TestParseNotSpam(t *testing.T) {
	r, err := Parse(report(topType, text, "Content-Type: message/feedback-report\n\nFeedback-Type: NOT-SPAM\nUser-Agent: T/1\nVersion: 1\n", original))
	if err != nil {
		t.Fatal(err)
	}
	if r.FeedbackType != NotSpam || r.FeedbackType.Complaint() {
		t.Errorf("FeedbackType %q", r.FeedbackType)
	}
}

func TestSendersDistinct(t *testing.T) {
	r := Report{ReturnPaths: []string{"A@x.example", "a@X.example", "b@x.example"}, OriginalMailFrom: "B@x.example"}
	if got := r.Senders(); !reflect.DeepEqual(got, []string{"A@x.example", "b@x.example"}) {
		t.Errorf("Senders = %q", got)
	}
	if got := (&Report{}).Senders(); got != nil {
		t.Errorf("Senders of nothing = %q", got)
	}
}
