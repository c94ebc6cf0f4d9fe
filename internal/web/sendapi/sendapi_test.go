package sendapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
)

// TestSend: a request through sendgrid-go's request API is queued with
// its envelope, and the reply is SendGrid's 202 with X-Message-Id.
func TestSend(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := `{"personalizations":[{"to":[{"email":"one@example.test","name":"One"}],` +
		`"cc":[{"email":"cc@example.test"}],"bcc":[{"email":"hidden@example.test"}]}],` +
		`"from":{"email":"sender@acme.test","name":"Acme"},"subject":"Hello",` +
		`"content":[{"type":"text/plain","value":"Hello from the API."}],"categories":["welcome"]}`
	r := e.api(e.key, body)
	if r.status != 202 || r.body != "" {
		t.Fatalf("status %d, body %q", r.status, r.body)
	}
	id := r.header.Get("X-Message-Id")
	m, err := e.store.Message(context.Background(), id)
	if err != nil {
		t.Fatalf("X-Message-Id %q: %v", id, err)
	}
	if m.From != "sender@acme.test" || !slices.Equal(m.Recipients, []string{"one@example.test", "cc@example.test", "hidden@example.test"}) ||
		m.KeyID != e.keyID || m.UserName != "acme" || !strings.Contains(m.Meta, "welcome") {
		t.Errorf("stored %+v", m)
	}
	raw, err := e.store.MessageBody(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(raw)
	for _, want := range []string{"Subject: Hello\r\n", "From: Acme <sender@acme.test>\r\n", "with HTTP", "Hello from the API."} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hidden@example.test") || strings.Contains(msg, "with HTTPS") {
		t.Errorf("bcc shown or wrong protocol:\n%s", msg)
	}
	logs := e.logs.String()
	if !regexp.MustCompile(`msg="mail send" session=http-[0-9a-f]+ status=202 ip=127\.0\.0\.1 key_id=` + regexp.QuoteMeta(e.keyID) + ` msg_ids=` + regexp.QuoteMeta(id)).MatchString(logs) {
		t.Errorf("no request line in the log:\n%s", logs)
	}
}

// TestSendClient: sendgrid-go's mail client, pointed at Postern.
func TestSendClient(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := sendgrid.NewSendClient(e.key)
	c.BaseURL = e.base + "/v3/mail/send"
	res, err := c.Send(mail.NewSingleEmail(mail.NewEmail("Acme", "sender@acme.test"), "Welcome",
		mail.NewEmail("Ann", "ann@example.test"), "plain text", "<p>html</p>"))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 202 {
		t.Fatalf("status %d: %s", res.StatusCode, res.Body)
	}
	m, err := e.store.Message(context.Background(), res.Headers["X-Message-Id"][0])
	if err != nil || !slices.Equal(m.Recipients, []string{"ann@example.test"}) {
		t.Fatalf("stored %+v, %v", m, err)
	}
}

// TestSendSeveral: one message per personalization, in order; the reply
// names the first.
func TestSendSeveral(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := `{"personalizations":[{"to":[{"email":"a@example.test"}]},{"to":[{"email":"b@example.test"}],"from":{"email":"other@acme.test"}}],` +
		`"from":{"email":"sender@acme.test"},"subject":"S","content":[{"type":"text/plain","value":"x"}]}`
	r := e.api(e.key, body)
	if r.status != 202 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	msgs := e.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	byRcpt := map[string]store.Message{}
	for _, m := range msgs {
		byRcpt[m.Recipients[0]] = m
	}
	if byRcpt["a@example.test"].From != "sender@acme.test" || byRcpt["b@example.test"].From != "other@acme.test" {
		t.Errorf("envelopes %+v", msgs)
	}
	if r.header.Get("X-Message-Id") != byRcpt["a@example.test"].ID {
		t.Errorf("X-Message-Id %q is not the first message", r.header.Get("X-Message-Id"))
	}
}

// TestSendRefused: each refusal in SendGrid's status and error shape,
// and nothing queued by any of them.
func TestSendRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	noScope, _, err := e.accounts.CreateKey(ctx, "acme", "stats", []string{"stats.read"})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, _, err := e.accounts.CreateKey(ctx, "acme", "office", []string{account.ScopeMailSend}, netip.MustParsePrefix("192.0.2.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	revoked, rec, err := e.accounts.CreateKey(ctx, "acme", "old", []string{account.ScopeMailSend})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	header := func(k, v string) func(*rest.Request) {
		return func(r *rest.Request) {
			if v == "" {
				delete(r.Headers, k)
			} else {
				r.Headers[k] = v
			}
		}
	}
	six := `{"personalizations":[{"to":[{"email":"a@example.test"}]},{"to":[{"email":"1@example.test"},{"email":"2@example.test"},` +
		`{"email":"3@example.test"},{"email":"4@example.test"},{"email":"5@example.test"},{"email":"6@example.test"}]}],` +
		`"from":{"email":"sender@acme.test"},"subject":"S","content":[{"type":"text/plain","value":"x"}]}`
	for _, tc := range []struct {
		name    string
		key     string
		body    string
		edit    []func(*rest.Request)
		status  int
		field   string // of the first error; "<null>" for null
		message string // a substring of the first error's message
	}{
		{"no Authorization", e.key, simple("a@example.test"), []func(*rest.Request){header("Authorization", "")}, 401, "<null>", "authorization required"},
		{"Basic scheme", e.key, simple("a@example.test"), []func(*rest.Request){header("Authorization", "Basic YXBpa2V5OmtleQ==")}, 401, "<null>", "authorization required"},
		{"Bearer without key", e.key, simple("a@example.test"), []func(*rest.Request){header("Authorization", "Bearer ")}, 401, "<null>", "authorization required"},
		{"wrong key", "SG.nosuchkey.nosuchsecret", simple("a@example.test"), nil, 401, "<null>", "authorization grant is invalid"},
		{"revoked key", revoked, simple("a@example.test"), nil, 401, "<null>", "authorization grant is invalid"},
		{"key without mail.send", noScope, simple("a@example.test"), nil, 403, "<null>", "mail.send"},
		{"key for other addresses", elsewhere, simple("a@example.test"), nil, 403, "<null>", "127.0.0.1 is not allowed"},
		{"On-Behalf-Of", e.key, simple("a@example.test"), []func(*rest.Request){header("On-Behalf-Of", "sub")}, 400, "<null>", "On-Behalf-Of"},
		{"not JSON", e.key, simple("a@example.test"), []func(*rest.Request){header("Content-Type", "text/plain")}, 400, "<null>", "application/json"},
		{"unknown encoding", e.key, simple("a@example.test"), []func(*rest.Request){header("Content-Encoding", "br")}, 400, "<null>", "Content-Encoding"},
		{"bad gzip", e.key, simple("a@example.test"), []func(*rest.Request){header("Content-Encoding", "gzip")}, 400, "<null>", "gzip"},
		{"truncated JSON", e.key, `{"personalizations":[`, nil, 400, "", ""},
		{"wrong type", e.key, strings.Replace(simple("a@example.test"), `"email":"sender@acme.test"`, `"email":5`, 1), nil, 400, "from.email", ""},
		{"unknown field", e.key, strings.Replace(simple("a@example.test"), `"subject"`, `"subjekt"`, 1), nil, 400, "subjekt", ""},
		{"template_id", e.key, strings.Replace(simple("a@example.test"), `"subject":"Hello"`, `"template_id":"d-123"`, 1), nil, 400, "template_id", "templates are not supported"},
		{"bad recipient", e.key, simple("not-an-address"), nil, 400, "personalizations.0.to.0.email", ""},
		{"too many recipients in the second", e.key, six, nil, 400, "personalizations.1", "at most 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.api(tc.key, tc.body, tc.edit...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			b := errorsOf(t, r)
			if tc.field != "" && b.Errors[0].field() != tc.field {
				t.Errorf("field %s, want %s: %s", b.Errors[0].field(), tc.field, r.body)
			}
			if !strings.Contains(b.Errors[0].Message, tc.message) {
				t.Errorf("message %q lacks %q", b.Errors[0].Message, tc.message)
			}
			if r.header.Get("X-Message-Id") != "" {
				t.Errorf("X-Message-Id on a refusal")
			}
		})
	}
	e.t = t
	if n := len(e.messages()); n != 0 {
		t.Errorf("%d messages queued by refused requests", n)
	}
}

// TestSchemeCase: the auth scheme is case-insensitive.
func TestSchemeCase(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.api(e.key, simple("a@example.test"), func(r *rest.Request) { r.Headers["Authorization"] = "bEaReR " + e.key })
	if r.status != 202 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
}

// TestSandbox: sandbox mode checks everything, answers 200 and stores
// nothing.
func TestSandbox(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := strings.Replace(simple("a@example.test", "b@example.test"), `"subject"`, `"mail_settings":{"sandbox_mode":{"enable":true}},"subject"`, 1)
	r := e.api(e.key, body)
	if r.status != 200 || r.body != "" || r.header.Get("X-Message-Id") != "" {
		t.Fatalf("status %d, X-Message-Id %q, body %q", r.status, r.header.Get("X-Message-Id"), r.body)
	}
	if n := len(e.messages()); n != 0 {
		t.Errorf("sandbox queued %d messages", n)
	}
	// Still checked: a refusal is a refusal.
	r = e.api(e.key, strings.Replace(body, `"a@example.test"`, `"bad"`, 1))
	if r.status != 400 {
		t.Errorf("sandbox with a bad address: status %d", r.status)
	}
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTooLarge: a body over the limit (raw or after gzip) is 413 before
// compose sees it; a message over the funnel's size limit is 413 too.
func TestTooLarge(t *testing.T) {
	e := newEnv(t, envOptions{maxBody: 64 << 10, maxBytes: 16 << 10})
	big := strings.Replace(simple("a@example.test"), "Hello from the API.", strings.Repeat("a", 100<<10), 1)
	bomb := strings.Replace(simple("a@example.test"), "Hello from the API.", strings.Repeat(" ", 1<<20), 1)
	overFunnel := strings.Replace(simple("a@example.test"), "Hello from the API.", strings.Repeat("word ", 6<<10), 1)
	gz := func(r *rest.Request) { r.Headers["Content-Encoding"] = "gzip"; r.Body = gzipped(t, string(r.Body)) }
	for _, tc := range []struct {
		name    string
		body    string
		edit    []func(*rest.Request)
		message string
	}{
		{"body", big, nil, "content too large"},
		{"gzip bomb", bomb, []func(*rest.Request){gz}, "content too large"},
		{"message", overFunnel, nil, "Message size exceeds fixed limit of 16384 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.api(e.key, tc.body, tc.edit...)
			if r.status != 413 {
				t.Fatalf("status %d: %.300s", r.status, r.body)
			}
			if b := errorsOf(t, r); !strings.Contains(b.Errors[0].Message, tc.message) {
				t.Errorf("message %q", b.Errors[0].Message)
			}
		})
	}
	t.Run("chunked body", func(t *testing.T) {
		// No Content-Length: the limit holds while reading.
		req, err := http.NewRequest("POST", e.base+"/v3/mail/send", io.MultiReader(strings.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 413 || req.ContentLength != 0 || !strings.Contains(string(b), "content too large") {
			t.Errorf("status %d, request length %d: %s", res.StatusCode, req.ContentLength, b)
		}
	})
	e.t = t
	if n := len(e.messages()); n != 0 {
		t.Errorf("%d messages queued", n)
	}
	// A small gzipped request goes through.
	r := e.api(e.key, simple("a@example.test"), gz)
	if r.status != 202 {
		t.Fatalf("gzip: status %d: %s", r.status, r.body)
	}
}

// refusingQuota is over a per-minute limit of 100 messages, 42 s from
// its end.
type refusingQuota struct{}

func (refusingQuota) decision() ratelimit.Decision {
	return ratelimit.Decision{RetryAfter: 42 * time.Second, Blocking: &ratelimit.Limit{Period: "minute", Messages: 100},
		Reason: "user acme: 100 messages per minute"}
}
func (q refusingQuota) Check(context.Context, account.Principal, time.Time) (ratelimit.Decision, error) {
	return q.decision(), nil
}
func (q refusingQuota) Reserve(context.Context, account.Principal, int, time.Time) (ratelimit.Decision, ratelimit.Reservation, error) {
	return q.decision(), ratelimit.Reservation{}, nil
}

// TestRateLimited: a rate-limit refusal is 429 with Retry-After and the
// X-RateLimit fields.
func TestRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{quota: refusingQuota{}})
	start := time.Now()
	r := e.api(e.key, simple("a@example.test"))
	if r.status != 429 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); ra < 41 || ra > 42 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r.header.Get("X-RateLimit-Limit") != "100" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("X-RateLimit: %v", r.header)
	}
	reset, _ := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
	if want := start.Add(42 * time.Second).Unix(); reset < want || reset > want+2 {
		t.Errorf("X-RateLimit-Reset %d, want about %d", reset, want)
	}
	b := errorsOf(t, r)
	if !strings.Contains(b.Errors[0].Message, "Rate limit exceeded: user acme: 100 messages per minute") || b.Errors[0].Field != nil {
		t.Errorf("body %s", r.body)
	}
	if n := len(e.messages()); n != 0 {
		t.Errorf("%d messages queued", n)
	}
}

// TestPartial: when personalization 1 is refused at commit, 0 stays
// queued, and the reply says which one failed and what was sent.
func TestPartial(t *testing.T) {
	e := newEnv(t, envOptions{scanner: spamscan.Builtin{}})
	body := `{"personalizations":[{"to":[{"email":"a@example.test"}],"substitutions":{"-text-":"hello"}},` +
		`{"to":[{"email":"b@example.test"}],"substitutions":{"-text-":"` + spamscan.GTUBE + `"}},` +
		`{"to":[{"email":"c@example.test"}],"substitutions":{"-text-":"hello"}}],` +
		`"from":{"email":"sender@acme.test"},"subject":"S","content":[{"type":"text/plain","value":"-text-"}]}`
	r := e.api(e.key, body)
	if r.status != 403 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	b := errorsOf(t, r)
	if b.Errors[0].field() != "personalizations.1" || b.Errors[0].Help == nil ||
		!strings.Contains(*b.Errors[0].Help, "personalizations 0 to 0 were accepted") {
		t.Errorf("body %s", r.body)
	}
	msgs := e.messages()
	if len(msgs) != 1 || msgs[0].Recipients[0] != "a@example.test" {
		t.Fatalf("queued %+v", msgs)
	}
	if r.header.Get("X-Message-Id") != msgs[0].ID {
		t.Errorf("X-Message-Id %q, want %q", r.header.Get("X-Message-Id"), msgs[0].ID)
	}
}

// failingQueue fails every commit with text that must stay internal.
type failingQueue struct{}

func (failingQueue) Enqueue(context.Context, store.NewMessage) error {
	return errors.New("sqlite: disk I/O error writing /var/lib/postern/secret.db")
}

// TestStoreFailure: a store error is 500 with a request id and the
// generic message; the cause is in the log under that id.
func TestStoreFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     envOptions
		close bool
		cause string
	}{
		{"enqueue", envOptions{enqueuer: failingQueue{}}, false, "disk I/O error"},
		{"closed store", envOptions{}, true, "closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.o)
			if tc.close {
				e.store.Close()
			}
			r := e.api(e.key, simple("a@example.test"))
			if r.status != 500 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			b := errorsOf(t, r)
			if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(b.ID) || b.Errors[0].Message != fmt.Sprintf("internal server error (request id %s)", b.ID) {
				t.Errorf("body %s", r.body)
			}
			for _, leak := range []string{"sqlite", "secret", "closed", "disk"} {
				if strings.Contains(r.body, leak) {
					t.Errorf("body shows %q: %s", leak, r.body)
				}
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "request_id="+b.ID) || !strings.Contains(logs, tc.cause) {
				t.Errorf("log lacks the id or the cause:\n%s", logs)
			}
		})
	}
}

// TestHTTPS: on an HTTPS listener the Received field says so, with the
// TLS version.
func TestHTTPS(t *testing.T) {
	e := newEnv(t, envOptions{tls: true})
	r := e.api(e.key, simple("a@example.test"))
	if r.status != 202 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	raw, err := e.store.MessageBody(context.Background(), r.header.Get("X-Message-Id"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`with HTTPS[\s\S]*TLS1\.[23]`).Match(raw) {
		t.Errorf("Received lacks HTTPS and TLS:\n%s", raw)
	}
}

// TestTrustedProxy: behind a trusted proxy the client is the address in
// X-Forwarded-For, for the key's IP rules and X-Originating-IP; from an
// untrusted peer the same header is ignored.
func TestTrustedProxy(t *testing.T) {
	xff := func(r *rest.Request) { r.Headers["X-Forwarded-For"] = "203.0.113.50, 192.0.2.9" }
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		status  int
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, 202},
		{"untrusted", nil, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{proxies: tc.proxies})
			key, _, err := e.accounts.CreateKey(context.Background(), "acme", "office", []string{account.ScopeMailSend}, netip.MustParsePrefix("192.0.2.0/24"))
			if err != nil {
				t.Fatal(err)
			}
			r := e.api(key, simple("a@example.test"), xff)
			if r.status != tc.status {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if r.status != 202 {
				return
			}
			raw, err := e.store.MessageBody(context.Background(), r.header.Get("X-Message-Id"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), "192.0.2.9") || strings.Contains(string(raw), "203.0.113.50") {
				t.Errorf("originating address:\n%s", raw)
			}
		})
	}
}
