package compose

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"testing"

	"github.com/postern/postern/internal/message"
)

// TestRoundTrip composes many requests and reads every message back with
// net/mail and mime/multipart: texts, attachments, filenames, Content-IDs,
// addresses and subject must come back, the wire checks must pass, and no
// bcc address may appear in the body.
func TestRoundTrip(t *testing.T) {
	contents := [][]Content{
		{{Type: "text/plain", Value: "Hello,\nworld.\n"}},
		{{Type: "text/html", Value: "<p>Hello</p>"}},
		{{Type: "text/plain", Value: "plain"}, {Type: "text/html", Value: "<b>html</b>"}},
		{{Type: "text/plain", Value: "p"}, {Type: "text/html", Value: "<i>h</i>"}, {Type: "text/calendar; method=REQUEST", Value: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}},
		{{Type: "text/plain", Value: strings.Repeat("x", 5000) + "\n" + strings.Repeat("word ", 400)}},
		{{Type: "text/plain", Value: "Grüße, 東京 — naïve café\r\nzweite Zeile  \n\n--=_ not a boundary\nFrom me\n.\n= equals =3D"}},
		{{Type: "text/html", Value: strings.Repeat("<p>é</p>", 3000)}},
		{{Type: "text/plain", Value: "bare\rCR and trailing space "}},
	}
	atts := [][]Attachment{
		nil,
		{{Content: b64("%PDF-1.4 binary \x00\xff\xfe"), Type: "application/pdf", Filename: "report.pdf"}},
		{{Content: b64(strings.Repeat("\x89PNG", 300)), Type: "image/png", Filename: "logo.png", Disposition: "inline", ContentID: "logo"}},
		{
			{Content: b64("a,b\n1,2\n"), Type: "text/csv", Filename: "données été.csv"},
			{Content: b64("GIF89a"), Type: "image/gif", Filename: "a.gif", Disposition: "inline", ContentID: "ii_139db99fdb5c3704"},
			{Content: b64("x"), Filename: strings.Repeat("long-name-", 25) + ".txt"},
			{Content: b64("y"), Filename: strings.Repeat("é", 120), Disposition: "inline", ContentID: "<with.brackets@example>"},
		},
	}
	names := []string{"", "Alex", "Bola, Jr.", "Ünïcødé Ñame", `Quote "me" \ please`, strings.Repeat("Long Name ", 20), "日本語の名前です" + strings.Repeat("長", 60), "=?utf-8?q?fake?="}
	subjects := []string{
		"Your order",
		"Grüße aus Köln — 注文",
		strings.Repeat("a-very-long-word-without-any-spaces", 10),
		strings.Repeat("many short words ", 60),
		"=?utf-8?q?looks_encoded?=",
		strings.Repeat("ü", 1000),
	}
	n := 0
	for ci, cs := range contents {
		for ai, as := range atts {
			for ni, name := range names {
				si := (ci + ai + ni) % len(subjects)
				req := Request{
					Personalizations: []Personalization{{
						To:  []Address{{Email: "alex@example.com", Name: name}, {Email: "bola@example.org", Name: names[(ni+1)%len(names)]}},
						Cc:  []Address{{Email: "carol@example.net", Name: name}},
						Bcc: []Address{{Email: "secret-bcc@hidden.example", Name: "Hidden Bcc"}},
					}},
					From:        Address{Email: "orders@example.com", Name: name},
					ReplyTo:     &Address{Email: "help@example.com", Name: names[(ni+2)%len(names)]},
					Subject:     subjects[si],
					Content:     cs,
					Attachments: as,
					Headers:     map[string]string{"X-Campaign": "spring-" + name, "List-Unsubscribe": "<https://example.com/u?id=" + strings.Repeat("0123456789", 20) + ">"},
				}
				t.Run(fmt.Sprintf("c%d_a%d_n%d", ci, ai, ni), func(t *testing.T) {
					roundTrip(t, &req)
				})
				n++
			}
		}
	}
	if n < 200 {
		t.Fatalf("only %d cases", n)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func roundTrip(t *testing.T, req *Request) {
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ms := compose(t, string(body))
	if len(ms) != len(req.Personalizations) {
		t.Fatalf("%d messages for %d personalizations", len(ms), len(req.Personalizations))
	}
	for i, m := range ms {
		p := req.Personalizations[i]
		checkWire(t, m.Body)
		checkFolded(t, m.Body)
		for _, a := range p.Bcc {
			if bytes.Contains(bytes.ToLower(m.Body), bytes.ToLower([]byte(a.Email))) {
				t.Fatalf("bcc %s in body", a.Email)
			}
		}
		var want []string
		for _, l := range [][]Address{p.To, p.Cc, p.Bcc} {
			for _, a := range l {
				want = append(want, a.Email)
			}
		}
		if fmt.Sprint(m.Recipients) != fmt.Sprint(want) {
			t.Fatalf("Recipients %v, want %v", m.Recipients, want)
		}
		if m.From != req.From.Email {
			t.Fatalf("From %q", m.From)
		}
		pm := parseMessage(t, m.Body)
		checkAddresses(t, pm, "From", []Address{req.From})
		checkAddresses(t, pm, "To", p.To)
		checkAddresses(t, pm, "Cc", p.Cc)
		if req.ReplyTo != nil {
			checkAddresses(t, pm, "Reply-To", []Address{*req.ReplyTo})
		}
		checkSubject(t, m.Body, strings.Trim(req.Subject, " \t"))
		for k, v := range req.Headers {
			v = strings.Trim(v, " \t")
			got := headerValue(t, m.Body, k)
			if isPrintableASCII(v) {
				// Kept as given: it may be a structured field.
				got = rawHeaderValue(t, m.Body, k)
			}
			if got != v {
				t.Fatalf("%s: %q, want %q", k, got, v)
			}
		}
		checkBody(t, pm, req)
	}
}

func checkAddresses(t *testing.T, pm *parsed, field string, want []Address) {
	t.Helper()
	got, err := pm.header.AddressList(field)
	if err != nil {
		t.Fatalf("%s %q: %v", field, pm.header.Get(field), err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d addresses, want %d", field, len(got), len(want))
	}
	for i := range want {
		if got[i].Address != want[i].Email || got[i].Name != want[i].Name {
			t.Fatalf("%s %d: %q <%s>, want %q <%s>\nraw %q", field, i, got[i].Name, got[i].Address, want[i].Name, want[i].Email, pm.header.Get(field))
		}
	}
}

// headerValue returns the exactly unfolded value of field name, RFC 2047
// decoded.
func headerValue(t *testing.T, b []byte, name string) string {
	t.Helper()
	h, err := message.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	vs := h.Values(name)
	if len(vs) != 1 {
		t.Fatalf("%d %s fields", len(vs), name)
	}
	dec := new(mime.WordDecoder)
	v, err := dec.DecodeHeader(vs[0])
	if err != nil {
		t.Fatalf("%s %q: %v", name, vs[0], err)
	}
	return v
}

// rawHeaderValue returns the exactly unfolded value of field name.
func rawHeaderValue(t *testing.T, b []byte, name string) string {
	t.Helper()
	h, err := message.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h.Values(name)[0]
}

func checkSubject(t *testing.T, b []byte, want string) {
	t.Helper()
	h, _ := message.ParseHeader(b)
	raw := h.Values("Subject")[0]
	got := headerValue(t, b, "Subject")
	// Literal encoded-word look-alikes are themselves encoded, so the
	// decoded text is always the request's.
	if got != want {
		t.Fatalf("Subject %q, want %q (raw %q)", got, want, raw)
	}
}

func checkBody(t *testing.T, pm *parsed, req *Request) {
	t.Helper()
	var inline, attached int
	for _, a := range req.Attachments {
		if a.Disposition == "inline" {
			inline++
		} else {
			attached++
		}
	}
	alt := ""
	if len(req.Content) == 1 {
		alt = mediaType(req.Content[0].Type)
	} else {
		var ts []string
		for _, c := range req.Content {
			ts = append(ts, mediaType(c.Type))
		}
		alt = "alternative[" + strings.Join(ts, ",") + "]"
	}
	shape := alt
	if inline > 0 {
		shape = "related[" + shape
		for _, a := range req.Attachments {
			if a.Disposition == "inline" {
				shape += "," + mediaType(orDefault(a.Type))
			}
		}
		shape += "]"
	}
	if attached > 0 {
		shape = "mixed[" + shape
		for _, a := range req.Attachments {
			if a.Disposition != "inline" {
				shape += "," + mediaType(orDefault(a.Type))
			}
		}
		shape += "]"
	}
	if pm.shape != shape {
		t.Fatalf("shape %s, want %s", pm.shape, shape)
	}
	for _, c := range req.Content {
		e := pm.find(mediaType(c.Type))
		if e == nil {
			t.Fatalf("no %s part", c.Type)
		}
		if got, want := string(e.data), crlf(c.Value); got != want {
			t.Fatalf("%s: %q, want %q", c.Type, trunc(got), trunc(want))
		}
		if strings.HasPrefix(c.Type, "text/") && e.params["charset"] != "utf-8" {
			t.Fatalf("%s charset %q", c.Type, e.params["charset"])
		}
	}
	for _, a := range req.Attachments {
		var e *entity
		for i := range pm.leaves {
			if pm.leaves[i].filename == a.Filename {
				e = &pm.leaves[i]
			}
		}
		if e == nil {
			t.Fatalf("no attachment %q", a.Filename)
		}
		data, _ := base64.StdEncoding.DecodeString(a.Content)
		if !bytes.Equal(e.data, data) {
			t.Fatalf("%s: %q, want %q", a.Filename, trunc(string(e.data)), trunc(string(data)))
		}
		wantDisp := a.Disposition
		if wantDisp == "" {
			wantDisp = "attachment"
		}
		if e.disposition != wantDisp || e.ctype != mediaType(orDefault(a.Type)) || e.params["name"] != a.Filename {
			t.Fatalf("%s: disposition %q, type %q, name %q", a.Filename, e.disposition, e.ctype, e.params["name"])
		}
		if cid := strings.Trim(a.ContentID, "<>"); cid != "" && e.cid != "<"+cid+">" {
			t.Fatalf("%s: Content-ID %q, want <%s>", a.Filename, e.cid, cid)
		}
	}
}

func mediaType(s string) string {
	mt, _, _ := mime.ParseMediaType(s)
	return mt
}

func orDefault(t string) string {
	if t == "" {
		return "application/octet-stream"
	}
	return t
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// checkFolded fails if a header line, in the message or a part, is longer
// than 76 characters, except a line that is one unbreakable run (the long
// List-Unsubscribe URL of TestRoundTrip).
func checkFolded(t *testing.T, b []byte) {
	t.Helper()
	inHeader := true
	for i, l := range strings.Split(string(b), "\r\n") {
		switch {
		case l == "":
			inHeader = false
		case strings.HasPrefix(l, "--=_"):
			inHeader = true
		case inHeader && len(l) > 76 && !strings.HasPrefix(l, "List-Unsubscribe: <https:"):
			t.Fatalf("header line %d is %d characters: %q", i+1, len(l), l)
		}
	}
}

func TestRoundTripManyRecipients(t *testing.T) {
	req := baseRequest()
	p := &req.Personalizations[0]
	p.To = nil
	for i := 0; i < 500; i++ {
		p.To = append(p.To, Address{Email: "to" + itoa(i) + "@example.com", Name: "Tö " + itoa(i) + strings.Repeat("長", 80)})
	}
	for i := 0; i < 499; i++ {
		p.Cc = append(p.Cc, Address{Email: "cc" + itoa(i) + "@example.com", Name: "Cc, " + itoa(i)})
	}
	p.Bcc = []Address{{Email: "secret-bcc@hidden.example"}}
	roundTrip(t, req)
}

func TestRoundTripPersonalizations(t *testing.T) {
	req := baseRequest()
	req.Subject = "Hi -first-"
	req.Content = []Content{{Type: "text/plain", Value: "Dear -first- -last-"}, {Type: "text/html", Value: "<p>-first-</p>"}}
	req.Attachments = []Attachment{{Content: b64("pdf"), Type: "application/pdf", Filename: "a.pdf"}}
	req.ReplyToList = []Address{{Email: "r1@example.com", Name: "Réponse"}, {Email: "r2@example.com"}}
	req.Headers = map[string]string{"X-A": "request", "X-B": "request"}
	req.Personalizations = nil
	for i := 0; i < 20; i++ {
		n := itoa(i)
		req.Personalizations = append(req.Personalizations, Personalization{
			To:            []Address{{Email: "p" + n + "@example.com", Name: "Person " + n}},
			Bcc:           []Address{{Email: "bcc" + n + "@hidden.example"}},
			Substitutions: map[string]string{"-first-": "Fïrst" + n, "-last-": "Last\n" + n},
			Headers:       map[string]string{"x-b": "personal " + n},
		})
	}
	body := mustJSON(t, req)
	ms := compose(t, string(body))
	for i, m := range ms {
		n := itoa(i)
		checkWire(t, m.Body)
		pm := parseMessage(t, m.Body)
		if s := headerValue(t, m.Body, "Subject"); s != "Hi Fïrst"+n {
			t.Fatalf("%d: subject %q", i, s)
		}
		if got := string(pm.find("text/plain").data); got != "Dear Fïrst"+n+" Last\r\n"+n {
			t.Fatalf("%d: text %q", i, got)
		}
		if got := string(pm.find("text/html").data); got != "<p>Fïrst"+n+"</p>" {
			t.Fatalf("%d: html %q", i, got)
		}
		if pm.header.Get("X-A") != "request" || pm.header.Get("X-B") != "personal "+n || len(pm.header["X-B"]) != 1 {
			t.Fatalf("%d: headers %v", i, pm.header)
		}
		checkAddresses(t, pm, "Reply-To", req.ReplyToList)
		if strings.Contains(string(m.Body), "hidden.example") {
			t.Fatalf("%d: bcc in body", i)
		}
		if pm.shape != "mixed[alternative[text/plain,text/html],application/pdf]" {
			t.Fatalf("shape %s", pm.shape)
		}
	}
}
