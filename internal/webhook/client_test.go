package webhook

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

// The dispatcher is what the settings API's test endpoint calls.
var _ interface {
	SendTest(ctx context.Context, w store.Webhook, url string) error
} = (*Dispatcher)(nil)

// fakeResolver answers from a table; a name not in it does not exist.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// Off by default, a webhook on loopback is refused before anything
// connects, and the record says why.
func TestPrivateAddressRefused(t *testing.T) {
	e := newEnv(t, false, store.EventProcessed)
	e.enqueue(e.message("m1", "", "a@example.com"))
	d := e.dispatcher(func(c *Config) { c.AllowPrivateNetworks = false })
	d.round(e.ctx)
	if n := e.recv.conns.Load(); n != 0 {
		t.Fatalf("%d connections to the receiver on loopback", n)
	}
	if n := e.backlog(); n != 1 {
		t.Errorf("backlog %d, want the item kept for retry", n)
	}
	want := "address 127.0.0.1 (loopback) is not allowed (webhooks.allow_private_networks is off)"
	if got := e.webhook().LastError; got != want {
		t.Errorf("last error %q, want %q", got, want)
	}
}

// A host name is resolved by the dispatcher, every address checked, and
// the checked literal connected to.
func TestNamesResolvedAndChecked(t *testing.T) {
	e := newEnv(t, false)
	_, port, _ := net.SplitHostPort(e.recv.srv.Listener.Addr().String())
	w := e.hook
	w.URL = "http://hooks.example.test:" + port + "/hook?token=hunter2"

	d := e.dispatcher(func(c *Config) {
		c.AllowPrivateNetworks = false
		c.Resolver = fakeResolver{"hooks.example.test": {netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("::ffff:127.0.0.1")}}
	})
	err := d.SendTest(e.ctx, w, "")
	want := "hooks.example.test resolves to 10.1.2.3 (private, RFC 1918), which is not allowed, nor is its 1 other address (webhooks.allow_private_networks is off)"
	if err == nil || err.Error() != want {
		t.Errorf("SendTest = %v, want %q", err, want)
	}
	if n := e.recv.conns.Load(); n != 0 {
		t.Fatalf("%d connections", n)
	}

	// Allowed, the name's address is connected to: the receiver gets the
	// name in Host.
	d = e.dispatcher(func(c *Config) {
		c.Resolver = fakeResolver{"hooks.example.test": {netip.MustParseAddr("127.0.0.1")}}
	})
	if err := d.SendTest(e.ctx, w, ""); err != nil {
		t.Fatalf("SendTest: %v", err)
	}
	reqs := e.recv.requests()
	if len(reqs) != 1 || reqs[0].header.Get("User-Agent") != UserAgent {
		t.Fatalf("requests %+v", reqs)
	}
}

// A redirect is a failure, and is not followed.
func TestRedirectNotFollowed(t *testing.T) {
	e := newEnv(t, false, store.EventProcessed)
	w := e.webhook()
	w.URL = e.recv.srv.URL + "/redirect"
	if err := e.st.UpdateWebhook(e.ctx, w); err != nil {
		t.Fatal(err)
	}
	e.enqueue(e.message("m1", "", "a@example.com"))
	e.dispatcher(nil).round(e.ctx)
	reqs := e.recv.requests()
	if len(reqs) != 1 || reqs[0].path != "/redirect" {
		t.Fatalf("requests %+v, want one to /redirect and none to /elsewhere", reqs)
	}
	if got := e.webhook().LastError; got != "HTTP 302: redirect not followed" {
		t.Errorf("last error %q", got)
	}
	if n := e.backlog(); n != 1 {
		t.Errorf("backlog %d", n)
	}
}

// The texts of failures are short and hold neither the URL's query nor
// anything the receiver said.
func TestErrorTexts(t *testing.T) {
	e := newEnv(t, false)
	secret := "/hook?token=hunter2"

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(hang) })

	// A server that answers with something that is not HTTP, quoting a
	// secret.
	garbage, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { garbage.Close() })
	go func() {
		for {
			c, err := garbage.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Write([]byte("HELLO hunter2 SECRET-BODY\r\n\r\n"))
			c.Close()
		}
	}()

	cases := []struct {
		name, url string
		status    int
		timeout   time.Duration
		want      string
	}{
		{"503", e.recv.srv.URL + secret, 503, 0, "HTTP 503"},
		{"404", e.recv.srv.URL + secret, 404, 0, "HTTP 404"},
		{"refused", "http://" + closedAddr + secret, 0, 0, "connect: connection refused"},
		{"untrusted certificate", tlsSrv.URL + secret, 0, 0, "TLS: the certificate is signed by an unknown authority"},
		{"https to plain HTTP", strings.Replace(e.recv.srv.URL, "http://", "https://", 1) + secret, 0, 0, "TLS: the receiver does not speak TLS"},
		{"timeout", slow.URL + secret, 0, 300 * time.Millisecond, "timeout after 300ms"},
		{"not HTTP", "http://" + garbage.Addr().String() + secret, 0, 0, "malformed HTTP response"},
		{"no such host", "http://nosuch.example.test" + secret, 0, 0, "lookup nosuch.example.test: no such host"},
		{"bad scheme", "ftp://example.com" + secret, 0, 0, "URL must start with http:// or https://"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.recv.status.Store(int64(tc.status))
			d := e.dispatcher(func(c *Config) {
				c.Resolver = fakeResolver{}
				if tc.timeout > 0 {
					c.Timeout, c.Lease = tc.timeout, time.Minute
				}
			})
			err := d.SendTest(e.ctx, e.hook, tc.url)
			var we *Error
			if !errors.As(err, &we) || err.Error() != tc.want {
				t.Fatalf("SendTest = %v (%T), want %q", err, err, tc.want)
			}
			for _, bad := range []string{"hunter2", "SECRET", "token"} {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("%q leaks %q", err, bad)
				}
			}
		})
	}
}

// The test POST is SendGrid's sample: one event of each kind Postern
// sends, signed with the webhook's key, to the URL given or the
// webhook's own; it leaves the webhook's record alone.
func TestSendTest(t *testing.T) {
	e := newEnv(t, true)
	d := e.dispatcher(nil)
	if err := d.SendTest(e.ctx, e.webhook(), ""); err != nil {
		t.Fatal(err)
	}
	if err := d.SendTest(e.ctx, e.webhook(), e.recv.srv.URL+"/other"); err != nil {
		t.Fatal(err)
	}
	reqs := e.recv.requests()
	if len(reqs) != 2 || reqs[0].path != "/hook" || reqs[1].path != "/other" {
		t.Fatalf("requests %+v", reqs)
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		e.verify(r)
		var kinds []string
		for _, ev := range posted(t, r) {
			if ev["email"] != TestEmail || ev["sg_message_id"] == "" || ev["timestamp"] != float64(e.clock.Now().Unix()) {
				t.Errorf("test event %v", ev)
			}
			kinds = append(kinds, ev["event"].(string))
			for _, id := range sgIDs(t, []map[string]any{ev}) {
				if seen[id] {
					t.Errorf("sg_event_id %s twice", id)
				}
				seen[id] = true
			}
		}
		if got := strings.Join(kinds, ","); got != "processed,deferred,delivered,bounce,dropped" {
			t.Errorf("test events %s", got)
		}
	}
	if w := e.webhook(); w.LastError != "" || !w.LastSuccessAt.IsZero() {
		t.Errorf("SendTest changed the webhook's record: %+v", w)
	}

	// Unsigned: no signature headers. Refused addresses are refused.
	w := e.webhook()
	w.Signed = false
	if err := d.SendTest(e.ctx, w, ""); err != nil {
		t.Fatal(err)
	}
	if r := e.recv.requests()[2]; r.header.Get(events.SignatureHeader) != "" || r.header.Get(events.TimestampHeader) != "" {
		t.Errorf("unsigned webhook's test was signed: %v", r.header)
	}
	conns := e.recv.conns.Load()
	strict := e.dispatcher(func(c *Config) { c.AllowPrivateNetworks = false })
	if err := strict.SendTest(e.ctx, w, ""); err == nil || !strings.Contains(err.Error(), "is not allowed") {
		t.Errorf("SendTest to loopback = %v", err)
	}
	if e.recv.conns.Load() != conns {
		t.Error("the refused test connected")
	}

	// A signed webhook whose key is unusable fails without a POST.
	w.Signed, w.PrivateKey = true, []byte("not a key")
	if err := d.SendTest(e.ctx, w, ""); err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Errorf("SendTest with a bad key = %v", err)
	}
	if n := len(e.recv.requests()); n != 3 {
		t.Errorf("%d requests", n)
	}
}

func TestValidateURL(t *testing.T) {
	for _, tc := range []struct {
		url, want string // want "" for valid
	}{
		{"https://hooks.example.com/sendgrid", ""},
		{"http://hooks.example.com:8080/x?token=abc#frag", ""},
		{"HTTPS://HOOKS.EXAMPLE.COM/", ""},
		{"http://[2001:db8::1]:443/", ""},
		{"http://127.0.0.1/", ""}, // addresses are judged when POSTing
		{"", "URL is empty"},
		{"hooks.example.com/x", "URL must start with http:// or https://"},
		{"ftp://hooks.example.com/", "URL must start with http:// or https://"},
		{"javascript:alert(1)", "URL must start with http:// or https://"},
		{"http:hooks.example.com", "URL must start with http:// or https://"},
		{"https://user:pw@hooks.example.com/", "URL must not hold a user name or password"},
		{"https://user@hooks.example.com/", "URL must not hold a user name or password"},
		{"https:///path", "URL has no host"},
		{"https://:443/path", "URL has no host"},
		{"https://hooks.example.com:0/", "URL port must be a number from 1 to 65535"},
		{"https://hooks.example.com:65536/", "URL port must be a number from 1 to 65535"},
		{"https://hooks.example.com/\x00", "not a valid URL"},
		{"https://hooks example.com/", "not a valid URL"},
		{"https://hooks.example.com/" + strings.Repeat("a", MaxURLLength), "URL is longer than 2048 characters"},
	} {
		err := ValidateURL(tc.url)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("ValidateURL(%.40q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}
