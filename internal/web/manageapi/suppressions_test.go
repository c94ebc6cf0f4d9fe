package manageapi_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/delivery"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/submit/submittest"
	"github.com/postern/postern/internal/testenv"
)

// suppressionLists are SendGrid's lists that show one kind each, by the
// path under /v3/suppression/.
var suppressionLists = []struct {
	name string
	kind store.SuppressionKind
}{
	{"bounces", store.SuppressBounce},
	{"blocks", store.SuppressBlock},
	{"invalid_emails", store.SuppressInvalid},
	{"spam_reports", store.SuppressSpamReport},
}

// suppressionFields are the keys of SendGrid's entry of each kind.
var suppressionFields = map[store.SuppressionKind]string{
	store.SuppressBounce:      "created email reason status",
	store.SuppressBlock:       "created email reason status",
	store.SuppressInvalid:     "created email reason",
	store.SuppressSpamReport:  "created email ip",
	store.SuppressUnsubscribe: "created email",
}

// seed puts entries straight into the store (as delivery and bounce
// processing do), created at the times given.
func (e *env) seed(user string, kind store.SuppressionKind, reason string, at time.Time, addrs ...string) {
	e.t.Helper()
	u, err := e.store.UserByName(context.Background(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	var list []store.Suppression
	for _, a := range addrs {
		list = append(list, store.Suppression{UserID: u.ID, Address: a, Kind: kind, Reason: reason, CreatedAt: at})
	}
	if _, err := e.store.AddSuppressions(context.Background(), list); err != nil {
		e.t.Fatal(err)
	}
}

// entries decodes a list answer as email → entry, checking that each has
// exactly SendGrid's suppressionFields for kind.
func suppressionEntries(t *testing.T, kind store.SuppressionKind, body any) map[string]map[string]any {
	t.Helper()
	arr, ok := body.([]any)
	if !ok {
		t.Fatalf("not an array: %v", body)
	}
	out := map[string]map[string]any{}
	for _, v := range arr {
		m, _ := v.(map[string]any)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if strings.Join(keys, " ") != suppressionFields[kind] {
			t.Fatalf("%s entry %v: suppressionFields %v, want %s", kind, m, keys, suppressionFields[kind])
		}
		email, _ := m["email"].(string)
		out[email] = m
	}
	return out
}

func entryEmails(m map[string]map[string]any) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func TestSuppressionListEndpoints(t *testing.T) {
	e := newEnv(t)
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	for i, l := range suppressionLists {
		at := t0.Add(time.Duration(i) * time.Hour)
		e.seed("acme", l.kind, "permanent failure: 550 5.1.1 no such user", at, "a@example.test", "b@example.test")
		e.seed("acme", l.kind, "bounce 5.2.1 mailbox disabled", at.Add(time.Minute), "sales@example.test")
	}
	for _, l := range suppressionLists {
		path := "/v3/suppression/" + l.name
		list := suppressionEntries(t, l.kind, e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK))
		if entryEmails(list) != "a@example.test,b@example.test,sales@example.test" {
			t.Fatalf("%s: %s", l.name, entryEmails(list))
		}
		a := list["a@example.test"]
		if created := a["created"].(float64); int64(created) < t0.Unix() || int64(created) > t0.Add(4*time.Hour).Unix() {
			t.Errorf("%s: created %v", l.name, a["created"])
		}
		switch l.kind {
		case store.SuppressBounce, store.SuppressBlock:
			if a["reason"] != "permanent failure: 550 5.1.1 no such user" || a["status"] != "5.1.1" || list["sales@example.test"]["status"] != "5.2.1" {
				t.Errorf("%s: %v", l.name, list)
			}
		case store.SuppressInvalid:
			if a["reason"] != "permanent failure: 550 5.1.1 no such user" {
				t.Errorf("%s: %v", l.name, a)
			}
		case store.SuppressSpamReport:
			if a["ip"] != "" {
				t.Errorf("%s: %v", l.name, a)
			}
		}
		created := int64(a["created"].(float64))
		for _, tc := range []struct{ query, want string }{
			{"start_time=" + fmt.Sprint(created+1), "sales@example.test"},
			{"end_time=" + fmt.Sprint(created), "a@example.test,b@example.test"},
			{fmt.Sprintf("start_time=%d&end_time=%d", created, created+59), "a@example.test,b@example.test"},
			{"limit=1&offset=1", "b@example.test"},
			{"offset=2", "sales@example.test"},
			{"email=sal", "sales@example.test"},
			{"email=" + url.QueryEscape("%@example"), "a@example.test,b@example.test,sales@example.test"},
		} {
			got := suppressionEntries(t, l.kind, e.want(call{method: "GET", path: path + "?" + tc.query, as: "acme"}, http.StatusOK))
			if entryEmails(got) != tc.want {
				t.Errorf("%s?%s: %s, want %s", l.name, tc.query, entryEmails(got), tc.want)
			}
		}
		// One entry, as a list of one; none, as an empty list.
		if one := suppressionEntries(t, l.kind, e.want(call{method: "GET", path: path + "/A@Example.test", as: "acme"}, http.StatusOK)); entryEmails(one) != "a@example.test" {
			t.Errorf("%s GET one: %s", l.name, entryEmails(one))
		}
		if none := suppressionEntries(t, l.kind, e.want(call{method: "GET", path: path + "/nobody@example.test", as: "acme"}, http.StatusOK)); len(none) != 0 {
			t.Errorf("%s GET absent: %v", l.name, none)
		}
		e.want(call{method: "DELETE", path: path + "/a@example.test", as: "acme"}, http.StatusNoContent)
		e.want(call{method: "DELETE", path: path + "/a@example.test", as: "acme"}, http.StatusNotFound)
		e.want(call{method: "DELETE", path: path, as: "acme", body: map[string]any{"emails": []string{"b@example.test", "never@example.test"}}}, http.StatusNoContent)
		if got := suppressionEntries(t, l.kind, e.want(call{method: "GET", path: path, as: "acme"}, http.StatusOK)); entryEmails(got) != "sales@example.test" {
			t.Errorf("%s after deletes: %s", l.name, entryEmails(got))
		}
		for _, bad := range []struct {
			c     call
			field string
		}{
			{call{method: "DELETE", path: path, body: map[string]any{"delete_all": true, "emails": []string{"x@example.test"}}}, "delete_all"},
			{call{method: "DELETE", path: path, body: map[string]any{"delete_all": false}}, "emails"},
			{call{method: "DELETE", path: path}, ""},
			{call{method: "GET", path: path + "?start_time=yesterday"}, "start_time"},
			{call{method: "GET", path: path + "?end_time=-1"}, "end_time"},
			{call{method: "GET", path: path + "?start_time=200&end_time=100"}, "end_time"},
			{call{method: "GET", path: path + "?limit=0"}, "limit"},
			{call{method: "GET", path: path + "?limit=501"}, "limit"},
			{call{method: "GET", path: path + "?offset=-1"}, "offset"},
		} {
			bad.c.as = "acme"
			st, body := e.do(bad.c)
			if st != http.StatusBadRequest || errorMessage(body) == "" || errorField(body) != bad.field {
				t.Errorf("%s %s: %d %v, want 400 with field %q", bad.c.method, bad.c.path, st, body, bad.field)
			}
		}
		if st, _ := e.do(call{method: "POST", path: path, as: "acme", body: map[string]any{}}); st != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405: SendGrid adds no %s through the API", path, st, l.name)
		}
	}
	// delete_all empties one list and no other.
	e.want(call{method: "DELETE", path: "/v3/suppression/bounces", as: "acme", body: map[string]any{"delete_all": true}}, http.StatusNoContent)
	if got := e.want(call{method: "GET", path: "/v3/suppression/bounces", as: "acme"}, http.StatusOK).([]any); len(got) != 0 {
		t.Errorf("bounces after delete_all: %v", got)
	}
	if got := suppressionEntries(t, store.SuppressBlock, e.want(call{method: "GET", path: "/v3/suppression/blocks", as: "acme"}, http.StatusOK)); len(got) != 1 {
		t.Errorf("blocks after deleting all bounces: %v", got)
	}
}

func TestGlobalUnsubscribes(t *testing.T) {
	e := newEnv(t)
	const global = "/v3/asm/suppressions/global"
	body := e.want(call{method: "POST", path: global, as: "acme",
		body: map[string]any{"recipient_emails": []string{"Gone@Example.TEST", "two@example.test", "gone@example.test"}}}, http.StatusCreated)
	if fmt.Sprint(body) != "map[recipient_emails:[gone@example.test two@example.test]]" {
		t.Fatalf("POST: %v", body)
	}
	// Adding again is no error.
	e.want(call{method: "POST", path: global, as: "acme", body: map[string]any{"recipient_emails": []string{"two@example.test"}}}, http.StatusCreated)
	if got := e.want(call{method: "GET", path: global + "/GONE@example.test", as: "acme"}, http.StatusOK); fmt.Sprint(got) != "map[recipient_email:gone@example.test]" {
		t.Fatalf("GET: %v", got)
	}
	if got := e.want(call{method: "GET", path: global + "/nobody@example.test", as: "acme"}, http.StatusOK); fmt.Sprint(got) != "map[]" {
		t.Fatalf("GET of an address not suppressed: %v, want {}", got)
	}
	list := suppressionEntries(t, store.SuppressUnsubscribe, e.want(call{method: "GET", path: "/v3/suppression/unsubscribes", as: "acme"}, http.StatusOK))
	if entryEmails(list) != "gone@example.test,two@example.test" {
		t.Fatalf("unsubscribes: %v", list)
	}
	if got := suppressionEntries(t, store.SuppressUnsubscribe, e.want(call{method: "GET", path: "/v3/suppression/unsubscribes?limit=1&offset=1", as: "acme"}, http.StatusOK)); entryEmails(got) != "two@example.test" {
		t.Fatalf("unsubscribes paged: %v", got)
	}
	// A global unsubscribe is no bounce.
	if got := e.want(call{method: "GET", path: "/v3/suppression/bounces", as: "acme"}, http.StatusOK).([]any); len(got) != 0 {
		t.Fatalf("bounces: %v", got)
	}
	e.want(call{method: "DELETE", path: global + "/gone@example.test", as: "acme"}, http.StatusNoContent)
	e.want(call{method: "DELETE", path: global + "/gone@example.test", as: "acme"}, http.StatusNotFound)
	for _, bad := range []any{
		map[string]any{},
		map[string]any{"recipient_emails": []string{}},
		map[string]any{"recipient_emails": []string{"ok@example.test", "not an address"}},
		map[string]any{"recipient_emails": []string{"evil\x1b[2J@example.test"}},
		map[string]any{"recipient_emails": []string{"a@b.test\r\nRCPT TO:<x@y.test>"}},
	} {
		st, body := e.do(call{method: "POST", path: global, as: "acme", body: bad})
		if st != http.StatusBadRequest || errorField(body) != "recipient_emails" {
			t.Errorf("POST %v: %d %v, want 400 with field recipient_emails", bad, st, body)
		}
	}
	if got := suppressionEntries(t, store.SuppressUnsubscribe, e.want(call{method: "GET", path: "/v3/suppression/unsubscribes", as: "acme"}, http.StatusOK)); entryEmails(got) != "two@example.test" {
		t.Fatalf("refused POSTs changed the list: %v", got)
	}
	for _, c := range []call{
		{method: "DELETE", path: "/v3/suppression/unsubscribes"},
		{method: "GET", path: "/v3/suppression/unsubscribes/two@example.test"},
		{method: "GET", path: global},
	} {
		c.as = "acme"
		if st, _ := e.do(c); st != http.StatusMethodNotAllowed && st != http.StatusNotFound {
			t.Errorf("%s %s: %d; SendGrid's description has no such endpoint", c.method, c.path, st)
		}
	}
}

func TestSuppressionsWithSendGridGo(t *testing.T) {
	e := newEnv(t)
	key := e.keys["acme"]
	sg := func(method, path string, body any) (int, any) {
		return e.sgCall(key, method, path, "", body)
	}
	st, body := sg("POST", "/v3/asm/suppressions/global", map[string]any{"recipient_emails": []string{"one@example.test", "two@example.test"}})
	if st != http.StatusCreated || fmt.Sprint(body) != "map[recipient_emails:[one@example.test two@example.test]]" {
		t.Fatalf("POST global: %d %v", st, body)
	}
	if st, body = sg("GET", "/v3/asm/suppressions/global/one@example.test", nil); st != http.StatusOK || fmt.Sprint(body) != "map[recipient_email:one@example.test]" {
		t.Fatalf("GET global: %d %v", st, body)
	}
	if st, body = sg("GET", "/v3/suppression/unsubscribes", nil); st != http.StatusOK || len(body.([]any)) != 2 {
		t.Fatalf("GET unsubscribes: %d %v", st, body)
	}
	if st, _ = sg("DELETE", "/v3/asm/suppressions/global/one@example.test", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE global: %d", st)
	}
	e.seed("acme", store.SuppressBounce, "permanent failure: 550 5.1.1 gone", time.Now(), "b1@example.test", "b2@example.test", "b3@example.test")
	if st, body = sg("GET", "/v3/suppression/bounces?limit=2", nil); st != http.StatusOK || entryEmails(suppressionEntries(t, store.SuppressBounce, body)) != "b1@example.test,b2@example.test" {
		t.Fatalf("GET bounces: %d %v", st, body)
	}
	if st, body = sg("GET", "/v3/suppression/bounces/b1@example.test", nil); st != http.StatusOK || len(body.([]any)) != 1 {
		t.Fatalf("GET bounce: %d %v", st, body)
	}
	if st, _ = sg("DELETE", "/v3/suppression/bounces/b1@example.test", nil); st != http.StatusNoContent {
		t.Fatalf("DELETE bounce: %d", st)
	}
	if st, _ = sg("DELETE", "/v3/suppression/bounces", map[string]any{"emails": []string{"b2@example.test"}}); st != http.StatusNoContent {
		t.Fatalf("DELETE bounces: %d", st)
	}
	if st, _ = sg("DELETE", "/v3/suppression/bounces", map[string]any{"delete_all": true}); st != http.StatusNoContent {
		t.Fatalf("DELETE all bounces: %d", st)
	}
	if st, body = sg("GET", "/v3/suppression/bounces", nil); st != http.StatusOK || len(body.([]any)) != 0 {
		t.Fatalf("GET bounces at the end: %d %v", st, body)
	}
}

// TestSuppressionAddedThroughTheAPIDropsTheNextMessage: a global
// unsubscribe added through the API for A's subuser, then a message from
// the subuser to it and to another address, submitted through the real
// funnel into the real queue, and one round of the real delivery worker
// (in-process DNS, a receiving SMTP server on 127.0.0.1): the suppressed
// recipient is dropped, never connected for, the other delivered; the
// same address from A itself (another list) is delivered.
func TestSuppressionAddedThroughTheAPIDropsTheNextMessage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.want(call{method: "POST", path: "/v3/asm/suppressions/global", as: "acme", obo: "shop",
		body: map[string]any{"recipient_emails": []string{"Gone@Far.test"}}}, http.StatusCreated)

	dns := testenv.StartDNS(t)
	dns.Add("far.test. 300 IN MX 10 mx.far.test.", "mx.far.test. 300 IN A 127.0.0.1")
	sink := testenv.StartSink(t, testenv.SinkOptions{})
	_, port, _ := net.SplitHostPort(sink.Addr)
	p, _ := strconv.Atoi(port)
	res, err := dnsres.New(dns.Addr, dnsres.Options{Timeout: time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	q := queue.New(e.store, queue.Options{})
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); q.Run(qctx) }()
	t.Cleanup(func() { cancel(); <-done })
	funnel, err := submit.New(submittest.Config(e.accounts, q))
	if err != nil {
		t.Fatal(err)
	}
	send := func(user string, to ...string) string {
		t.Helper()
		c, err := funnel.Authenticate(ctx, submit.Credentials{Username: account.Username, Password: e.keys[user], ClientIP: netip.MustParseAddr("127.0.0.1")})
		if err != nil {
			t.Fatal(err)
		}
		tx, err := funnel.Begin(ctx, c, "app@"+user+".test", 0, submit.Origin{Helo: "client.test", With: "ESMTPSA"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range to {
			if err := tx.AddRecipient(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		rc, err := tx.Commit(ctx, []byte("From: app@"+user+".test\r\nTo: x@far.test\r\nSubject: hi\r\n\r\nHello.\r\n"), submit.CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rc.ID
	}
	fromShop := send("shop", "gone@far.test", "kept@far.test")
	fromAcme := send("acme", "gone@far.test")

	w := delivery.NewWorker(delivery.WorkerConfig{
		Store: e.store, Resolver: res, Hostname: "postern.test", Port: p,
		TLS: &tls.Config{RootCAs: sink.RootCAs},
		Timeouts: delivery.Timeouts{Connect: 15 * time.Second, Greeting: 15 * time.Second, Mail: 15 * time.Second, Rcpt: 15 * time.Second,
			DataInit: 15 * time.Second, DataBlock: 15 * time.Second, DataEnd: 15 * time.Second, Quit: 5 * time.Second},
		RetryFirst: time.Minute, GiveUpAfter: 24 * time.Hour, DelayNotice: 4 * time.Hour,
		Log: slog.New(slog.DiscardHandler), AllowPrivateNetworks: true,
	})
	if n, err := w.RunOnce(ctx); err != nil || n != 2 {
		t.Fatalf("delivery round: %d messages, %v", n, err)
	}
	state := func(id string) map[string]store.Recipient {
		rs, err := e.store.Recipients(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]store.Recipient{}
		for _, r := range rs {
			out[r.Address] = r
		}
		return out
	}
	shop := state(fromShop)
	if r := shop["gone@far.test"]; r.State != store.RcptDropped || !strings.Contains(r.LastResult, "suppressed") {
		t.Errorf("shop's mail to the suppressed address: %s %q, want dropped", r.State, r.LastResult)
	}
	if r := shop["kept@far.test"]; r.State != store.RcptDelivered {
		t.Errorf("shop's mail to the other address: %s %q, want delivered", r.State, r.LastResult)
	}
	if r := state(fromAcme)["gone@far.test"]; r.State != store.RcptDelivered {
		t.Errorf("acme's mail to shop's suppressed address: %s %q, want delivered (acme's list is its own)", r.State, r.LastResult)
	}
	var got []string
	for _, m := range sink.Messages() {
		got = append(got, m.From+"→"+strings.Join(m.To, ","))
	}
	slices.Sort(got)
	if strings.Join(got, " ") != "app@acme.test→gone@far.test app@shop.test→kept@far.test" {
		t.Errorf("the receiver got %v", got)
	}
}
