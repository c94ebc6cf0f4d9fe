package compose

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/message"
)

var testNow = time.Date(2024, 3, 5, 10, 30, 0, 0, time.UTC)

// countReader is a deterministic Rand: 0, 1, 2, … mod 256.
type countReader struct{ n byte }

func (r *countReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

func testOptions() Options { return Options{Now: testNow, Rand: &countReader{}} }

// compose decodes and builds body, failing the test on any error.
func compose(t testing.TB, body string) []Message {
	t.Helper()
	req, err := Decode([]byte(body))
	if err != nil {
		t.Fatalf("Decode: %v\n%s", err, errList(err))
	}
	ms, err := Build(req, testOptions())
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, errList(err))
	}
	return ms
}

// errList renders every FieldError of err.
func errList(err error) string {
	var errs *Errors
	if !errors.As(err, &errs) {
		return fmt.Sprintf("not *Errors: %T %v", err, err)
	}
	var b strings.Builder
	for _, e := range *errs {
		fmt.Fprintf(&b, "  %q: %s\n", e.Field, e.Message)
	}
	return b.String()
}

// fields returns the Field of every FieldError in err, or fails.
func fields(t *testing.T, err error) []string {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T) is not *Errors", err, err)
	}
	var fs []string
	for _, e := range *errs {
		if e.Message == "" {
			t.Errorf("FieldError %q has no message", e.Field)
		}
		fs = append(fs, e.Field)
	}
	return fs
}

func hasField(fs []string, f string) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

// checkWire fails unless b passes the checks the SMTP server applies.
func checkWire(t testing.TB, b []byte) {
	t.Helper()
	if err := message.CheckLineEndings(b); err != nil {
		t.Fatalf("CheckLineEndings: %v", err)
	}
	if err := message.CheckLineLength(b, 1000); err != nil {
		t.Fatalf("CheckLineLength: %v", err)
	}
	h, err := message.ParseHeader(b)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	if h.BodyOffset >= len(b) && !bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		t.Fatalf("no empty line after the header")
	}
	for _, name := range []string{"Bcc", "X-SMTPAPI"} {
		if h.Has(name) {
			t.Fatalf("output has a %s field", name)
		}
	}
	for _, name := range []string{"From", "To", "Subject", "Date", "MIME-Version", "Content-Type"} {
		if n := h.Count(name); n != 1 {
			t.Fatalf("%d %s fields", n, name)
		}
	}
}

// entity is one leaf of a parsed message.
type entity struct {
	ctype       string // media type
	params      map[string]string
	disposition string
	filename    string
	cid         string
	data        []byte // decoded
}

// parsed is a message read back with net/mail and mime/multipart.
type parsed struct {
	header mail.Header
	shape  string // e.g. mixed[alternative[text/plain,text/html],application/pdf]
	leaves []entity
}

func (p *parsed) find(ctype string) *entity {
	for i := range p.leaves {
		if p.leaves[i].ctype == ctype && p.leaves[i].filename == "" {
			return &p.leaves[i]
		}
	}
	return nil
}

func parseMessage(t testing.TB, b []byte) *parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("net/mail: %v", err)
	}
	if v := m.Header.Get("MIME-Version"); v != "1.0" {
		t.Fatalf("MIME-Version %q", v)
	}
	p := &parsed{header: m.Header}
	p.shape = walk(t, p, m.Header, m.Body)
	return p
}

type getter interface{ Get(string) string }

// walk reads one entity, appends its leaves, and returns its shape.
func walk(t testing.TB, p *parsed, h getter, body io.Reader) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	if sub, ok := strings.CutPrefix(mt, "multipart/"); ok {
		if h.Get("Content-Transfer-Encoding") != "" {
			t.Fatalf("multipart with a Content-Transfer-Encoding")
		}
		if sub == "related" && params["type"] == "" {
			t.Fatalf("multipart/related without type")
		}
		mr := multipart.NewReader(body, params["boundary"])
		var kids []string
		first := ""
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("multipart: %v", err)
			}
			k := walk(t, p, part.Header, part)
			if first == "" {
				first = k
			}
			kids = append(kids, k)
		}
		if sub == "related" {
			root, _, _ := strings.Cut(first, "[")
			if want := params["type"]; "multipart/"+root != want && root != want {
				t.Fatalf("related type %q, root %q", want, first)
			}
		}
		return sub + "[" + strings.Join(kids, ",") + "]"
	}
	var r io.Reader
	switch cte := strings.ToLower(h.Get("Content-Transfer-Encoding")); cte {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	default:
		t.Fatalf("Content-Transfer-Encoding %q", cte)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s body: %v", mt, err)
	}
	e := entity{ctype: mt, params: params, data: data}
	if cd := h.Get("Content-Disposition"); cd != "" {
		d, dp, err := mime.ParseMediaType(cd)
		if err != nil {
			t.Fatalf("Content-Disposition %q: %v", cd, err)
		}
		e.disposition, e.filename = d, dp["filename"]
	}
	e.cid = h.Get("Content-ID")
	p.leaves = append(p.leaves, e)
	return mt
}

// crlf turns the line breaks of s into CRLF, as Build does for texts.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func asErrors(err error, target **Errors) bool { return errors.As(err, target) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// baseRequest is a valid request for tests to change.
func baseRequest() *Request {
	return &Request{
		Personalizations: []Personalization{{To: []Address{{Email: "to@example.com", Name: "To"}}}},
		From:             Address{Email: "from@example.com", Name: "From"},
		Subject:          "Subject",
		Content:          []Content{{Type: "text/plain", Value: "plain"}, {Type: "text/html", Value: "<p>html</p>"}},
	}
}
