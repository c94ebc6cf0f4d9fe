package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"

	"github.com/postern/postern/internal/testenv"
)

// TestOneClickUnsubscribeEndToEnd (issue 15, "Unsubscribes"): the built
// binary, a real Postfix as the receiving MTA, the in-process DNS
// server and a webhook receiver, all on loopback. acme turns one-click
// unsubscribe on through SendGrid's PATCH /v3/tracking_settings/subscription
// and sends to rcpt@example.test; the message Postfix delivered carries
// List-Unsubscribe with the HTTP listener's URL and List-Unsubscribe-Post,
// and both DKIM signatures, which cover them, verify with dkimpy. A GET
// of the URL (a link scanner, a person) shows a form and changes
// nothing; a POST of an altered token is refused; the POST a mailbox
// provider makes (RFC 8058 §3.2) unsubscribes, twice is once: the
// address is on acme's unsubscribe list (CLI and API), the message's
// history has the unsubscribe event, the signed webhook gets it, and the
// next message to the address is dropped.
func TestOneClickUnsubscribeEndToEnd(t *testing.T) {
	swaks := needPeer(t, "swaks")
	pf := testenv.StartPostfix(t, "example.test")
	_, port, _ := net.SplitHostPort(pf.Addr)
	p, _ := strconv.Atoi(port)
	in := newInstance(t, p)
	public := setHTTPPort(t, in, freeLoopbackPort(t))
	in.allowPrivateWebhooks()
	in.start()
	in.mustCLI("user", "create", "acme")
	txt := in.publishDomain("acme", "acme.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "admin", "--scopes", "full"))
	sg := sgClient{t: t, base: "http://" + in.addr("http")}
	if sg.base != public {
		t.Fatalf("the HTTP listener is on %s, public_url says %s", sg.base, public)
	}

	rec := &hookReceiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	pub := strings.TrimSpace(in.mustCLI("webhook", "set", "--user", "acme", "--url", srv.URL+"/events", "--enabled", "on",
		"--events", "unsubscribe", "--signed", "on"))
	pk, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(pub)
	if err != nil {
		t.Fatalf("webhook set printed %q: %v", pub, err)
	}

	if _, _, err := in.cli("user", "set", "acme", "--list-unsubscribe", "maybe"); err == nil {
		t.Error("user set --list-unsubscribe maybe succeeded")
	}
	const path = "/v3/tracking_settings/subscription"
	if obj, _ := sg.must(200, key, "GET", path, "", nil); obj["enabled"] != false {
		t.Fatalf("default setting: %v", obj)
	}
	if obj, _ := sg.must(200, key, "PATCH", path, "", map[string]any{"enabled": true}); obj["enabled"] != true {
		t.Fatalf("PATCH: %v", obj)
	}
	if show := in.mustCLI("user", "show", "acme"); !regexp.MustCompile(`(?m)^list-unsubscribe: on$`).MatchString(show) {
		t.Fatalf("user show:\n%s", show)
	}

	host, subPort, _ := net.SplitHostPort(in.addr("submission"))
	send := func(subject string) string {
		t.Helper()
		out, err := exec.Command(swaks, "--server", host, "--port", subPort, "--tls", "-a", "PLAIN", "-au", "apikey", "-ap", key,
			"--from", "news@acme.test", "--h-From", "News <news@acme.test>", "--to", "rcpt@example.test",
			"--h-Subject", subject, "--body", "The weekly news.\n\nSee you next week.").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`queued as ([0-9a-v]{26})`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no queue id in\n%s", out)
		}
		return string(m[1])
	}
	dump := func() string { return "postern:\n" + in.log.String() + "\npostfix:\n" + pf.Log() }
	id := send("Weekly news")
	var got []byte
	waitUntil(t, 90*time.Second, "delivery to Postfix", func() bool {
		msgs, _ := pf.Messages()
		if len(msgs) > 0 {
			got = msgs[0]
		}
		return got != nil
	}, dump)
	m := regexp.MustCompile(`(?m)^List-Unsubscribe: <(` + regexp.QuoteMeta(public) + `/unsubscribe/[A-Za-z0-9_-]+)>$`).FindSubmatch(got)
	if m == nil || !regexp.MustCompile(`(?m)^List-Unsubscribe-Post: List-Unsubscribe=One-Click$`).Match(got) {
		t.Fatalf("delivered without one-click List-Unsubscribe:\n%s", got)
	}
	link := string(m[1])
	if !strings.Contains(string(got), "The weekly news.\n\nSee you next week.") {
		t.Errorf("the body changed:\n%s", got)
	}
	// Both signatures cover the two fields (h= lists them) and verify.
	sigs := regexp.MustCompile(`(?s)DKIM-Signature:.*?\bh=([^;]+);`).FindAllSubmatch(got, -1)
	if len(sigs) != 2 {
		t.Fatalf("%d DKIM signatures in the delivered message, want 2:\n%s", len(sigs), got)
	}
	for _, h := range sigs {
		hl := strings.ToLower(strings.Join(strings.Fields(string(h[1])), ""))
		if !strings.Contains(hl, "list-unsubscribe:") || !strings.Contains(hl, "list-unsubscribe-post") {
			t.Errorf("a signature does not cover List-Unsubscribe and List-Unsubscribe-Post: h=%s", h[1])
		}
	}
	verifyDKIM(t, got, txt, 2)

	noneListed := func(when string) {
		t.Helper()
		if l := in.mustCLI("suppression", "list", "--user", "acme"); strings.TrimSpace(l) != "" {
			t.Fatalf("%s: suppression list:\n%s", when, l)
		}
		if _, arr := sg.must(200, key, "GET", "/v3/suppression/unsubscribes", "", nil); len(arr) != 0 {
			t.Fatalf("%s: unsubscribes %v", when, arr)
		}
	}
	post := func(url, body string) int {
		t.Helper()
		resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET of the link: %d", resp.StatusCode)
	}
	noneListed("after the GET")
	tok := link[strings.LastIndex(link, "/")+1:]
	for name, u := range map[string]string{
		"altered":   public + "/unsubscribe/" + flip(tok, len(tok)/2),
		"truncated": public + "/unsubscribe/" + tok[:len(tok)-4],
	} {
		if st := post(u, "List-Unsubscribe=One-Click"); st != 404 {
			t.Errorf("%s token: %d, want 404", name, st)
		}
	}
	noneListed("after forged POSTs")

	for i := 0; i < 2; i++ {
		if st := post(link, "List-Unsubscribe=One-Click"); st != 200 {
			t.Fatalf("POST %d: %d\n%s", i+1, st, dump())
		}
	}
	list := in.mustCLI("suppression", "list", "--user", "acme")
	if n := strings.Count(list, "rcpt@example.test"); n != 1 || !strings.Contains(list, "one-click unsubscribe") {
		t.Errorf("suppression list after two POSTs:\n%s", list)
	}
	if _, arr := sg.must(200, key, "GET", "/v3/suppression/unsubscribes", "", nil); len(arr) != 1 || arr[0].(map[string]any)["email"] != "rcpt@example.test" {
		t.Errorf("unsubscribes: %v", arr)
	}
	show := in.mustCLI("queue", "show", id)
	if n := len(regexp.MustCompile(`unsubscribe\s+rcpt@example\.test`).FindAllString(show, -1)); n != 1 {
		t.Errorf("%d unsubscribe events in queue show, want 1:\n%s", n, show)
	}
	waitUntil(t, 60*time.Second, "the unsubscribe event at the webhook", func() bool { return len(rec.Events(t)) > 0 }, dump)
	evs := rec.Events(t)
	if len(evs) != 1 || evs[0]["event"] != "unsubscribe" || evs[0]["email"] != "rcpt@example.test" || evs[0]["sg_message_id"] != id {
		t.Errorf("webhook events: %v", evs)
	}
	for _, p := range rec.Posts() {
		if ok, err := eventwebhook.VerifySignature(pk, p.Body, p.Signature, p.Timestamp); !ok || err != nil {
			t.Errorf("a POST does not verify with sendgrid-go: %v\n%s", err, p.Body)
		}
	}

	next := send("More news")
	waitUntil(t, 60*time.Second, "the next message dropped", func() bool {
		return regexp.MustCompile(`rcpt@example\.test\s+dropped`).MatchString(in.mustCLI("queue", "show", next))
	}, dump)
	if msgs, _ := pf.Messages(); len(msgs) != 1 {
		t.Errorf("%d messages in the Maildir, want 1", len(msgs))
	}
	in.stop()
}

// setHTTPPort puts the instance's HTTP listener on a known loopback port,
// with http.public_url naming it, and returns that URL.
func setHTTPPort(t *testing.T, in *instance, port int) string {
	t.Helper()
	b, err := os.ReadFile(in.config)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	public := "http://" + addr
	cfg := strings.Replace(string(b), `listen = "127.0.0.1:0"`, `listen = "`+addr+`"`+"\npublic_url = \""+public+`"`, 1)
	if cfg == string(b) {
		t.Fatal("no http listen line in the test config")
	}
	if err := os.WriteFile(in.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return public
}

// flip changes the base64url character at i to another.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
