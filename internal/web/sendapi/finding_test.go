package sendapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/postern/postern/internal/message"
)

// TestFinding7ForgedHeadersOverHTTP (issue 12, findings 4 and 7, the
// HTTP way in): the send API refuses X-Originating-IP and
// Authentication-Results as reserved headers (compose), with nothing
// queued; the scanner's fields, which compose lets through as custom
// headers, are removed by the funnel like on SMTP, and Postern's own
// X-Originating-IP is the only one.
func TestFinding7ForgedHeadersOverHTTP(t *testing.T) {
	e := newEnv(t, envOptions{})
	withHeaders := func(h string) string {
		return strings.Replace(simple("a@example.test"), `"subject":"Hello",`, `"subject":"Hello","headers":{`+h+`},`, 1)
	}
	for name, h := range map[string]string{
		"X-Originating-IP":       `"X-Originating-IP":"[6.6.6.6]"`,
		"Authentication-Results": `"Authentication-Results":"mx.postern.test; dkim=pass header.d=bank.test"`,
	} {
		r := e.api(e.key, withHeaders(h))
		if r.status != 400 || !strings.Contains(r.body, "headers."+name) {
			t.Errorf("%s: status %d %s, want 400 naming headers.%s", name, r.status, r.body, name)
		}
	}
	if n := len(e.messages()); n != 0 {
		t.Fatalf("%d messages queued for refused requests", n)
	}
	r := e.api(e.key, withHeaders(`"X-Spam-Status":"No, score=-100","X-Spam-Flag":"NO","X-Spam-Score":"-100","X-Spam":"No"`))
	if r.status != 202 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	raw, err := e.store.MessageBody(context.Background(), r.header.Get("X-Message-Id"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := message.ParseHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"X-Spam-Status", "X-Spam-Flag", "X-Spam-Score", "X-Spam"} {
		if h.Has(name) {
			t.Errorf("the request's %s survived: %q", name, h.Values(name))
		}
	}
	if ips := h.Values("X-Originating-IP"); len(ips) != 1 || ips[0] != "[127.0.0.1]" {
		t.Errorf("X-Originating-IP %q, want only [127.0.0.1]", ips)
	}
}
