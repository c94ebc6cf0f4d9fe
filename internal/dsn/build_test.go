package dsn

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/message"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var testNow = time.Date(2025, 3, 4, 10, 15, 32, 0, time.UTC)

// countingRand yields 0, 1, 2, … : a fixed, non-repeating Rand.
type countingRand struct{ n byte }

func (c *countingRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

// zeroRand yields zeros: every Build draws the same boundary.
type zeroRand struct{}

func (zeroRand) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type failRand struct{}

func (failRand) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

const testOriginal = "Received: from [192.0.2.10] by mail.example.com\r\n" +
	"\twith ESMTPSA id 01JNQ7; Tue, 04 Mar 2025 09:15:32 +0000\r\n" +
	"From: Alice <alice@example.com>\r\n" +
	"To: bob@example.net, carol@example.org\r\n" +
	"Subject: Quarterly report\r\n" +
	"Message-ID: <q1-report@example.com>\r\n" +
	"\r\n" +
	"The body, which must never come back.\r\n"

func failedReport() Report {
	return Report{
		ReportingMTA: "mail.example.com",
		QueueID:      "01JNQ7",
		ArrivalDate:  testNow.Add(-time.Hour),
		Sender:       "alice@example.com",
		Recipients: []Recipient{{
			Address:     "bob@example.net",
			Action:      Failed,
			Status:      [3]int{5, 1, 1},
			RemoteMTA:   "mx.example.net",
			Diagnostic:  "550 5.1.1 no such user",
			LastAttempt: testNow,
		}},
		Original: []byte(testOriginal),
		Now:      testNow,
		Rand:     &countingRand{},
	}
}

func mixedReport() Report {
	r := failedReport()
	r.Recipients = append(r.Recipients,
		Recipient{
			Address:           "carol@example.org",
			OriginalRecipient: "Carol.Smith@example.org",
			Action:            Delayed,
			Status:            [3]int{4, 4, 1},
			RemoteMTA:         "dns; mx2.example.org",
			Diagnostic:        "connection refused by 203.0.113.7:25",
			LastAttempt:       testNow,
			WillRetryUntil:    testNow.Add(96 * time.Hour),
		},
		Recipient{
			Address:    "dave@example.com",
			Action:     Failed,
			Status:     [3]int{5, 7, 1},
			RemoteMTA:  "mx.example.com",
			Diagnostic: "550-5.7.1 Message rejected\r\n550-5.7.1 by policy; see\n550 5.7.1 https://example.com/policy",
		},
	)
	return r
}

func delayedReport() Report {
	r := failedReport()
	r.Recipients = []Recipient{
		{Address: "erin@example.net", Action: Delayed, Status: [3]int{4, 2, 2}, RemoteMTA: "mx.example.net",
			Diagnostic: "452 4.2.2 mailbox full", LastAttempt: testNow, WillRetryUntil: testNow.Add(120 * time.Hour)},
		{Address: "frank@example.net", Action: Delayed, Diagnostic: "451 4.7.1 greylisted, try again later",
			LastAttempt: testNow, WillRetryUntil: testNow.Add(120 * time.Hour)},
	}
	return r
}

// mimeParts parses a built DSN with net/mail and mime/multipart, the way
// a mail client would, and returns its header and its parts, decoded.
type mimePart struct {
	header textproto.MIMEHeader
	body   []byte // transfer-decoded
	raw    []byte
}

func mimeParts(t *testing.T, msg []byte) (mail.Header, []mimePart) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q: %s %v %v", m.Header.Get("Content-Type"), mt, params, err)
	}
	var parts []mimePart
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		body := raw
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			if body, err = base64.StdEncoding.DecodeString(string(raw)); err != nil {
				t.Fatalf("base64: %v", err)
			}
		}
		parts = append(parts, mimePart{p.Header, body, raw})
	}
	return m.Header, parts
}

// checkWellFormed checks what every built DSN must be and returns its
// parts.
func checkWellFormed(t *testing.T, msg []byte) (mail.Header, []mimePart) {
	t.Helper()
	if err := message.CheckLineEndings(msg); err != nil {
		t.Fatalf("CheckLineEndings: %v", err)
	}
	if err := message.CheckLineLength(msg, message.MaxLineLength); err != nil {
		t.Fatalf("CheckLineLength: %v", err)
	}
	if i := bytes.IndexFunc(msg, func(r rune) bool { return r >= 0x80 || r == 0 }); i >= 0 {
		t.Fatalf("byte %#x at %d: not 7-bit", msg[i], i)
	}
	h, err := message.ParseHeader(msg)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	var names []string
	for _, f := range h.Fields {
		names = append(names, f.Name)
	}
	want := []string{"Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Auto-Submitted", "Content-Type"}
	if h.Has("In-Reply-To") {
		want = slices.Insert(want, 5, "In-Reply-To", "References")
	}
	if !slices.Equal(names, want) {
		t.Fatalf("header fields %q, want %q", names, want)
	}
	hdr, parts := mimeParts(t, msg)
	if n := len(parts); n != 2 && n != 3 {
		t.Fatalf("%d parts", n)
	}
	types := []string{"text/plain", "message/delivery-status", "text/rfc822-headers"}
	for i, p := range parts {
		mt, _, err := mime.ParseMediaType(p.header.Get("Content-Type"))
		if err != nil || mt != types[i] {
			t.Fatalf("part %d: Content-Type %q, want %s", i+1, p.header.Get("Content-Type"), types[i])
		}
	}
	checkStatusFields(t, parts[1].body)
	return hdr, parts
}

// checkStatusFields checks, line by line and independently of Parse, that
// the delivery-status part holds only the fields Build writes, each at
// most once in its group.
func checkStatusFields(t *testing.T, body []byte) {
	t.Helper()
	perMessage := []string{"Reporting-MTA", "Arrival-Date", "X-Postern-Queue-ID"}
	perRecipient := []string{"Original-Recipient", "Final-Recipient", "Action", "Status", "Remote-MTA",
		"Diagnostic-Code", "Last-Attempt-Date", "Will-Retry-Until"}
	group, seen := 0, map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(string(body), "\r\n"), "\r\n") {
		switch {
		case l == "":
			group++
			seen = map[string]bool{}
			continue
		case l[0] == ' ':
			continue
		}
		name, _, ok := strings.Cut(l, ": ")
		allowed := perRecipient
		if group == 0 {
			allowed = perMessage
		}
		if !ok || !slices.Contains(allowed, name) || seen[name] {
			t.Fatalf("delivery-status group %d: unexpected line %q", group, l)
		}
		seen[name] = true
	}
}

// statusGroups reads the delivery-status part with net/textproto.
func statusGroups(t *testing.T, body []byte) []textproto.MIMEHeader {
	t.Helper()
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
	var groups []textproto.MIMEHeader
	for {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			groups = append(groups, h)
		}
		if err == io.EOF {
			return groups
		}
		if err != nil {
			t.Fatalf("textproto: %v", err)
		}
	}
}

func TestBuildFields(t *testing.T) {
	out, err := Build(mixedReport())
	if err != nil {
		t.Fatal(err)
	}
	hdr, parts := checkWellFormed(t, out)
	for name, want := range map[string]string{
		"Date":           "Tue, 04 Mar 2025 10:15:32 +0000",
		"From":           "Mail Delivery System <MAILER-DAEMON@mail.example.com>",
		"To":             "<alice@example.com>",
		"Subject":        "Undelivered Mail Returned to Sender",
		"MIME-Version":   "1.0",
		"Auto-Submitted": "auto-replied",
		"In-Reply-To":    "<q1-report@example.com>",
		"References":     "<q1-report@example.com>",
	} {
		if got := hdr.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if id := hdr.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@mail.example.com>") || len(id) != 43 {
		t.Errorf("Message-ID %q", id)
	}
	if _, err := hdr.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if to, err := hdr.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "alice@example.com" {
		t.Errorf("To: %v %v", to, err)
	}
	if from, err := hdr.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "MAILER-DAEMON@mail.example.com" {
		t.Errorf("From: %v %v", from, err)
	}

	groups := statusGroups(t, parts[1].body)
	if len(groups) != 4 {
		t.Fatalf("%d groups, want 4", len(groups))
	}
	want := []map[string]string{{
		"Reporting-MTA":      "dns; mail.example.com",
		"Arrival-Date":       "Tue, 04 Mar 2025 09:15:32 +0000",
		"X-Postern-Queue-Id": "01JNQ7",
	}, {
		"Final-Recipient":   "rfc822; bob@example.net",
		"Action":            "failed",
		"Status":            "5.1.1",
		"Remote-Mta":        "dns; mx.example.net",
		"Diagnostic-Code":   "smtp; 550 5.1.1 no such user",
		"Last-Attempt-Date": "Tue, 04 Mar 2025 10:15:32 +0000",
	}, {
		"Original-Recipient": "rfc822; Carol.Smith@example.org",
		"Final-Recipient":    "rfc822; carol@example.org",
		"Action":             "delayed",
		"Status":             "4.4.1",
		"Remote-Mta":         "dns; mx2.example.org",
		"Diagnostic-Code":    "X-Postern; connection refused by 203.0.113.7:25",
		"Last-Attempt-Date":  "Tue, 04 Mar 2025 10:15:32 +0000",
		"Will-Retry-Until":   "Sat, 08 Mar 2025 10:15:32 +0000",
	}, {
		"Final-Recipient": "rfc822; dave@example.com",
		"Action":          "failed",
		"Status":          "5.7.1",
		"Remote-Mta":      "dns; mx.example.com",
		"Diagnostic-Code": "smtp; 550-5.7.1 Message rejected 550-5.7.1 by policy; see 550 5.7.1 https://example.com/policy",
	}}
	for i, g := range groups {
		if len(g) != len(want[i]) {
			t.Errorf("group %d: %d fields, want %d: %v", i, len(g), len(want[i]), g)
		}
		for name, v := range want[i] {
			// textproto keeps the CRLF of a fold as a space (plus the
			// space of the continuation): compare unfolded.
			if got := strings.Join(strings.Fields(g.Get(name)), " "); got != v {
				t.Errorf("group %d: %s: %q, want %q", i, name, got, v)
			}
		}
	}

	if got := string(parts[2].body); got != testOriginal[:strings.Index(testOriginal, "\r\n\r\n")+2] {
		t.Errorf("returned header section %q", got)
	}
	if bytes.Contains(out, []byte("must never come back")) {
		t.Error("the original body is in the DSN")
	}
	if cte := parts[2].header.Get("Content-Transfer-Encoding"); cte != "7bit" {
		t.Errorf("ASCII headers sent as %q", cte)
	}

	text := string(parts[0].body)
	for _, s := range []string{
		"mail.example.com", "Queue ID: 01JNQ7",
		"<bob@example.net>: delivery failed; Postern will not retry.",
		"It replied: 550 5.1.1 no such user",
		"<carol@example.org>: delivery delayed; Postern will keep retrying until",
		"Reason: connection refused by 203.0.113.7:25",
		"Remote server: mx2.example.org",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("text part lacks %q:\n%s", s, text)
		}
	}
}

func TestBuildSubject(t *testing.T) {
	delivered := failedReport()
	delivered.Recipients[0].Action = Delivered
	delivered.Recipients[0].Status = [3]int{}
	for _, tc := range []struct {
		name string
		r    Report
		want string
	}{
		{"failed", failedReport(), SubjectFailed},
		{"mixed", mixedReport(), SubjectFailed},
		{"delayed", delayedReport(), SubjectDelayed},
		{"delivered", delivered, SubjectDelivered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Build(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			hdr, _ := checkWellFormed(t, out)
			if got := hdr.Get("Subject"); got != tc.want {
				t.Errorf("Subject %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBuildRoundTrip(t *testing.T) {
	eightBit := failedReport()
	eightBit.Original = []byte("From: Zoë <zoe@example.com>\r\nSubject: =?utf-8?q?R=C3=A9union?= Réunion\r\nX-Bin: \x00\xff\r\n\r\nbody é\r\n")
	eightBit.Recipients = append(eightBit.Recipients,
		Recipient{Address: "josé@exämple.org", OriginalRecipient: "JOSÉ+tag=1@exämple.org", Action: Failed,
			Diagnostic: "550 5.1.1 utilisateur inconnu: josé"},
		Recipient{Address: `"john  q. public"@example.com`, Action: Delayed, RemoteMTA: "[192.0.2.1]"})
	lfOriginal := failedReport()
	lfOriginal.Original = []byte("From: a@example.com\nSubject: lf only\n\nbody\n")
	noOriginal := delayedReport()
	noOriginal.Original = nil
	bodyOnly := failedReport()
	bodyOnly.Original = []byte("\r\njust a body\r\n")
	noBody := failedReport()
	noBody.Original = []byte("Subject: no body and no final line break")
	long := failedReport()
	long.Recipients[0].Diagnostic = strings.Repeat("550-5.2.2 the mailbox of this user is over its quota ", 15) +
		strings.Repeat("x", 2000)
	long.Recipients[0].RemoteMTA = strings.Repeat("a", 600)
	many := failedReport()
	many.Recipients = nil
	for i := range 300 {
		many.Recipients = append(many.Recipients, Recipient{
			Address: strings.Repeat("r", i%50+1) + "@example.net", Action: []Action{Failed, Delayed}[i%2],
			Diagnostic: "451 4.3.0 try again", LastAttempt: testNow,
		})
	}

	for _, tc := range []struct {
		name string
		r    Report
	}{
		{"failed", failedReport()},
		{"mixed", mixedReport()},
		{"delayed", delayedReport()},
		{"8-bit", eightBit},
		{"LF original", lfOriginal},
		{"no original", noOriginal},
		{"body only", bodyOnly},
		{"no body", noBody},
		{"long", long},
		{"many", many},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Build(tc.r)
			if err != nil {
				t.Fatal(err)
			}
			_, parts := checkWellFormed(t, out)
			p, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkRoundTrip(t, tc.r, p)

			wantHdr, _ := headerSection(tc.r.Original)
			if len(wantHdr) == 0 {
				if len(parts) != 2 {
					t.Errorf("%d parts for no header section", len(parts))
				}
			} else if cte := parts[2].header.Get("Content-Transfer-Encoding"); (cte == "7bit") != safe7bit(wantHdr) {
				t.Errorf("header section sent as %s", cte)
			}

			// The same DSN stored with LF line endings parses the same.
			lf := bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n"))
			p2, err := Parse(lf)
			if err != nil {
				t.Fatalf("Parse LF: %v", err)
			}
			p2.OriginalHeaders, p.OriginalHeaders = nil, nil // 7bit ones lose their CRs
			if !equalParsed(p, p2) {
				t.Errorf("LF-only parse differs:\n%+v\n%+v", p, p2)
			}
		})
	}
}

// checkRoundTrip compares what Parse found with what Build was given.
func checkRoundTrip(t *testing.T, r Report, p *Parsed) {
	t.Helper()
	if p.ReportingMTA != r.ReportingMTA || p.QueueID != r.QueueID {
		t.Errorf("ReportingMTA %q, QueueID %q", p.ReportingMTA, p.QueueID)
	}
	if len(p.Recipients) != len(r.Recipients) {
		t.Fatalf("%d recipients, want %d", len(p.Recipients), len(r.Recipients))
	}
	for i, rc := range r.Recipients {
		_, mta := cleanMTA(rc.RemoteMTA)
		status := rc.Status
		if status == ([3]int{}) {
			status = map[Action][3]int{Failed: {5, 0, 0}, Delayed: {4, 0, 0}}[rc.Action]
			if status == ([3]int{}) {
				status = [3]int{2, 0, 0}
			}
		}
		want := ParsedRecipient{
			FinalRecipient:    rc.Address,
			OriginalRecipient: rc.OriginalRecipient,
			Action:            rc.Action,
			Status:            status,
			RemoteMTA:         mta,
			Diagnostic:        cleanDiagnostic(rc.Diagnostic),
		}
		if p.Recipients[i] != want {
			t.Errorf("recipient %d:\n got %+v\nwant %+v", i, p.Recipients[i], want)
		}
	}
	wantHdr, _ := returnedHeader(r.Original)
	if len(wantHdr) > 0 {
		wantHdr, _ = headerSection(r.Original)
		if len(wantHdr) > MaxReturnedHeader {
			wantHdr = wantHdr[:bytes.LastIndexByte(wantHdr[:MaxReturnedHeader], '\n')+1]
		}
	}
	if !bytes.Equal(p.OriginalHeaders, wantHdr) || (p.OriginalHeaders == nil) != (len(wantHdr) == 0) {
		t.Errorf("OriginalHeaders %q, want %q", p.OriginalHeaders, wantHdr)
	}
}

func equalParsed(a, b *Parsed) bool {
	return a.ReportingMTA == b.ReportingMTA && a.QueueID == b.QueueID &&
		slices.Equal(a.Recipients, b.Recipients) && bytes.Equal(a.OriginalHeaders, b.OriginalHeaders)
}

func TestBuildFolding(t *testing.T) {
	r := failedReport()
	r.Recipients[0].Diagnostic = strings.Repeat("550 5.7.1 this is a long reply that goes on ", 12)
	r.Recipients[0].Address = strings.Repeat("ü", 121) + "@example.net" // 254 octets
	out, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	_, parts := checkWellFormed(t, out)
	for _, l := range strings.Split(string(out), "\r\n") {
		if len(l) > foldWidth && strings.Contains(strings.TrimSpace(l), " ") &&
			!strings.HasPrefix(l, "Final-Recipient:") && !strings.HasPrefix(l, "<") {
			t.Errorf("line of %d could have been folded: %q", len(l), l)
		}
	}
	if !bytes.Contains(parts[1].raw, []byte("Diagnostic-Code: smtp; 550 5.7.1 this is a long reply that goes on 550 5.7.1\r\n this is")) {
		t.Errorf("Diagnostic-Code not folded at 78:\n%s", parts[1].raw)
	}
	p, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, r, p)
}

func TestBuildHeaderSection(t *testing.T) {
	big := make([]byte, 0, MaxReturnedHeader+200)
	for i := 0; len(big) < MaxReturnedHeader+100; i++ {
		big = append(big, "X-Filler: 0123456789012345678901234567890123456789\r\n"...)
	}
	r := failedReport()
	r.Original = append(big, "\r\nbody\r\n"...)
	out, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	_, parts := checkWellFormed(t, out)
	got := parts[2].body
	if len(got) > MaxReturnedHeader || len(got) < MaxReturnedHeader-100 || !bytes.HasSuffix(got, []byte("\r\n")) {
		t.Errorf("returned %d octets, ending %q", len(got), got[max(0, len(got)-10):])
	}

	r.Original = []byte("Subject: caf\xc3\xa9\r\n\r\nbody")
	out, err = Build(r)
	if err != nil {
		t.Fatal(err)
	}
	_, parts = checkWellFormed(t, out)
	if cte := parts[2].header.Get("Content-Transfer-Encoding"); cte != "base64" {
		t.Errorf("8-bit header section sent as %q", cte)
	}
	if string(parts[2].body) != "Subject: caf\xc3\xa9\r\n" {
		t.Errorf("decoded %q", parts[2].body)
	}
}

// TestBuildBoundary: content that holds "--" and the boundary a fixed Rand
// yields makes Build pick another.
func TestBuildBoundary(t *testing.T) {
	r := failedReport()
	r.Rand = zeroRand{}
	r.Original = nil
	out, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := mail.ReadMessage(bytes.NewReader(out))
	_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
	base := params["boundary"]

	var hostile strings.Builder
	hostile.WriteString("Subject: x\r\n")
	for _, c := range boundaryAlphabet {
		hostile.WriteString("X-" + string(c) + ": --" + base + "." + string(c) + "\r\n")
	}
	hostile.WriteString("X-End: --" + base + "--\r\n\r\n")
	r.Original = []byte(hostile.String())
	r.Recipients[0].Diagnostic = "550 --" + base + "-- boundary in the reply"
	out, err = Build(r)
	if err != nil {
		t.Fatal(err)
	}
	_, parts := checkWellFormed(t, out)
	if len(parts) != 3 || !bytes.Equal(parts[2].body, []byte(hostile.String()[:hostile.Len()-2])) {
		t.Fatalf("parts %d, header part %q", len(parts), parts[len(parts)-1].body)
	}
	p, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, r, p)

	if _, err := pickBoundary("b", []byte(strings.Repeat("--b", 40))); err != nil {
		t.Errorf("pickBoundary: %v", err)
	}
}

func TestBuildGolden(t *testing.T) {
	out, err := Build(mixedReport())
	if err != nil {
		t.Fatal(err)
	}
	_, parts := checkWellFormed(t, out)
	golden(t, "delivery-status.golden", parts[1].raw)
	golden(t, "report.golden", out)
}

// golden compares got, which has CRLF line endings, with a golden file
// stored with LF ones.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	got = bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n"))
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -run %s -update to rewrite):\n%s", name, t.Name(), got)
	}
}

func TestBuildNullSender(t *testing.T) {
	for _, sender := range []string{"", "<>"} {
		r := failedReport()
		r.Sender = sender
		if out, err := Build(r); !errors.Is(err, ErrNullSender) || out != nil {
			t.Errorf("Sender %q: %v", sender, err)
		}
	}
	r := failedReport()
	r.Recipients = nil
	if _, err := Build(r); !errors.Is(err, ErrNoRecipients) {
		t.Errorf("no recipients: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	huge := failedReport()
	huge.Recipients = nil
	for range MaxRecipients {
		huge.Recipients = append(huge.Recipients, Recipient{
			Address:           strings.Repeat("é", 126) + "@x",
			OriginalRecipient: strings.Repeat("é", 126) + "@x",
			Action:            Failed,
			Diagnostic:        strings.Repeat("550 full ", 200),
		})
	}
	for _, tc := range []struct {
		name string
		edit func(*Report)
		want error
	}{
		{"too many recipients", func(r *Report) {
			r.Recipients = slices.Repeat(r.Recipients, MaxRecipients+1)
		}, ErrTooLarge},
		{"delivery-status too large", func(r *Report) { *r = huge }, ErrTooLarge},
		{"sender with CRLF", func(r *Report) { r.Sender = "a@example.com\r\nBcc: x@example.net" }, ErrInvalid},
		{"sender 8-bit", func(r *Report) { r.Sender = "zoë@example.com" }, ErrInvalid},
		{"sender no domain", func(r *Report) { r.Sender = "postmaster" }, ErrInvalid},
		{"sender angle brackets", func(r *Report) { r.Sender = "<a@example.com>" }, ErrInvalid},
		{"sender two addresses", func(r *Report) { r.Sender = "a@example.com>, <b@example.com" }, ErrInvalid},
		{"no reporting MTA", func(r *Report) { r.ReportingMTA = "" }, ErrInvalid},
		{"bad reporting MTA", func(r *Report) { r.ReportingMTA = "mail.example.com>\r\nX: y" }, ErrInvalid},
		{"bad queue ID", func(r *Report) { r.QueueID = "01\r\nX-Injected: 1" }, ErrInvalid},
		{"no Now", func(r *Report) { r.Now = time.Time{} }, ErrInvalid},
		{"year 10000", func(r *Report) { r.Recipients[0].LastAttempt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, ErrInvalid},
		{"empty address", func(r *Report) { r.Recipients[0].Address = "" }, ErrInvalid},
		{"address with LF", func(r *Report) { r.Recipients[0].Address = "a@b\nAction: delivered" }, ErrInvalid},
		{"address not UTF-8", func(r *Report) { r.Recipients[0].Address = "a\xff@b" }, ErrInvalid},
		{"address too long", func(r *Report) { r.Recipients[0].Address = strings.Repeat("a", 250) + "@b.cd" }, ErrInvalid},
		{"original recipient with CR", func(r *Report) { r.Recipients[0].OriginalRecipient = "a@b\r" }, ErrInvalid},
		{"no action", func(r *Report) { r.Recipients[0].Action = "" }, ErrInvalid},
		{"unknown action", func(r *Report) { r.Recipients[0].Action = "bounced" }, ErrInvalid},
		{"class 3", func(r *Report) { r.Recipients[0].Status = [3]int{3, 1, 1} }, ErrInvalid},
		{"subject 1000", func(r *Report) { r.Recipients[0].Status = [3]int{5, 1000, 1} }, ErrInvalid},
		{"negative detail", func(r *Report) { r.Recipients[0].Status = [3]int{5, 1, -1} }, ErrInvalid},
		{"Rand fails", func(r *Report) { r.Rand = failRand{} }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := failedReport()
			tc.edit(&r)
			out, err := Build(r)
			if err == nil || out != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Build: %v, want %v", err, tc.want)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error text %q", err)
			}
		})
	}
}

// TestBuildInjection: CR, LF and lookalike fields in what remote servers
// and DNS send stay inside their fields.
func TestBuildInjection(t *testing.T) {
	r := failedReport()
	r.Recipients[0].Diagnostic = "550 no\r\nAction: delivered\r\n\r\nFinal-Recipient: rfc822; evil@example.net\r\nStatus: 2.0.0\r\n.\r\n"
	r.Recipients[0].RemoteMTA = "mx.example.net\r\nX-Injected: yes"
	r.Recipients = append(r.Recipients, Recipient{
		Address: "x@example.net", Action: Failed, Diagnostic: "\r\n\r\n--=_aaaa--\r\nContent-Type: text/html\r\n\r\n<b>",
	})
	out, err := Build(r)
	if err != nil {
		t.Fatal(err)
	}
	_, parts := checkWellFormed(t, out)
	if n := len(statusGroups(t, parts[1].body)); n != 3 {
		t.Errorf("%d delivery-status groups, want 3", n)
	}
	p, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, r, p)
	if got := p.Recipients[0].RemoteMTA; got != "mx.example.net??X-Injected:?yes" {
		t.Errorf("RemoteMTA %q", got)
	}
	if got := p.Recipients[0].Diagnostic; got != "550 no Action: delivered Final-Recipient: rfc822; evil@example.net Status: 2.0.0 ." {
		t.Errorf("Diagnostic %q", got)
	}
}

func TestXtext(t *testing.T) {
	for _, tc := range []struct{ in, enc string }{
		{"josé@example.org", `jos\x{E9}@example.org`},
		{"a+b=c\\d e@x", `a\x{2B}b\x{3D}c\x{5C}d\x{20}e@x`},
		{"用户@例子.广告", `\x{7528}\x{6237}@\x{4F8B}\x{5B50}.\x{5E7F}\x{544A}`},
		{"😀@x", `\x{1F600}@x`},
	} {
		if got := xtextEncode(tc.in); got != tc.enc {
			t.Errorf("xtextEncode(%q) = %q, want %q", tc.in, got, tc.enc)
		}
		if got := xtextDecode(tc.enc); got != tc.in {
			t.Errorf("xtextDecode(%q) = %q, want %q", tc.enc, got, tc.in)
		}
	}
	for in, want := range map[string]string{
		`a\x{e9}`:        "aé",
		`\x{}`:           `\x{}`,
		`\x{D800}`:       `\x{D800}`,
		`\x{110000}`:     `\x{110000}`,
		`\x{0}`:          `\x{0}`,
		`\x{zz}\x{41}`:   `\x{zz}A`,
		`\x{41`:          `\x{41`,
		`\x{1234567}`:    `\x{1234567}`,
		`\x{5C}x{41}`:    `\x{41}`,
		`no escapes`:     `no escapes`,
		`\x{41}\x{42}\x`: `AB\x`,
	} {
		if got := xtextDecode(in); got != want {
			t.Errorf("xtextDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanDiagnostic(t *testing.T) {
	for in, want := range map[string]string{
		"550 5.1.1 no such user":           "550 5.1.1 no such user",
		"  550-first\r\n550 second \r\n":   "550-first 550 second",
		"a\tb\x00c\x7fd":                   "a b c d",
		"caf\xc3\xa9 \xff":                 "caf? ?",
		"a    b":                           "a b",
		"":                                 "",
		"\r\n":                             "",
		strings.Repeat("x", maxWord+5):     strings.Repeat("x", maxWord) + " xxxxx",
		strings.Repeat("ab ", 2000):        strings.Repeat("ab ", 342)[:MaxDiagnosticLen],
		strings.Repeat("abc ", 2000) + "z": strings.Repeat("abc ", 256)[:MaxDiagnosticLen-1],
	} {
		if got := cleanDiagnostic(in); got != want {
			t.Errorf("cleanDiagnostic(%.40q) = %.60q (%d), want %.60q (%d)", in, got, len(got), want, len(want))
		}
	}
}
