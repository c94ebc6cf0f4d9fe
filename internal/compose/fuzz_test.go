package compose

import (
	"bytes"
	"errors"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/message"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/ and run with every
// go test.

func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Decode(body)
		if err != nil {
			checkErrors(t, err)
			return
		}
		ms, err := Build(req, Options{Now: testNow, Rand: &countReader{}, MaxTotalBytes: 64 << 20})
		if err != nil {
			checkErrors(t, err)
			return
		}
		if len(ms) != len(req.Personalizations) {
			t.Fatalf("%d messages for %d personalizations", len(ms), len(req.Personalizations))
		}
		for i, m := range ms {
			checkWire(t, m.Body)
			// To and Cc read back as given, so no bcc address is in them;
			// checkWire saw no Bcc field.
			p := req.Personalizations[i]
			msg, err := mail.ReadMessage(bytes.NewReader(m.Body))
			if err != nil {
				t.Fatalf("net/mail: %v", err)
			}
			for _, f := range []struct {
				name string
				want []Address
			}{{"To", p.To}, {"Cc", p.Cc}} {
				got, err := msg.Header.AddressList(f.name)
				if len(f.want) == 0 {
					if err != mail.ErrHeaderNotPresent {
						t.Fatalf("%s present: %v", f.name, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s %q: %v", f.name, msg.Header.Get(f.name), err)
				}
				if len(got) != len(f.want) {
					t.Fatalf("%s: %d addresses, want %d", f.name, len(got), len(f.want))
				}
				for j, a := range got {
					if a.Address != f.want[j].Email || a.Name != f.want[j].Name {
						t.Fatalf("%s %d: %q <%s>, want %q <%s>", f.name, j, a.Name, a.Address, f.want[j].Name, f.want[j].Email)
					}
				}
			}
			if len(m.Recipients) == 0 || m.From == "" {
				t.Fatalf("message %d: from %q, %d recipients", i, m.From, len(m.Recipients))
			}
		}
	})
}

func FuzzParseSMTPAPI(f *testing.F) {
	f.Fuzz(func(t *testing.T, value string) {
		m, err := ParseSMTPAPI(value)
		if err != nil {
			checkErrors(t, err)
			return
		}
		if len(m.Categories) > MaxCategories {
			t.Fatalf("%d categories", len(m.Categories))
		}
		n := 0
		for k, v := range m.CustomArgs {
			n += len(k) + len(v)
		}
		if n > MaxCustomArgsBytes {
			t.Fatalf("%d bytes of unique_args", n)
		}
		if _, err := CheckSendAt(m.SendAt, Options{Now: time.Unix(0, 0)}); err != nil {
			checkErrors(t, err)
		}
	})
}

// checkErrors fails unless err is a non-empty *Errors of short messages.
func checkErrors(t *testing.T, err error) {
	t.Helper()
	var errs *Errors
	if !errors.As(err, &errs) || len(*errs) == 0 || len(*errs) > MaxErrors+1 {
		t.Fatalf("error %v (%T) is not a non-empty *Errors", err, err)
	}
	for _, e := range *errs {
		if e.Message == "" || len(e.Message) > 200 || len(e.Field) > 400 {
			t.Fatalf("bad FieldError %q %q", e.Field, e.Message)
		}
	}
}

// FuzzBuild puts fuzzed strings into the fields of a valid request: what
// Build accepts must read back exactly with net/mail and mime/multipart.
func FuzzBuild(f *testing.F) {
	f.Fuzz(func(t *testing.T, name, email, subject, hname, hvalue, text, filename, cid, subKey, subVal string) {
		req := &Request{
			Personalizations: []Personalization{{
				To:  []Address{{Email: email, Name: name}, {Email: "second@example.com", Name: name}},
				Bcc: []Address{{Email: "hidden-bcc@example.net"}},
			}},
			From:        Address{Email: "from@example.com", Name: name},
			Subject:     subject,
			Content:     []Content{{Type: "text/plain", Value: text}, {Type: "text/html", Value: "<p>" + text}},
			Headers:     map[string]string{hname: hvalue},
			Attachments: []Attachment{{Content: b64(text), Filename: filename, Disposition: "inline", ContentID: cid}},
		}
		if subKey != "" {
			req.Personalizations[0].Substitutions = map[string]string{subKey: subVal}
		}
		ms, err := Build(req, Options{Now: testNow, Rand: &countReader{}})
		if err != nil {
			checkErrors(t, err)
			return
		}
		m := ms[0]
		checkWire(t, m.Body)
		if bytes.Contains(m.Body, []byte("hidden-bcc")) {
			t.Fatal("bcc in body")
		}
		sub := func(s string) string {
			if subKey == "" {
				return s
			}
			return strings.ReplaceAll(s, subKey, subVal)
		}
		pm := parseMessage(t, m.Body)
		got, err := pm.header.AddressList("To")
		if err != nil || len(got) != 2 || got[0].Name != name || got[0].Address != email || got[1].Name != name {
			t.Fatalf("To %q: %v %v", pm.header.Get("To"), got, err)
		}
		if s, want := headerValueF(t, m.Body, "Subject", false), strings.Trim(sub(strings.Trim(subject, " \t")), " \t"); s != want {
			t.Fatalf("Subject %q, want %q", s, want)
		}
		v := strings.Trim(hvalue, " \t")
		if got := headerValueF(t, m.Body, hname, isPrintableASCII(v)); got != v {
			t.Fatalf("%s: %q, want %q", hname, got, v)
		}
		if got := string(pm.find("text/plain").data); got != crlf(sub(text)) {
			t.Fatalf("text %q, want %q", got, crlf(sub(text)))
		}
		var att *entity
		for i := range pm.leaves {
			if pm.leaves[i].filename != "" {
				att = &pm.leaves[i]
			}
		}
		if att == nil || att.filename != filename || string(att.data) != text || att.params["name"] != filename {
			t.Fatalf("attachment %+v", att)
		}
		if want := "<" + strings.TrimSuffix(strings.TrimPrefix(cid, "<"), ">") + ">"; att.cid != want {
			t.Fatalf("Content-ID %q, want %q", att.cid, want)
		}
	})
}

// headerValueF is headerValue for a fuzz test: the exactly unfolded value
// of name, RFC 2047 decoded unless raw.
func headerValueF(t *testing.T, b []byte, name string, raw bool) string {
	t.Helper()
	h, err := message.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	vs := h.Values(name)
	if len(vs) != 1 {
		t.Fatalf("%d %s fields", len(vs), name)
	}
	if raw {
		return vs[0]
	}
	v, err := new(mime.WordDecoder).DecodeHeader(vs[0])
	if err != nil {
		t.Fatalf("%s %q: %v", name, vs[0], err)
	}
	return v
}
