package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
)

// sgClient drives the management API with SendGrid's own Go client,
// unmodified, from a chosen loopback source address.
type sgClient struct {
	t    *testing.T
	base string
	src  string // source address; "" for the default
}

// call sends one request and returns the status and the decoded body.
func (c sgClient) call(key, method, path, obo string, body any) (int, map[string]any, []any) {
	c.t.Helper()
	req := sendgrid.GetRequest(key, path, c.base)
	req.Method = rest.Method(method)
	if obo != "" {
		req.Headers["On-Behalf-Of"] = obo
	}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		req.Body = b
	}
	client := &rest.Client{HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	if c.src != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.src)}, Timeout: 10 * time.Second}
		client.HTTPClient.Transport = &http.Transport{DialContext: d.DialContext}
	}
	resp, err := client.Send(req)
	if err != nil {
		c.t.Fatalf("sendgrid-go %s %s: %v", method, path, err)
	}
	var obj map[string]any
	var arr []any
	if s := strings.TrimSpace(resp.Body); s != "" {
		if strings.HasPrefix(s, "[") {
			json.Unmarshal([]byte(s), &arr)
		} else if err := json.Unmarshal([]byte(s), &obj); err != nil {
			c.t.Fatalf("%s %s: %d, body not JSON: %q", method, path, resp.StatusCode, s)
		}
	}
	return resp.StatusCode, obj, arr
}

// must is call, failing unless the status is want.
func (c sgClient) must(want int, key, method, path, obo string, body any) (map[string]any, []any) {
	c.t.Helper()
	st, obj, arr := c.call(key, method, path, obo, body)
	if st != want {
		c.t.Fatalf("%s %s (obo %q): %d %v %v, want %d", method, path, obo, st, obj, arr, want)
	}
	return obj, arr
}

// smtpSend runs one STARTTLS session from src ("" default) and returns
// the first refusal's code, or 250.
func smtpSend(t *testing.T, in *instance, src, key, from, to string) int {
	t.Helper()
	tlsConf := newSMTPSender(t, in).tls
	d := &net.Dialer{Timeout: 10 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	conn, err := d.Dial("tcp", in.addr("submission"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClientStartTLS(conn, tlsConf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code := func(err error) int {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se.Code
		}
		t.Fatalf("SMTP: %v", err)
		return 0
	}
	if err := c.Auth(sasl.NewPlainClient("", "apikey", key)); err != nil {
		return code(err)
	}
	if err := c.Mail(from, nil); err != nil {
		return code(err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return code(err)
	}
	w, err := c.Data()
	if err != nil {
		return code(err)
	}
	io.WriteString(w, plainBody(from, "managed"))
	if err := w.Close(); err != nil {
		return code(err)
	}
	return 250
}

// TestManagementAPIWithSendGridGo drives each endpoint group of the
// management API with sendgrid-go against the built binary, and checks
// that what it changes takes effect where it should: on SMTP and on the
// API itself, at the next request.
func TestManagementAPIWithSendGridGo(t *testing.T) {
	in := newInstance(t, 0)
	in.start()
	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	admin := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "admin", "--scopes", "full"))
	sg := sgClient{t: t, base: "http://" + in.addr("http")}

	// A key created through the API sends over SMTP.
	obj, _ := sg.must(201, admin, "POST", "/v3/api_keys", "", map[string]any{"name": "sender", "scopes": []string{"mail.send"}})
	sender, _ := obj["api_key"].(string)
	senderID, _ := obj["api_key_id"].(string)
	if sender == "" || senderID == "" {
		t.Fatalf("POST /v3/api_keys: %v", obj)
	}
	if code := smtpSend(t, in, "", sender, "app@example.test", "one@example.test"); code != 250 {
		t.Fatalf("the API's key over SMTP: %d", code)
	}
	// Its scopes changed through the API hold at the next request and the
	// next AUTH.
	sg.must(200, admin, "PUT", "/v3/api_keys/"+senderID, "", map[string]any{"name": "sender", "scopes": []string{"suppression.read"}})
	obj, _ = sg.must(200, sender, "GET", "/v3/scopes", "", nil)
	if fmt.Sprint(obj["scopes"]) != "[suppression.read]" {
		t.Fatalf("scopes after PUT: %v", obj)
	}
	if code := smtpSend(t, in, "", sender, "app@example.test", "two@example.test"); code != 535 {
		t.Fatalf("a key without mail.send over SMTP: %d, want 535", code)
	}
	// A deleted key is refused at once.
	sg.must(204, admin, "DELETE", "/v3/api_keys/"+senderID, "", nil)
	if st, _, _ := sg.call(sender, "GET", "/v3/scopes", "", nil); st != 401 {
		t.Fatalf("a deleted key on the API: %d, want 401", st)
	}

	// A subuser created through the API gets its own key through
	// On-Behalf-Of.
	sg.must(201, admin, "POST", "/v3/subusers", "", map[string]any{"username": "shop", "email": "ops@shop.example", "password": "correct horse battery", "ips": []string{}})
	obj, _ = sg.must(201, admin, "POST", "/v3/api_keys", "shop", map[string]any{"name": "shop-send", "scopes": []string{"mail.send"}})
	shopKey, _ := obj["api_key"].(string)
	if list := in.mustCLI("apikey", "list", "--user", "shop"); !strings.Contains(list, "shop-send") {
		t.Fatalf("the key made on behalf of shop is not shop's:\n%s", list)
	}
	if code := smtpSend(t, in, "", shopKey, "app@example.test", "three@example.test"); code != 250 {
		t.Fatalf("shop's key (acme's shared domain) over SMTP: %d", code)
	}

	// A domain created through the API validates once its records are
	// served; until then mail from it is refused.
	mailKey := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "mail"))
	obj, _ = sg.must(201, admin, "POST", "/v3/whitelabel/domains", "", map[string]any{"domain": "api.test"})
	domainID := fmt.Sprint(obj["id"])
	if code := smtpSend(t, in, "", mailKey, "news@api.test", "four@example.test"); code != 550 {
		t.Fatalf("mail from an unvalidated domain: %d, want 550", code)
	}
	dns, _ := obj["dns"].(map[string]any)
	if len(dns) == 0 {
		t.Fatalf("no DNS records in %v", obj)
	}
	for name, v := range dns {
		rec, _ := v.(map[string]any)
		host, _ := rec["host"].(string)
		data, _ := rec["data"].(string)
		switch strings.ToLower(fmt.Sprint(rec["type"])) {
		case "txt":
			in.dns.Add(host + ". 300 IN TXT " + quoteTXT(data))
		case "mx":
			if len(strings.Fields(data)) == 1 { // SendGrid's shape: the host alone
				data = "10 " + strings.TrimSuffix(data, ".") + "."
			}
			in.dns.Add(host + ". 300 IN MX " + data)
		default:
			t.Logf("record %s of type %v not published by the test", name, rec["type"])
		}
	}
	obj, _ = sg.must(200, admin, "POST", "/v3/whitelabel/domains/"+domainID+"/validate", "", nil)
	if obj["valid"] != true {
		t.Fatalf("validate: %v", obj)
	}
	if code := smtpSend(t, in, "", mailKey, "news@api.test", "four@example.test"); code != 250 {
		t.Fatalf("mail from the validated domain: %d", code)
	}

	// A single sender added through the API gets its confirmation mail,
	// not a second one at once, and can be deleted.
	obj, _ = sg.must(201, admin, "POST", "/v3/verified_senders", "", map[string]any{"nickname": "ops", "from_email": "ops@mailbox.test", "reply_to": "ops@mailbox.test"})
	singleID := fmt.Sprint(obj["id"])
	obj, _ = sg.must(200, admin, "GET", "/v3/verified_senders", "", nil)
	if !strings.Contains(fmt.Sprint(obj["results"]), "ops@mailbox.test") {
		t.Fatalf("verified_senders: %v", obj)
	}
	// Mailed again at once: refused (domains.sender_resend_interval), so
	// a key cannot make Postern mail an address over and over.
	if st, obj, _ := sg.call(admin, "POST", "/v3/verified_senders/resend/"+singleID, "", nil); st != 429 {
		t.Fatalf("an immediate resend: %d %v, want 429", st, obj)
	}
	waitFor(t, "one confirmation mail to ops@mailbox.test", func() bool {
		return strings.Count(in.mustCLI("queue", "list", "--user", "acme"), "ops@mailbox.test") == 1
	})
	sg.must(204, admin, "DELETE", "/v3/verified_senders/"+singleID, "", nil)
	if list := in.mustCLI("sender", "list", "--user", "acme"); strings.Contains(list, "ops@mailbox.test") {
		t.Fatalf("a deleted sender is still listed:\n%s", list)
	}

	// A suppression added through the API drops the next message to it.
	sg.must(201, admin, "POST", "/v3/asm/suppressions/global", "", map[string]any{"recipient_emails": []string{"gone@example.test"}})
	if code := smtpSend(t, in, "", mailKey, "app@example.test", "gone@example.test"); code != 250 {
		t.Fatalf("mail to a suppressed address: %d (accepted, then dropped)", code)
	}
	waitFor(t, "the suppressed recipient to be dropped", func() bool {
		list := in.mustCLI("queue", "list", "--user", "acme")
		return strings.Contains(list, "gone@example.test") && !strings.Contains(list, "pending")
	})
	for _, m := range in.sink.Messages() {
		if strings.Contains(strings.Join(m.To, ","), "gone@example.test") {
			t.Fatal("a suppressed address was delivered to")
		}
	}

	// The suppression lists show it on its list and nowhere else.
	if _, arr := sg.must(200, admin, "GET", "/v3/suppression/unsubscribes", "", nil); !strings.Contains(fmt.Sprint(arr), "gone@example.test") {
		t.Fatalf("unsubscribes: %v", arr)
	}
	if _, arr := sg.must(200, admin, "GET", "/v3/suppression/bounces", "", nil); strings.Contains(fmt.Sprint(arr), "gone@example.test") {
		t.Fatalf("bounces: %v", arr)
	}

	// A whitelist entry through the API refuses another client address on
	// SMTP and on the API.
	sg.must(201, admin, "POST", "/v3/access_settings/whitelist", "", map[string]any{"ips": []map[string]string{{"ip": "127.0.0.2"}}})
	if st, _, _ := sg.call(admin, "GET", "/v3/scopes", "", nil); st != 403 {
		t.Fatalf("the API from 127.0.0.1 after the whitelist: %d, want 403", st)
	}
	if code := smtpSend(t, in, "", mailKey, "app@example.test", "five@example.test"); code != 535 {
		t.Fatalf("SMTP from 127.0.0.1 after the whitelist: %d, want 535", code)
	}
	from2 := sgClient{t: t, base: sg.base, src: "127.0.0.2"}
	from2.must(200, admin, "GET", "/v3/scopes", "", nil)
	if code := smtpSend(t, in, "127.0.0.2", mailKey, "app@example.test", "five@example.test"); code != 250 {
		t.Fatalf("SMTP from the whitelisted 127.0.0.2: %d", code)
	}
}

// quoteTXT writes a TXT record's data as quoted strings of at most 255
// octets (RFC 1035 §3.3.14).
func quoteTXT(data string) string {
	var parts []string
	for len(data) > 255 {
		parts = append(parts, `"`+data[:255]+`"`)
		data = data[255:]
	}
	return strings.Join(append(parts, `"`+data+`"`), " ")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
