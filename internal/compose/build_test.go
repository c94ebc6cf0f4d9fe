package compose

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/message"
)

func TestBuildBad(t *testing.T) {
	p0 := func(f func(*Personalization)) func(*Request) {
		return func(r *Request) { f(&r.Personalizations[0]) }
	}
	addr := func(e string) []Address { return []Address{{Email: e}} }
	tests := []struct {
		name  string
		mod   func(*Request)
		field string
	}{
		{"no from", func(r *Request) { r.From = Address{} }, "from"},
		{"from without @", func(r *Request) { r.From.Email = "nobody" }, "from.email"},
		{"from with name", func(r *Request) { r.From.Email = "Bob <bob@example.com>" }, "from.email"},
		{"from with comment", func(r *Request) { r.From.Email = "bob@example.com (Bob)" }, "from.email"},
		{"from with CRLF", func(r *Request) { r.From.Email = "bob@example.com\r\nBcc: x@example.com" }, "from.email"},
		{"from non-ASCII", func(r *Request) { r.From.Email = "bjørn@example.com" }, "from.email"},
		{"from too long", func(r *Request) { r.From.Email = strings.Repeat("a", 250) + "@example.com" }, "from.email"},
		{"from name CRLF", func(r *Request) { r.From.Name = "Bob\r\nBcc: x@example.com" }, "from.name"},
		{"from name NUL", func(r *Request) { r.From.Name = "Bob\x00" }, "from.name"},
		{"from name C1", func(r *Request) { r.From.Name = "Bob\u0085" }, "from.name"},
		{"from name too long", func(r *Request) { r.From.Name = strings.Repeat("n", MaxNameLength+1) }, "from.name"},
		{"bad to", p0(func(p *Personalization) { p.To = append(p.To, Address{Email: "x@"}) }), "personalizations.0.to.1.email"},
		{"empty to", p0(func(p *Personalization) { p.To = nil }), "personalizations.0.to"},
		{"bad cc", p0(func(p *Personalization) { p.Cc = addr("@example.com") }), "personalizations.0.cc.0.email"},
		{"bad bcc name", p0(func(p *Personalization) { p.Bcc = []Address{{Email: "b@example.com", Name: "\n"}} }), "personalizations.0.bcc.0.name"},
		{"to twice", p0(func(p *Personalization) { p.To = append(p.To, Address{Email: "TO@example.com"}) }), "personalizations.0.to.1.email"},
		{"to in cc", p0(func(p *Personalization) { p.Cc = addr("to@EXAMPLE.com") }), "personalizations.0.cc.0.email"},
		{"to in bcc", p0(func(p *Personalization) { p.Cc = addr("c@example.com"); p.Bcc = addr("c@example.com") }), "personalizations.0.bcc.0.email"},
		{"bad personalization from", p0(func(p *Personalization) { p.From = &Address{Email: "x"} }), "personalizations.0.from.email"},
		{"reply_to and list", func(r *Request) { r.ReplyTo = &Address{Email: "a@example.com"}; r.ReplyToList = addr("b@example.com") }, "reply_to_list"},
		{"bad reply_to", func(r *Request) { r.ReplyTo = &Address{Email: "a@@example.com"} }, "reply_to.email"},
		{"reply_to_list twice", func(r *Request) { r.ReplyToList = []Address{{Email: "a@example.com"}, {Email: "A@example.com"}} }, "reply_to_list.1.email"},
		{"no subject", func(r *Request) { r.Subject = "" }, "subject"},
		{"blank subject", func(r *Request) { r.Subject = "  " }, "subject"},
		{"subject in one personalization only", func(r *Request) {
			r.Subject = ""
			r.Personalizations = append(r.Personalizations, Personalization{To: addr("b@example.com"), Subject: "x"})
		}, "subject"},
		{"subject CRLF", func(r *Request) { r.Subject = "a\r\nBcc: x@example.com" }, "subject"},
		{"subject too long", func(r *Request) { r.Subject = strings.Repeat("s", MaxSubjectLength+1) }, "subject"},
		{"personalization subject LF", p0(func(p *Personalization) { p.Subject = "a\nb" }), "personalizations.0.subject"},
		{"substitution makes CRLF", func(r *Request) {
			r.Subject = "Hi -n-"
			r.Personalizations[0].Substitutions = map[string]string{"-n-": "x\r\nBcc: y@example.com"}
		}, "personalizations.0.substitutions"},
		{"substitution empty key", p0(func(p *Personalization) { p.Substitutions = map[string]string{"": "x"} }), "personalizations.0.substitutions"},
		{"no content", func(r *Request) { r.Content = nil }, "content"},
		{"empty value", func(r *Request) { r.Content[1].Value = "" }, "content.1.value"},
		{"no type", func(r *Request) { r.Content[0].Type = "" }, "content.0.type"},
		{"bad type", func(r *Request) { r.Content[1].Type = "html" }, "content.1.type"},
		{"multipart content", func(r *Request) { r.Content[1].Type = "multipart/mixed" }, "content.1.type"},
		{"html before plain", func(r *Request) { r.Content[0], r.Content[1] = r.Content[1], r.Content[0] }, "content.0.type"},
		{"other before html", func(r *Request) {
			r.Content = []Content{{Type: "text/calendar", Value: "c"}, {Type: "text/html", Value: "h"}}
		}, "content.0.type"},
		{"plain after other", func(r *Request) {
			r.Content = []Content{{Type: "text/x-amp-html", Value: "a"}, {Type: "text/plain", Value: "p"}}
		}, "content.0.type"},
		{"type twice", func(r *Request) { r.Content[1].Type = "TEXT/PLAIN" }, "content.1.type"},
		{"attachment not base64", func(r *Request) { r.Attachments = []Attachment{{Content: "not base64!", Filename: "x"}} }, "attachments.0.content"},
		{"attachment empty", func(r *Request) { r.Attachments = []Attachment{{Filename: "x"}} }, "attachments.0.content"},
		{"attachment no filename", func(r *Request) { r.Attachments = []Attachment{{Content: "eA=="}} }, "attachments.0.filename"},
		{"attachment filename CR", func(r *Request) { r.Attachments = []Attachment{{Content: "eA==", Filename: "a\rb"}} }, "attachments.0.filename"},
		{"attachment filename too long", func(r *Request) {
			r.Attachments = []Attachment{{Content: "eA==", Filename: strings.Repeat("f", MaxFilenameLength+1)}}
		}, "attachments.0.filename"},
		{"attachment bad type", func(r *Request) { r.Attachments = []Attachment{{Content: "eA==", Filename: "x", Type: "pdf"}} }, "attachments.0.type"},
		{"attachment multipart", func(r *Request) {
			r.Attachments = []Attachment{{Content: "eA==", Filename: "x", Type: "multipart/mixed; boundary=x"}}
		}, "attachments.0.type"},
		{"attachment message", func(r *Request) {
			r.Attachments = []Attachment{{Content: "eA==", Filename: "x", Type: "message/rfc822"}}
		}, "attachments.0.type"},
		{"bad disposition", func(r *Request) {
			r.Attachments = []Attachment{{Content: "eA==", Filename: "x", Disposition: "embedded"}}
		}, "attachments.0.disposition"},
		{"inline without cid", func(r *Request) {
			r.Attachments = []Attachment{{Content: "eA==", Filename: "x", Disposition: "inline"}}
		}, "attachments.0.content_id"},
		{"cid with space", func(r *Request) {
			r.Attachments = []Attachment{{Content: "eA==", Filename: "x", Disposition: "inline", ContentID: "a b"}}
		}, "attachments.0.content_id"},
		{"cid with CRLF", func(r *Request) {
			r.Attachments = []Attachment{{Content: "eA==", Filename: "x", Disposition: "inline", ContentID: "a\r\nX: y"}}
		}, "attachments.0.content_id"},
		{"cid twice", func(r *Request) {
			r.Attachments = []Attachment{
				{Content: "eA==", Filename: "x", Disposition: "inline", ContentID: "c"},
				{Content: "eA==", Filename: "y", Disposition: "inline", ContentID: "<c>"},
			}
		}, "attachments.1.content_id"},
		{"reserved header", func(r *Request) { r.Headers = map[string]string{"bcc": "x@example.com"} }, "headers.bcc"},
		{"reserved header smtpapi", func(r *Request) { r.Headers = map[string]string{"X-SMTPAPI": "{}"} }, "headers.X-SMTPAPI"},
		{"reserved header dkim", p0(func(p *Personalization) { p.Headers = map[string]string{"DKIM-Signature": "v=1"} }), "personalizations.0.headers.DKIM-Signature"},
		{"reserved header received", func(r *Request) { r.Headers = map[string]string{"Received": "from x"} }, "headers.Received"},
		{"reserved header content-type", func(r *Request) { r.Headers = map[string]string{"Content-Type": "text/plain"} }, "headers.Content-Type"},
		{"reserved sg id", func(r *Request) { r.Headers = map[string]string{"x-sg-eid": "1"} }, "headers.x-sg-eid"},
		{"header name space", func(r *Request) { r.Headers = map[string]string{"X Bad": "1"} }, "headers.X Bad"},
		{"header name colon", func(r *Request) { r.Headers = map[string]string{"X-A:": "1"} }, "headers.X-A:"},
		{"header name empty", func(r *Request) { r.Headers = map[string]string{"": "1"} }, "headers"},
		{"header name non-ASCII", func(r *Request) { r.Headers = map[string]string{"X-Ä": "1"} }, "headers.X-??"},
		{"header value CRLF", func(r *Request) { r.Headers = map[string]string{"X-A": "1\r\nBcc: x@example.com"} }, "headers.X-A"},
		{"header value LF", func(r *Request) { r.Headers = map[string]string{"X-A": "1\nb"} }, "headers.X-A"},
		{"header value NUL", func(r *Request) { r.Headers = map[string]string{"X-A": "1\x00"} }, "headers.X-A"},
		{"header value long run", func(r *Request) { r.Headers = map[string]string{"X-A": strings.Repeat("v", 1000)} }, "headers.X-A"},
		{"header value too long", func(r *Request) { r.Headers = map[string]string{"X-A": strings.Repeat("v ", MaxHeaderValue)} }, "headers.X-A"},
		{"header twice by case", func(r *Request) { r.Headers = map[string]string{"X-A": "1", "x-a": "2"} }, "headers.x-a"},
		{"bad message-id", func(r *Request) { r.Headers = map[string]string{"Message-ID": "no-brackets@example.com"} }, "headers.Message-ID"},
		{"message-id for many", func(r *Request) {
			r.Headers = map[string]string{"Message-ID": "<a@example.com>"}
			r.Personalizations = append(r.Personalizations, Personalization{To: addr("b@example.com")})
		}, "headers.Message-ID"},
		{"message-id repeated", func(r *Request) {
			r.Personalizations[0].Headers = map[string]string{"Message-ID": "<a@example.com>"}
			r.Personalizations = append(r.Personalizations, Personalization{To: addr("b@example.com"), Headers: map[string]string{"message-id": "<a@example.com>"}})
		}, "personalizations.1.headers.message-id"},
		{"category empty", func(r *Request) { r.Categories = []string{""} }, "categories.0"},
		{"category too long", func(r *Request) { r.Categories = []string{"a", strings.Repeat("é", 256)} }, "categories.1"},
		{"category twice", func(r *Request) { r.Categories = []string{"a", "a"} }, "categories.1"},
		{"too many categories", func(r *Request) { r.Categories = strings.Split("a b c d e f g h i j k", " ") }, "categories"},
		{"custom_args empty key", func(r *Request) { r.CustomArgs = map[string]string{"": "v"} }, "custom_args"},
		{"custom_args merged too big", func(r *Request) {
			r.CustomArgs = map[string]string{"a": strings.Repeat("x", 6000)}
			r.Personalizations[0].CustomArgs = map[string]string{"b": strings.Repeat("y", 6000)}
		}, "personalizations.0.custom_args"},
		{"send_at too far", func(r *Request) { r.SendAt = testNow.Add(73 * time.Hour).Unix() }, "send_at"},
		{"personalization send_at too far", p0(func(p *Personalization) { p.SendAt = testNow.Add(100 * time.Hour).Unix() }), "personalizations.0.send_at"},
		{"send_at negative", func(r *Request) { r.SendAt = -1 }, "send_at"},
		{"batch_id space", func(r *Request) { r.BatchID = "a b" }, "batch_id"},
		{"asm zero", func(r *Request) { r.ASM = &ASM{} }, "asm.group_id"},
		{"no personalizations", func(r *Request) { r.Personalizations = nil }, "personalizations"},
		{"too many recipients", p0(func(p *Personalization) {
			for i := 0; i < MaxRecipients; i++ {
				p.Cc = append(p.Cc, Address{Email: "c" + itoa(i) + "@example.com"})
			}
		}), "personalizations.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := baseRequest()
			tt.mod(req)
			ms, err := Build(req, testOptions())
			if err == nil {
				t.Fatalf("Build made %d messages, want an error for %q", len(ms), tt.field)
			}
			fs := fields(t, err)
			if !hasField(fs, tt.field) {
				t.Fatalf("fields %q, want %q\n%s", fs, tt.field, errList(err))
			}
			checkSafe(t, err)
		})
	}
}

func TestBuildReportsAll(t *testing.T) {
	req := baseRequest()
	req.From.Email = "bad"
	req.Personalizations[0].To[0].Email = "also bad"
	req.Content[0].Value = ""
	req.Headers = map[string]string{"To": "x"}
	_, err := Build(req, testOptions())
	fs := fields(t, err)
	for _, f := range []string{"from.email", "personalizations.0.to.0.email", "content.0.value", "headers.To"} {
		if !hasField(fs, f) {
			t.Errorf("no error for %s in %q", f, fs)
		}
	}
}

func TestBuildHeader(t *testing.T) {
	req := baseRequest()
	req.ReplyTo = &Address{Email: "reply@example.com"}
	req.Personalizations[0].Cc = []Address{{Email: "cc@example.com"}}
	req.Personalizations[0].Bcc = []Address{{Email: "hidden@example.com"}}
	req.Headers = map[string]string{"X-Zeta": "z", "X-Alpha": "a", "List-Id": "<list.example.com>"}
	req.Personalizations[0].Headers = map[string]string{"x-alpha": "override"}
	ms, err := Build(req, Options{Now: time.Date(2024, 3, 5, 10, 30, 0, 0, time.FixedZone("", -5*3600)), Rand: &countReader{}})
	if err != nil {
		t.Fatalf("%v\n%s", err, errList(err))
	}
	h, err := message.ParseHeader(ms[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range h.Fields {
		names = append(names, f.Name)
	}
	want := []string{"From", "Reply-To", "To", "Cc", "Subject", "Date", "MIME-Version", "List-Id", "x-alpha", "X-Zeta", "Content-Type"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("fields %q, want %q", names, want)
	}
	for name, v := range map[string]string{
		"From": `From <from@example.com>`, "Reply-To": "reply@example.com", "To": "To <to@example.com>",
		"Cc": "cc@example.com", "Date": "Tue, 05 Mar 2024 10:30:00 -0500", "x-alpha": "override",
	} {
		if got := h.Values(name)[0]; got != v {
			t.Errorf("%s: %q, want %q", name, got, v)
		}
	}
	if strings.Contains(string(ms[0].Body), "hidden") || h.Has("Bcc") || h.Has("Message-ID") {
		t.Fatalf("Bcc or Message-ID in\n%s", ms[0].Body)
	}
	if got := ms[0].Recipients; !reflect.DeepEqual(got, []string{"to@example.com", "cc@example.com", "hidden@example.com"}) {
		t.Fatalf("Recipients %q", got)
	}
}

func TestBuildPersonalizations(t *testing.T) {
	req := baseRequest()
	req.Subject = "Hello -name-"
	req.Content = []Content{{Type: "text/plain", Value: "Dear -name-, -name--x- -unknown-"}}
	req.Categories = []string{"news"}
	req.CustomArgs = map[string]string{"campaign": "spring", "user": "none"}
	req.SendAt = testNow.Add(time.Hour).Unix()
	req.BatchID = "batch-1"
	req.ASM = &ASM{GroupID: 42}
	req.MailSettings = &MailSettings{SandboxMode: &Setting{Enable: true}}
	req.Personalizations = []Personalization{
		{To: []Address{{Email: "a@example.com"}}, Substitutions: map[string]string{"-name-": "Alex", "-name--x-": "LONG"}, CustomArgs: map[string]string{"user": "a"}},
		{To: []Address{{Email: "b@example.com"}}, Subject: "Private", From: &Address{Email: "other@example.com"}, SendAt: testNow.Add(-time.Hour).Unix()},
		{To: []Address{{Email: "c@example.com"}}, SendAt: testNow.Add(2 * time.Hour).Unix(), Headers: map[string]string{"Message-ID": "<c-1@example.com>"}},
	}
	ms, err := Build(req, testOptions())
	if err != nil {
		t.Fatalf("%v\n%s", err, errList(err))
	}
	if len(ms) != 3 {
		t.Fatalf("%d messages", len(ms))
	}
	pm := parseMessage(t, ms[0].Body)
	if s := pm.header.Get("Subject"); s != "Hello Alex" {
		t.Errorf("subject %q", s)
	}
	if got := string(pm.find("text/plain").data); got != "Dear Alex, LONG -unknown-" {
		t.Errorf("body %q", got)
	}
	wantMeta := Meta{Categories: []string{"news"}, CustomArgs: map[string]string{"campaign": "spring", "user": "a"},
		SendAt: time.Unix(req.SendAt, 0).UTC(), BatchID: "batch-1", ASMGroupID: 42}
	if !reflect.DeepEqual(ms[0].Meta, wantMeta) {
		t.Errorf("meta %+v, want %+v", ms[0].Meta, wantMeta)
	}
	if !ms[0].Sandbox || !ms[1].Sandbox {
		t.Errorf("not sandboxed")
	}

	pm = parseMessage(t, ms[1].Body)
	if s := pm.header.Get("Subject"); s != "Private" {
		t.Errorf("subject %q", s)
	}
	if ms[1].From != "other@example.com" || pm.header.Get("From") != "other@example.com" {
		t.Errorf("from %q / %q", ms[1].From, pm.header.Get("From"))
	}
	if got := string(pm.find("text/plain").data); got != "Dear -name-, -name--x- -unknown-" {
		t.Errorf("body without substitutions %q", got)
	}
	if !ms[1].Meta.SendAt.IsZero() || ms[1].Meta.CustomArgs["user"] != "none" {
		t.Errorf("meta %+v", ms[1].Meta)
	}

	if got := ms[2].Meta.SendAt; !got.Equal(testNow.Add(2 * time.Hour)) {
		t.Errorf("send_at %v", got)
	}
	if got := parseMessage(t, ms[2].Body).header.Get("Message-ID"); got != "<c-1@example.com>" {
		t.Errorf("Message-ID %q", got)
	}
	// Metadata is not shared between messages.
	ms[0].Meta.CustomArgs["x"] = "y"
	ms[0].Meta.Categories[0] = "changed"
	if ms[1].Meta.CustomArgs["x"] != "" || ms[1].Meta.Categories[0] != "news" || req.Categories[0] != "news" {
		t.Errorf("metadata shared")
	}
}

func TestBuildSendAtPastIsNow(t *testing.T) {
	req := baseRequest()
	req.SendAt = 1
	ms, err := Build(req, testOptions())
	if err != nil || !ms[0].Meta.SendAt.IsZero() {
		t.Fatalf("%v %v", ms, err)
	}
	opts := testOptions()
	opts.MaxSendAhead = time.Minute
	req.SendAt = testNow.Add(2 * time.Minute).Unix()
	if _, err := Build(req, opts); !hasField(fields(t, err), "send_at") {
		t.Fatal(err)
	}
}

func TestBuildSizes(t *testing.T) {
	req := baseRequest()
	req.Attachments = []Attachment{{Content: b64(strings.Repeat("x", 3000)), Filename: "x.bin"}}
	opts := testOptions()
	opts.MaxMessageBytes = 2000
	if _, err := Build(req, opts); !hasField(fields(t, err), "personalizations.0") {
		t.Fatalf("message size: %v", err)
	}
	opts = testOptions()
	opts.MaxTotalBytes = 10000
	for i := 0; i < 5; i++ {
		req.Personalizations = append(req.Personalizations, Personalization{To: []Address{{Email: "p" + itoa(i) + "@example.com"}}})
	}
	if _, err := Build(req, opts); !hasField(fields(t, err), "personalizations") {
		t.Fatalf("total size: %v", err)
	}
	// Substitutions cannot blow a message up past the limit.
	req = baseRequest()
	req.Content = []Content{{Type: "text/plain", Value: strings.Repeat("k", 10000)}}
	req.Personalizations[0].Substitutions = map[string]string{"k": strings.Repeat("v", 1000)}
	opts = testOptions()
	opts.MaxMessageBytes = 1 << 20
	if _, err := Build(req, opts); !hasField(fields(t, err), "personalizations.0.substitutions") {
		t.Fatalf("substitutions: %v", err)
	}
	// A header over message.MaxHeaderBytes.
	req = baseRequest()
	req.Headers = map[string]string{}
	req.Personalizations[0].Headers = map[string]string{}
	for i := 0; i < MaxHeaders; i++ {
		req.Headers["X-R"+itoa(i)] = strings.Repeat("v ", MaxHeaderValue/2-1)
		req.Personalizations[0].Headers["X-P"+itoa(i)] = strings.Repeat("w ", MaxHeaderValue/2-1)
	}
	if _, err := Build(req, testOptions()); !hasField(fields(t, err), "personalizations.0") {
		t.Fatalf("header size: %v", err)
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestBuildInternalErrors(t *testing.T) {
	var errs *Errors
	if _, err := Build(baseRequest(), Options{Rand: &countReader{}}); err == nil || errors.As(err, &errs) {
		t.Errorf("zero Now: %v", err)
	}
	if _, err := Build(nil, testOptions()); err == nil || errors.As(err, &errs) {
		t.Errorf("nil request: %v", err)
	}
	_, err := Build(baseRequest(), Options{Now: testNow, Rand: failReader{}})
	if err == nil || errors.As(err, &errs) || !strings.Contains(err.Error(), "entropy exhausted") {
		t.Errorf("Rand failing: %v", err)
	}
	// A single part needs no boundary, so no randomness either.
	req := baseRequest()
	req.Content = req.Content[:1]
	if _, err := Build(req, Options{Now: testNow, Rand: failReader{}}); err != nil {
		t.Errorf("single part: %v", err)
	}
	// nil Rand is crypto/rand.
	if _, err := Build(baseRequest(), Options{Now: testNow}); err != nil {
		t.Errorf("nil Rand: %v", err)
	}
}

func TestBuildDoesNotModifyRequest(t *testing.T) {
	req := baseRequest()
	req.Headers = map[string]string{"X-A": " padded "}
	req.Personalizations[0].Substitutions = map[string]string{"plain": "PLAIN"}
	before := mustJSON(t, req)
	if _, err := Build(req, testOptions()); err != nil {
		t.Fatal(err)
	}
	if after := mustJSON(t, req); string(after) != string(before) {
		t.Fatalf("request changed:\n%s\n%s", before, after)
	}
}

func TestErrorsError(t *testing.T) {
	e := Errors{{Field: "from.email", Message: "is required"}, {Message: "x"}}
	if got := e.Error(); got != "compose: from.email: is required (and 1 more)" {
		t.Fatalf("%q", got)
	}
}
