package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/sendgrid/sendgrid-go"
)

// gtube is the spam scanners' test pattern.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// TestRefusalsOverBothIngresses runs one table of refusals over SMTP
// (go-smtp's client, STARTTLS) and over the HTTP send API (SendGrid's
// official sendgrid-go) against the same running binary. Each way in
// answers in its own vocabulary, and neither accepts what the other
// refuses: after the whole table the queue holds only the messages the
// table expected to be accepted.
func TestRefusalsOverBothIngresses(t *testing.T) {
	in := newInstance(t, 0, "max_message_bytes = 200000", "max_recipients = 5")
	in.start()

	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	good := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))
	revoked := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))
	in.mustCLI("apikey", "revoke", strings.Split(revoked, "_")[1])
	noScope := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--scopes", "suppression.read"))
	elsewhere := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--allow-ip", "192.0.2.0/24"))
	in.mustCLI("user", "create", "banned")
	in.trust("banned", "banned.test")
	banned := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "banned"))
	in.mustCLI("user", "suspend", "banned", "--reason", "test")
	in.mustCLI("user", "create", "hourly")
	in.trust("hourly", "hourly.test")
	hourly := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "hourly"))
	in.mustCLI("limit", "set", "--user", "hourly", "--per", "hour", "--messages", "1")
	in.mustCLI("user", "create", "monthly")
	in.trust("monthly", "monthly.test")
	monthly := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "monthly"))
	in.mustCLI("limit", "set", "--user", "monthly", "--per", "month", "--messages", "1")

	sm := newSMTPSender(t, in)
	api := "http://" + in.addr("http")

	// Use up the one message of each limited user, once over each way in.
	if code, _ := sm.send(hourly, "a@hourly.test", []string{"r@example.test"}, plainBody("a@hourly.test", "first")); code != 250 {
		t.Fatalf("first message of the hourly user over SMTP: %d", code)
	}
	if st, _ := apiSend(t, api, monthly, "a@monthly.test", []string{"r@example.test"}, "first", ""); st != 202 {
		t.Fatalf("first message of the monthly user over HTTP: %d", st)
	}
	accepted := 2

	big := strings.Repeat(strings.Repeat("x", 76)+"\r\n", 3000) // ≈ 234 KB, over the 200 KB limit
	six := []string{"1@example.test", "2@example.test", "3@example.test", "4@example.test", "5@example.test", "6@example.test"}
	cases := []struct {
		name     string
		key      string
		from     string
		to       []string
		text     string
		fromHdr  string // the From field, when it differs from the envelope sender
		smtpCode int
		httpCode int
	}{
		{"bad key", "pst_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "a@example.test", nil, "x", "", 535, 401},
		{"revoked key", revoked, "a@example.test", nil, "x", "", 535, 401},
		{"key without mail.send", noScope, "a@example.test", nil, "x", "", 535, 403},
		{"IP not allowed", elsewhere, "a@example.test", nil, "x", "", 535, 403},
		{"suspended user", banned, "a@banned.test", nil, "x", "", 535, 403},
		{"unverified envelope sender", good, "a@unverified.test", nil, "x", "", 550, 403},
		{"unverified From", good, "a@example.test", nil, "x", "b@unverified.test", 550, 403},
		{"over a rate limit", hourly, "a@hourly.test", nil, "x", "", 451, 429},
		{"over a quota", monthly, "a@monthly.test", nil, "x", "", 550, 429},
		{"GTUBE", good, "a@example.test", nil, gtube, "", 550, 403},
		{"too large", good, "a@example.test", nil, big, "", 552, 413},
		{"too many recipients", good, "a@example.test", six, "x", "", 452, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			to := tc.to
			if to == nil {
				to = []string{"r@example.test"}
			}
			hdrFrom := tc.fromHdr
			if hdrFrom == "" {
				hdrFrom = tc.from
			}
			code, reply := sm.send(tc.key, tc.from, to, plainBody(hdrFrom, tc.text))
			if code != tc.smtpCode {
				t.Errorf("SMTP: %d %q, want %d", code, reply, tc.smtpCode)
			}
			st, body := apiSend(t, api, tc.key, tc.from, to, tc.text, tc.fromHdr)
			if st != tc.httpCode {
				t.Errorf("HTTP: %d %s, want %d", st, body, tc.httpCode)
			}
			var e struct {
				Errors []struct {
					Message string `json:"message"`
				} `json:"errors"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Message == "" {
				t.Errorf("HTTP body %q is not SendGrid's error shape", body)
			}
		})
	}
	// The good key itself is accepted over both: the table's refusals are
	// the refusals, not a broken setup.
	if code, reply := sm.send(good, "a@example.test", []string{"r@example.test"}, plainBody("a@example.test", "fine")); code != 250 {
		t.Fatalf("good message over SMTP: %d %q", code, reply)
	}
	if st, body := apiSend(t, api, good, "a@example.test", []string{"r@example.test"}, "fine", ""); st != 202 {
		t.Fatalf("good message over HTTP: %d %s", st, body)
	}
	accepted += 2
	list := strings.TrimSpace(in.mustCLI("queue", "list"))
	if n := len(strings.Split(list, "\n")); list == "" || n != accepted {
		t.Fatalf("queue list has %d messages, want %d:\n%s", n, accepted, list)
	}
	if strings.Contains(in.log.String(), good) {
		t.Error("an API key reached the log")
	}
	in.stop()
}

func plainBody(from, text string) string {
	return "From: " + from + "\r\nTo: r@example.test\r\nSubject: table\r\n\r\n" + text + "\r\n"
}

// smtpSender is go-smtp's client over STARTTLS, trusting the instance's
// generated certificate.
type smtpSender struct {
	t    *testing.T
	addr string
	tls  *tls.Config
}

func newSMTPSender(t *testing.T, in *instance) *smtpSender {
	pem, err := os.ReadFile(in.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &smtpSender{t: t, addr: in.addr("submission"), tls: &tls.Config{RootCAs: pool, ServerName: "mail.postern.test"}}
}

// send runs one session and returns the first refusal's code and text, or
// 250 and the DATA reply.
func (s *smtpSender) send(key, from string, to []string, msg string) (int, string) {
	s.t.Helper()
	c, err := smtp.DialStartTLS(s.addr, s.tls)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	code := func(err error) (int, string) {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se.Code, se.Message
		}
		s.t.Fatalf("SMTP: %v", err)
		return 0, ""
	}
	if err := c.Auth(sasl.NewPlainClient("", "apikey", key)); err != nil {
		return code(err)
	}
	if err := c.Mail(from, nil); err != nil {
		return code(err)
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return code(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return code(err)
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return code(err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return code(err)
	}
	return 250, resp.StatusText // CloseWithResponse returns no error only for a 2xx
}

// apiSend posts one message with sendgrid-go and returns the status and
// body. A 4xx is not a Go error for sendgrid-go: the status is checked.
func apiSend(t *testing.T, base, key, from string, to []string, text, fromHdr string) (int, string) {
	t.Helper()
	if fromHdr != "" {
		// The API has one From for both: an unverified header From is
		// an unverified from.email.
		from = fromHdr
	}
	var tos []map[string]string
	for _, r := range to {
		tos = append(tos, map[string]string{"email": r})
	}
	body, _ := json.Marshal(map[string]any{
		"personalizations": []any{map[string]any{"to": tos}},
		"from":             map[string]string{"email": from},
		"subject":          "table",
		"content":          []any{map[string]string{"type": "text/plain", "value": text}},
	})
	req := sendgrid.GetRequest(key, "/v3/mail/send", base)
	req.Method = http.MethodPost
	req.Body = body
	resp, err := sendgrid.API(req)
	if err != nil {
		t.Fatalf("sendgrid-go: %v", err)
	}
	return resp.StatusCode, resp.Body
}
