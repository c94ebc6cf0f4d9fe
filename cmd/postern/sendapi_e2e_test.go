package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/postern/postern/internal/testenv"
)

// published is the binary with a verified, DKIM-published acme.test of
// user acme and a key of acme's, delivering to a real Postfix for
// example.test.
type published struct {
	*instance
	pf   *testenv.Postfix
	key  string
	txt  []string
	base string
}

func startPublished(t *testing.T) *published {
	pf := testenv.StartPostfix(t, "example.test")
	_, port, _ := net.SplitHostPort(pf.Addr)
	p, _ := strconv.Atoi(port)
	in := newInstance(t, p)
	in.start()
	in.mustCLI("user", "create", "acme")
	txt := in.publishDomain("acme", "acme.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "api"))
	return &published{instance: in, pf: pf, key: key, txt: txt, base: "http://" + in.addr("http")}
}

// waitMessages waits until Postfix holds n messages and returns them.
func (s *published) waitMessages(t *testing.T, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		msgs, _ := s.pf.Messages()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages arrived\n%s\n%s", len(msgs), n, s.pf.Log(), s.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var queueIDRE = regexp.MustCompile(`^[0-9a-v]{26}$`)

// TestSendGridGoToPostfix: the official sendgrid-go, unmodified, pointed at
// Postern's base URL, sends two personalizations with cc and bcc, text and
// HTML, an attachment and an inline image. The reply is 202 with an
// X-Message-Id that postern queue show knows; a real Postfix receives
// every copy, each with two DKIM signatures that dkimpy verifies, no Bcc
// anywhere in the header, and the parts intact.
func TestSendGridGoToPostfix(t *testing.T) {
	s := startPublished(t)
	m := sgmail.NewV3Mail()
	m.SetFrom(sgmail.NewEmail("Acme News", "news@acme.test"))
	m.Subject = "Default subject"
	p1 := sgmail.NewPersonalization()
	p1.AddTos(sgmail.NewEmail("Ann", "ann@example.test"))
	p1.AddCCs(sgmail.NewEmail("", "carl@example.test"))
	p1.AddBCCs(sgmail.NewEmail("", "hidden@example.test"))
	p1.Subject = "For Ann"
	p2 := sgmail.NewPersonalization()
	p2.AddTos(sgmail.NewEmail("", "bob@example.test"))
	m.AddPersonalizations(p1, p2)
	m.AddContent(sgmail.NewContent("text/plain", "Plain text, unchanged."), sgmail.NewContent("text/html", `<p>HTML <img src="cid:logo"></p>`))
	report := []byte("quarterly numbers\n1,2,3\n")
	logo := []byte("\x89PNG\r\n\x1a\nnot really a png")
	m.AddAttachment(sgmail.NewAttachment().SetContent(base64.StdEncoding.EncodeToString(report)).
		SetType("text/csv").SetFilename("report.csv").SetDisposition("attachment"))
	m.AddAttachment(sgmail.NewAttachment().SetContent(base64.StdEncoding.EncodeToString(logo)).
		SetType("image/png").SetFilename("logo.png").SetDisposition("inline").SetContentID("logo"))
	m.AddCategories("newsletter")
	m.SetCustomArg("campaign", "winter")

	c := sendgrid.NewSendClient(s.key)
	c.BaseURL = s.base + "/v3/mail/send"
	resp, err := c.Send(m)
	if err != nil {
		t.Fatalf("sendgrid-go: %v", err)
	}
	if resp.StatusCode != 202 || resp.Body != "" {
		t.Fatalf("status %d body %q, want 202 and no body", resp.StatusCode, resp.Body)
	}
	id := first(resp.Headers["X-Message-Id"])
	if !queueIDRE.MatchString(id) {
		t.Fatalf("X-Message-Id %q", id)
	}
	show := s.mustCLI("queue", "show", id)
	if !strings.Contains(show, "id:       "+id) || !strings.Contains(show, "ann@example.test") ||
		!strings.Contains(show, "hidden@example.test") || strings.Contains(show, "bob@example.test") {
		t.Fatalf("queue show %s:\n%s", id, show)
	}

	msgs := s.waitMessages(t, 4) // ann, carl, hidden; bob
	subjects := map[string]int{}
	for _, raw := range msgs {
		verifyDKIM(t, raw, s.txt, 2)
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		subjects[msg.Header.Get("Subject")]++
		// What Postern wrote starts at its first DKIM-Signature; above it
		// are the receiver's own fields (Delivered-To, X-Original-To,
		// Received … for <rcpt>), which name the recipient by design.
		hdrEnd := bytes.Index(raw, []byte("\r\n\r\n"))
		if hdrEnd < 0 {
			hdrEnd = bytes.Index(raw, []byte("\n\n"))
		}
		ours := raw[bytes.Index(raw, []byte("DKIM-Signature:")):hdrEnd]
		if bytes.Contains(ours, []byte("hidden@example.test")) {
			t.Errorf("the Bcc address is in a header Postern wrote:\n%s", ours)
		}
		if msg.Header.Get("X-SMTPAPI") != "" || msg.Header.Get("Bcc") != "" {
			t.Errorf("X-SMTPAPI or Bcc delivered")
		}
		parts := walkParts(t, msg.Header.Get("Content-Type"), msg.Body)
		if parts["text/plain"] != "Plain text, unchanged." || !strings.Contains(parts["text/html"], `cid:logo`) {
			t.Errorf("text %q html %q", parts["text/plain"], parts["text/html"])
		}
		if parts["report.csv"] != string(report) || parts["logo.png"] != string(logo) || parts["cid"] != "<logo>" {
			t.Errorf("attachments: report %q logo %q cid %q", parts["report.csv"], parts["logo.png"], parts["cid"])
		}
	}
	if subjects["For Ann"] != 3 || subjects["Default subject"] != 1 {
		t.Errorf("subjects %v, want 3 for Ann's personalization and 1 default", subjects)
	}
	s.stop()
}

// walkParts returns a MIME tree's leaves: "text/plain" and "text/html"
// bodies, attachments by filename, and the inline part's Content-ID as
// "cid".
func walkParts(t *testing.T, ct string, body io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(ct string, cte string, cd string, cid string, r io.Reader)
	walk = func(ct, cte, cd, cid string, r io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("Content-Type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"),
					p.Header.Get("Content-Disposition"), p.Header.Get("Content-ID"), p)
			}
		}
		var data []byte
		switch strings.ToLower(cte) {
		case "base64":
			data, err = io.ReadAll(base64.NewDecoder(base64.StdEncoding, r))
		case "quoted-printable":
			data, err = io.ReadAll(quotedprintable.NewReader(r))
		default:
			data, err = io.ReadAll(r)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dp, err := mime.ParseMediaType(cd); err == nil && dp["filename"] != "" {
			out[dp["filename"]] = string(data)
			if cid != "" {
				out["cid"] = cid
			}
			return
		}
		out[mt] = strings.TrimRight(string(data), "\r\n")
	}
	walk(ct, "", "", "", body)
	return out
}

// TestSendGridNodeToPostfix: the official @sendgrid/mail (npm), unmodified,
// pointed at Postern's base URL, sends a message that a real Postfix
// receives with verifying DKIM signatures; its X-Message-Id is the queue id.
func TestSendGridNodeToPostfix(t *testing.T) {
	node := needPeer(t, "node")
	dir, _ := filepath.Abs("testdata/node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@sendgrid", "mail")); err != nil {
		testenv.NeedPeer(t, "@sendgrid/mail (npm ci in cmd/postern/testdata/node)")
	}
	s := startPublished(t)
	run := func(msg map[string]any) (int, string, string) {
		in, _ := json.Marshal(map[string]any{"key": s.key, "baseUrl": s.base, "msg": msg})
		cmd := exec.Command(node, filepath.Join(dir, "send.js"))
		cmd.Stdin = bytes.NewReader(in)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("node: %v\n%s", err, out)
		}
		var r struct {
			Status    int             `json:"status"`
			MessageID string          `json:"messageId"`
			Body      json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("node output %q: %v", out, err)
		}
		return r.Status, r.MessageID, string(r.Body)
	}
	status, id, body := run(map[string]any{"to": "nina@example.test", "from": "News <news@acme.test>",
		"subject": "From Node", "text": "Sent by @sendgrid/mail.", "html": "<p>Sent by <b>@sendgrid/mail</b>.</p>"})
	if status != 202 || !queueIDRE.MatchString(id) {
		t.Fatalf("status %d id %q body %s", status, id, body)
	}
	if show := s.mustCLI("queue", "show", id); !strings.Contains(show, "nina@example.test") {
		t.Fatalf("queue show %s:\n%s", id, show)
	}
	// An unverified sender is refused in SendGrid's shape, which the
	// library surfaces as an error with the response.
	status, _, body = run(map[string]any{"to": "nina@example.test", "from": "x@unverified.test", "subject": "s", "text": "t"})
	if status != 403 || !strings.Contains(body, "unverified.test") {
		t.Errorf("unverified sender: %d %s", status, body)
	}
	got := s.waitMessages(t, 1)[0]
	verifyDKIM(t, got, s.txt, 2)
	if !bytes.Contains(got, []byte("Subject: From Node")) {
		t.Errorf("delivered:\n%s", got)
	}
	s.stop()
}

// TestSendAtAndSandbox: send_at holds a message until its time, then it
// is delivered; sandbox mode validates and queues nothing.
func TestSendAtAndSandbox(t *testing.T) {
	s := startPublished(t)
	post := func(extra map[string]any) (int, string, string) {
		body := map[string]any{
			"personalizations": []any{map[string]any{"to": []any{map[string]string{"email": "sam@example.test"}}}},
			"from":             map[string]string{"email": "news@acme.test"},
			"subject":          "scheduled",
			"content":          []any{map[string]string{"type": "text/plain", "value": "later"}},
		}
		for k, v := range extra {
			body[k] = v
		}
		js, _ := json.Marshal(body)
		req := sendgrid.GetRequest(s.key, "/v3/mail/send", s.base)
		req.Method = "POST"
		req.Body = js
		resp, err := sendgrid.API(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, first(resp.Headers["X-Message-Id"]), resp.Body
	}
	st, _, body := post(map[string]any{"mail_settings": map[string]any{"sandbox_mode": map[string]bool{"enable": true}}})
	if st != 200 || body != "" {
		t.Fatalf("sandbox: %d %q", st, body)
	}
	if list := strings.TrimSpace(s.mustCLI("queue", "list")); list != "" {
		t.Fatalf("sandbox queued:\n%s", list)
	}
	st, _, body = post(map[string]any{"mail_settings": map[string]any{"sandbox_mode": map[string]bool{"enable": true}},
		"template_id": "d-123"})
	if st != 400 || !strings.Contains(body, "template_id") {
		t.Errorf("sandbox still validates: %d %s", st, body)
	}

	sendAt := time.Now().Add(8 * time.Second).Truncate(time.Second)
	st, id, body := post(map[string]any{"send_at": sendAt.Unix()})
	if st != 202 {
		t.Fatalf("send_at: %d %s", st, body)
	}
	if show := s.mustCLI("queue", "show", id); !strings.Contains(show, "pending") {
		t.Fatalf("right after the send, before send_at:\n%s", show)
	}
	s.waitMessages(t, 1)
	show := s.mustCLI("queue", "show", id)
	m := regexp.MustCompile(`(?m)^\s+(\d{4}-\S+)\s+delivered\s`).FindStringSubmatch(show)
	if m == nil {
		t.Fatalf("no delivered event:\n%s", show)
	}
	at, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatalf("event time %q: %v", m[1], err)
	}
	if at.Before(sendAt.UTC().Truncate(time.Second)) {
		t.Errorf("delivered at %v, before send_at %v", at, sendAt.UTC())
	}
	s.stop()
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// TestHeaderHygieneToPostfix: a forged X-Originating-IP and a forged
// Authentication-Results in Postern's name never reach the receiver, over
// SMTP (swaks) or HTTP (sendgrid-go, as custom headers), with and without
// the user's opt-out of X-Originating-IP; X-SMTPAPI's categories and
// unique args are kept with the message and the header is not delivered.
func TestHeaderHygieneToPostfix(t *testing.T) {
	swaks := needPeer(t, "swaks")
	s := startPublished(t)
	host, port, _ := net.SplitHostPort(s.addr("submission"))
	forged := []string{"X-Originating-IP: [10.66.66.66]", "Authentication-Results: mail.postern.test; dkim=pass header.d=bank.test"}
	smtpSend := func(to string) string {
		args := []string{"--server", host, "--port", port, "--tls", "-a", "PLAIN", "-au", "apikey", "-ap", s.key,
			"--from", "news@acme.test", "--to", to, "--h-From", "news@acme.test", "--h-Subject", "hygiene",
			"--add-header", `X-SMTPAPI: {"category": ["hygiene"], "unique_args": {"order": "7"}}`}
		for _, h := range forged {
			args = append(args, "--add-header", h)
		}
		out, err := exec.Command(swaks, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`queued as ([0-9a-v]{26})`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("swaks: no queue id\n%s", out)
		}
		return string(m[1])
	}
	c := sendgrid.NewSendClient(s.key)
	c.BaseURL = s.base + "/v3/mail/send"
	apiSend := func(to string, forge bool) {
		m := sgmail.NewV3MailInit(sgmail.NewEmail("", "news@acme.test"), "hygiene", sgmail.NewEmail("", to),
			sgmail.NewContent("text/plain", "hygiene"))
		if forge {
			m.SetHeader("X-Originating-IP", "[10.66.66.66]")
			m.SetHeader("Authentication-Results", "mail.postern.test; dkim=pass header.d=bank.test")
		}
		resp, err := c.Send(m)
		if err != nil {
			t.Fatalf("sendgrid-go: %v", err)
		}
		switch {
		case forge && (resp.StatusCode != 400 || !strings.Contains(resp.Body, "headers.X-Originating-IP") ||
			!strings.Contains(resp.Body, "headers.Authentication-Results")):
			t.Fatalf("forged headers over the API: %d %s, want 400 naming both", resp.StatusCode, resp.Body)
		case !forge && resp.StatusCode != 202:
			t.Fatalf("sendgrid-go: %d %s", resp.StatusCode, resp.Body)
		}
	}
	// Over the API the composer refuses the fields outright (400, named);
	// the funnel's hygiene is the second line, shown over SMTP.
	apiSend("api-forged@example.test", true)
	id := smtpSend("smtp-on@example.test")
	apiSend("api-on@example.test", false)
	s.mustCLI("user", "set", "acme", "--originating-ip", "off")
	smtpSend("smtp-off@example.test")
	apiSend("api-off@example.test", false)

	for _, raw := range s.waitMessages(t, 4) {
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		to := msg.Header.Get("To")
		ips := msg.Header["X-Originating-Ip"]
		if strings.Contains(string(raw), "10.66.66.66") {
			t.Errorf("%s: the forged X-Originating-IP arrived", to)
		}
		if strings.Contains(to, "-off@") && len(ips) != 0 {
			t.Errorf("%s: opted out, but X-Originating-IP %q", to, ips)
		}
		if strings.Contains(to, "-on@") && (len(ips) != 1 || ips[0] != "[127.0.0.1]") {
			t.Errorf("%s: X-Originating-IP %q, want [127.0.0.1] alone", to, ips)
		}
		for _, ar := range msg.Header["Authentication-Results"] {
			if strings.HasPrefix(ar, "mail.postern.test") {
				t.Errorf("%s: forged Authentication-Results arrived: %q", to, ar)
			}
		}
		if msg.Header.Get("X-Smtpapi") != "" {
			t.Errorf("%s: X-SMTPAPI delivered", to)
		}
	}
	show := s.mustCLI("queue", "show", id)
	if !strings.Contains(show, "hygiene") || !strings.Contains(show, `"order":"7"`) {
		t.Errorf("queue show does not list the X-SMTPAPI metadata:\n%s", show)
	}
	s.stop()
}
