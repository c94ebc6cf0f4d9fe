package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/testenv"
)

// hookPost is one POST the webhook receiver took: the raw body as it
// came, and the two signature headers.
type hookPost struct {
	Body      []byte
	Signature string
	Timestamp string
}

// hookReceiver is an event webhook receiver on loopback that records
// every POST and answers 200.
type hookReceiver struct {
	mu    sync.Mutex
	posts []hookPost
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.posts = append(h.posts, hookPost{Body: body,
		Signature: r.Header.Get(eventwebhook.VerificationHTTPHeader), Timestamp: r.Header.Get(eventwebhook.TimestampHTTPHeader)})
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) Posts() []hookPost {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookPost(nil), h.posts...)
}

// Events decodes every event of every POST, in arrival order.
func (h *hookReceiver) Events(t *testing.T) []map[string]any {
	t.Helper()
	var all []map[string]any
	for _, p := range h.Posts() {
		var batch []map[string]any
		if err := json.Unmarshal(p.Body, &batch); err != nil {
			t.Fatalf("a POST is not a JSON array of events: %v\n%s", err, p.Body)
		}
		all = append(all, batch...)
	}
	return all
}

// allowPrivateWebhooks lets the instance POST to the test's receiver on
// 127.0.0.1, which the dispatcher refuses by default.
func (in *instance) allowPrivateWebhooks() {
	in.t.Helper()
	f, err := os.OpenFile(in.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		in.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("[webhooks]\nallow_private_networks = true\n"); err != nil {
		in.t.Fatal(err)
	}
}

// waitUntil polls cond until it holds or the deadline passes, then fails
// with what dump says.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool, dump func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\n%s", what, within, dump())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// eventCategories returns an event's category field, a string or an
// array of them, as a list.
func eventCategories(e map[string]any) []string {
	switch c := e["category"].(type) {
	case string:
		return []string{c}
	case []any:
		var s []string
		for _, v := range c {
			s = append(s, fmt.Sprint(v))
		}
		return s
	}
	return nil
}

// nodeVerifyAll has SendGrid's Node.js verifier, @sendgrid/eventwebhook,
// unmodified, check each post against pub, and returns its verdicts.
func nodeVerifyAll(t *testing.T, pub string, posts []hookPost) []bool {
	t.Helper()
	node := needPeer(t, "node")
	mods, err := filepath.Abs("testdata/node/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mods, "@sendgrid", "eventwebhook", "package.json")); err != nil {
		testenv.NeedPeer(t, "@sendgrid/eventwebhook (npm ci in cmd/postern/testdata/node)")
	}
	type req struct {
		Sig  string `json:"sig"`
		TS   string `json:"ts"`
		Body string `json:"body"` // base64 of the raw bytes
	}
	var reqs []req
	for _, p := range posts {
		reqs = append(reqs, req{p.Signature, p.Timestamp, base64.StdEncoding.EncodeToString(p.Body)})
	}
	file := filepath.Join(t.TempDir(), "posts.json")
	js, _ := json.Marshal(reqs)
	if err := os.WriteFile(file, js, 0o600); err != nil {
		t.Fatal(err)
	}
	const script = `
const { EventWebhook } = require('@sendgrid/eventwebhook');
const fs = require('fs');
const [pub, file] = process.argv.slice(1);
const ew = new EventWebhook();
const key = ew.convertPublicKeyToECDSA(pub);
const out = JSON.parse(fs.readFileSync(file)).map(
  (r) => ew.verifySignature(key, Buffer.from(r.body, 'base64'), r.sig, r.ts));
console.log(JSON.stringify(out));
`
	cmd := exec.Command(node, "-e", script, pub, file)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("node: %v\n%s", err, errOut.String())
	}
	var verdicts []bool
	if err := json.Unmarshal(out.Bytes(), &verdicts); err != nil || len(verdicts) != len(posts) {
		t.Fatalf("node printed %q (%v), want %d verdicts", out.String(), err, len(posts))
	}
	return verdicts
}

// TestWebhookEventsEndToEnd (issue 15): the built binary delivers to a
// real Postfix and POSTs the events to a receiver on loopback, signed.
// A message over SMTP (X-SMTPAPI unique_args and category) and one over
// the send API (sendgrid-go, custom_args and categories) are processed
// and delivered, each event carrying its message's arguments and
// categories; mail to a domain that does not exist bounces; mail to a
// suppressed address is dropped; a receiver answering 451 at RCPT (a
// scripted sink, the MX of another domain on another loopback address)
// defers. Every POST verifies with sendgrid-go's helpers/eventwebhook
// and with @sendgrid/eventwebhook (npm), both unmodified.
func TestWebhookEventsEndToEnd(t *testing.T) {
	swaks := needPeer(t, "swaks")
	pf := testenv.StartPostfix(t, "example.test")
	_, port, _ := net.SplitHostPort(pf.Addr)
	p, _ := strconv.Atoi(port)
	// delivery.port is one port for every domain: the deferring sink takes
	// Postfix's port on 127.0.0.2, and defer.test's MX points there.
	sink := testenv.StartSink(t, testenv.SinkOptions{Listen: net.JoinHostPort("127.0.0.2", port),
		Rcpt: map[string]testenv.SinkReply{"later@defer.test": {Err: &smtp.SMTPError{Code: 451,
			EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try later"}}}})
	in := newInstance(t, p)
	in.dns.Add("defer.test. 300 IN MX 10 mx.defer.test.", "mx.defer.test. 300 IN A 127.0.0.2")
	in.allowPrivateWebhooks()
	in.start()
	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))

	rec := &hookReceiver{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	pub := strings.TrimSpace(in.mustCLI("webhook", "set", "--user", "acme", "--url", srv.URL+"/events", "--enabled", "on",
		"--events", "processed,delivered,deferred,bounce,dropped", "--signed", "on"))
	pk, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(pub)
	if err != nil {
		t.Fatalf("webhook set printed %q, not a public key: %v", pub, err)
	}
	in.mustCLI("suppression", "add", "gone@example.test", "--user", "acme")

	host, subPort, _ := net.SplitHostPort(in.addr("submission"))
	queueID := regexp.MustCompile(`queued as ([0-9a-v]{26})`)
	smtpSend := func(to string, extra ...string) string {
		t.Helper()
		args := append([]string{"--server", host, "--port", subPort, "--tls", "-a", "PLAIN", "-au", "apikey", "-ap", key,
			"--from", "app@example.test", "--to", to, "--h-Subject", "events"}, extra...)
		out, err := exec.Command(swaks, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks to %s: %v\n%s", to, err, out)
		}
		m := queueID.FindSubmatch(out)
		if m == nil {
			t.Fatalf("swaks to %s: no queue id\n%s", to, out)
		}
		return string(m[1])
	}
	smtpID := smtpSend("smtp@example.test", "--add-header", `X-SMTPAPI: {"category": ["smtp-cat"], "unique_args": {"order": "7"}}`)
	bounceID := smtpSend("missing@nowhere.test")
	dropID := smtpSend("gone@example.test")
	deferID := smtpSend("later@defer.test")

	c := sendgrid.NewSendClient(key)
	c.BaseURL = "http://" + in.addr("http") + "/v3/mail/send"
	m := sgmail.NewV3Mail()
	m.SetFrom(sgmail.NewEmail("", "app@example.test"))
	m.Subject = "events over the API"
	pers := sgmail.NewPersonalization()
	pers.AddTos(sgmail.NewEmail("", "api@example.test"))
	pers.SetCustomArg("campaign", "c42")
	m.AddPersonalizations(pers)
	m.AddContent(sgmail.NewContent("text/plain", "Sent by sendgrid-go."))
	m.AddCategories("api-cat", "second")
	resp, err := c.Send(m)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("sendgrid-go: %v %+v", err, resp)
	}
	apiID := ""
	if ids := resp.Headers["X-Message-Id"]; len(ids) == 1 {
		apiID = ids[0]
	}
	if !queueIDRE.MatchString(apiID) {
		t.Fatalf("send API: X-Message-Id %q", apiID)
	}

	type key2 struct{ email, event string }
	want := []key2{
		{"smtp@example.test", "processed"}, {"smtp@example.test", "delivered"},
		{"api@example.test", "processed"}, {"api@example.test", "delivered"},
		{"missing@nowhere.test", "bounce"}, {"gone@example.test", "dropped"}, {"later@defer.test", "deferred"},
	}
	seen := func() map[key2][]map[string]any {
		got := map[key2][]map[string]any{}
		for _, e := range rec.Events(t) {
			k := key2{fmt.Sprint(e["email"]), fmt.Sprint(e["event"])}
			got[k] = append(got[k], e)
		}
		return got
	}
	dump := func() string {
		var b strings.Builder
		for _, p := range rec.Posts() {
			fmt.Fprintf(&b, "POST %s\n", p.Body)
		}
		show, _, _ := in.cli("webhook", "show", "--user", "acme")
		return fmt.Sprintf("%swebhook show:\n%s\npostfix log:\n%s\npostern log:\n%s", b.String(), show, pf.Log(), in.log.String())
	}
	waitUntil(t, 90*time.Second, "every expected event POSTed", func() bool {
		got := seen()
		for _, k := range want {
			if len(got[k]) == 0 {
				return false
			}
		}
		return true
	}, dump)

	got := seen()
	ids := map[string]string{"smtp@example.test": smtpID, "api@example.test": apiID, "missing@nowhere.test": bounceID,
		"gone@example.test": dropID, "later@defer.test": deferID}
	for k, evs := range got {
		for _, e := range evs {
			if id, ok := ids[k.email]; ok && e["sg_message_id"] != id {
				t.Errorf("%s %s: sg_message_id %v, want %s", k.email, k.event, e["sg_message_id"], id)
			}
			if s, _ := e["sg_event_id"].(string); s == "" {
				t.Errorf("%s %s: no sg_event_id: %v", k.email, k.event, e)
			}
		}
	}
	for _, k := range want[:2] {
		for _, e := range got[k] {
			if cats := eventCategories(e); len(cats) != 1 || cats[0] != "smtp-cat" || e["order"] != "7" {
				t.Errorf("%s %s: category %v, order %v; want smtp-cat and 7 from X-SMTPAPI: %v", k.email, k.event, cats, e["order"], e)
			}
		}
	}
	for _, k := range want[2:4] {
		for _, e := range got[k] {
			if cats := eventCategories(e); strings.Join(cats, ",") != "api-cat,second" || e["campaign"] != "c42" {
				t.Errorf("%s %s: category %v, campaign %v; want api-cat,second and c42: %v", k.email, k.event, cats, e["campaign"], e)
			}
		}
	}
	for _, e := range got[key2{"missing@nowhere.test", "bounce"}] {
		if e["status"] != "5.1.2" || !strings.Contains(fmt.Sprint(e["reason"]), "NXDOMAIN") {
			t.Errorf("bounce: status %v reason %v", e["status"], e["reason"])
		}
	}
	for _, e := range got[key2{"later@defer.test", "deferred"}] {
		if !strings.Contains(fmt.Sprint(e["response"]), "451") {
			t.Errorf("deferred: response %v, want the sink's 451", e["response"])
		}
	}
	if len(got[key2{"gone@example.test", "delivered"}]) != 0 {
		t.Errorf("the suppressed address was delivered to")
	}
	if n := len(sink.Messages()); n != 0 {
		t.Errorf("the deferring sink accepted %d messages", n)
	}

	// Every POST is signed, and both of SendGrid's verifiers accept it;
	// a body changed by one byte fails both.
	posts := rec.Posts()
	for i, p := range posts {
		if p.Signature == "" || p.Timestamp == "" {
			t.Fatalf("POST %d unsigned: %q %q", i, p.Signature, p.Timestamp)
		}
		if ok, err := eventwebhook.VerifySignature(pk, p.Body, p.Signature, p.Timestamp); !ok || err != nil {
			t.Errorf("POST %d: sendgrid-go does not verify it (%v): %s", i, err, p.Body)
		}
	}
	tampered := posts[0]
	tampered.Body = bytes.Replace(tampered.Body, []byte(`"event":"`), []byte(`"event": "`), 1)
	if ok, _ := eventwebhook.VerifySignature(pk, tampered.Body, tampered.Signature, tampered.Timestamp); ok {
		t.Error("sendgrid-go verifies a changed body")
	}
	verdicts := nodeVerifyAll(t, pub, append(posts, tampered))
	for i, ok := range verdicts[:len(posts)] {
		if !ok {
			t.Errorf("POST %d: @sendgrid/eventwebhook does not verify it: %s", i, posts[i].Body)
		}
	}
	if verdicts[len(posts)] {
		t.Error("@sendgrid/eventwebhook verifies a changed body")
	}
	t.Logf("%d POSTs, %d events, all verified by sendgrid-go and @sendgrid/eventwebhook", len(posts), len(rec.Events(t)))
	in.stop()
}

// TestWebhookSurvivesKillAndReceiverDown (issue 15): with the receiver
// down, the events of N messages wait in the store (webhook show: the
// backlog and the last error); postern is SIGKILLed and restarted, the
// receiver comes back, and every processed and delivered event of the N
// messages arrives, none more than a few times.
func TestWebhookSurvivesKillAndReceiverDown(t *testing.T) {
	const n = 10
	in := newInstance(t, 0)
	in.allowPrivateWebhooks()
	in.start()
	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))

	// The receiver is down: its port was bound and closed, so a POST is
	// refused at connect.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hookAddr := ln.Addr().String()
	ln.Close()
	in.mustCLI("webhook", "set", "--user", "acme", "--url", "http://"+hookAddr+"/events", "--enabled", "on",
		"--events", "processed,delivered")

	c := sendgrid.NewSendClient(key)
	c.BaseURL = "http://" + in.addr("http") + "/v3/mail/send"
	msgIDs := map[string]bool{}
	for i := 0; i < n; i++ {
		m := sgmail.NewV3MailInit(sgmail.NewEmail("", "app@example.test"), fmt.Sprintf("message %d", i),
			sgmail.NewEmail("", fmt.Sprintf("r%d@example.test", i)), sgmail.NewContent("text/plain", "hello"))
		resp, err := c.Send(m)
		if err != nil || resp.StatusCode != http.StatusAccepted || len(resp.Headers["X-Message-Id"]) != 1 {
			t.Fatalf("send %d: %v %+v", i, err, resp)
		}
		msgIDs[resp.Headers["X-Message-Id"][0]] = true
	}

	// Every event is recorded and waiting, and a POST has failed.
	backlog := regexp.MustCompile(`backlog:\s+(\d+) events waiting`)
	var show string
	waitUntil(t, 60*time.Second, fmt.Sprintf("webhook show: %d events waiting and a last error", 2*n), func() bool {
		show = in.mustCLI("webhook", "show", "--user", "acme")
		m := backlog.FindStringSubmatch(show)
		return m != nil && m[1] == strconv.Itoa(2*n) && !strings.Contains(show, "last error:   -\n")
	}, func() string { return show + "\n" + in.log.String() })
	if len(in.sink.Messages()) != n {
		t.Fatalf("the sink holds %d messages, want %d", len(in.sink.Messages()), n)
	}

	in.kill()
	in.start()
	ln, err = net.Listen("tcp", hookAddr)
	if err != nil {
		t.Fatalf("the receiver cannot take its port back: %v", err)
	}
	rec := &hookReceiver{}
	srv := &http.Server{Handler: rec}
	go srv.Serve(ln)
	defer srv.Close()

	type key2 struct{ msg, event string }
	count := func() (map[key2]bool, map[string]int) {
		pairs, byID := map[key2]bool{}, map[string]int{}
		for _, e := range rec.Events(t) {
			pairs[key2{fmt.Sprint(e["sg_message_id"]), fmt.Sprint(e["event"])}] = true
			byID[fmt.Sprint(e["sg_event_id"])]++
		}
		return pairs, byID
	}
	waitUntil(t, 120*time.Second, "every processed and delivered event after the restart", func() bool {
		pairs, _ := count()
		for id := range msgIDs {
			if !pairs[key2{id, string(events.Processed)}] || !pairs[key2{id, string(events.Delivered)}] {
				return false
			}
		}
		return true
	}, func() string {
		s, _, _ := in.cli("webhook", "show", "--user", "acme")
		return fmt.Sprintf("%d POSTs\nwebhook show:\n%s\npostern log:\n%s", len(rec.Posts()), s, in.log.String())
	})
	pairs, byID := count()
	if len(pairs) != 2*n || len(byID) != 2*n {
		t.Errorf("%d (message, event) pairs and %d sg_event_ids, want %d of each: %v", len(pairs), len(byID), 2*n, byID)
	}
	var dups []string
	for id, k := range byID {
		if k > 3 {
			t.Errorf("sg_event_id %s arrived %d times", id, k)
		}
		if k > 1 {
			dups = append(dups, fmt.Sprintf("%s×%d", id, k))
		}
	}
	sort.Strings(dups)
	t.Logf("%d POSTs, %d distinct events, repeated: %v", len(rec.Posts()), len(byID), dups)
	waitUntil(t, 30*time.Second, "webhook show: nothing waiting, a last success", func() bool {
		show = in.mustCLI("webhook", "show", "--user", "acme")
		return strings.Contains(show, "backlog:      0 events waiting") && !strings.Contains(show, "last success: -\n")
	}, func() string { return show })
	in.stop()
}
