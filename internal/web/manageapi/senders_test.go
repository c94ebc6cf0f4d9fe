package manageapi_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/postern/postern/internal/sendercode"
)

// identityCodes returns the codes mailed to addr, oldest first.
func (e *env) identityCodes(addr string) []string {
	e.t.Helper()
	ctx := context.Background()
	msgs, err := e.store.Messages(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var codes []string
	for _, m := range msgs {
		if m.From != "" || len(m.Recipients) != 1 || m.Recipients[0] != addr {
			continue
		}
		body, err := e.store.MessageBody(ctx, m.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		if c := regexp.MustCompile(`/verify\?code=([A-Z2-7]{32})`).FindSubmatch(body); c != nil {
			codes = append(codes, string(c[1]))
		}
	}
	return codes
}

// TestVerifiedSendersAPI: every /v3/verified_senders endpoint, through
// SendGrid's Go client, with SendGrid's shapes and statuses; the
// confirmation mail is queued, and redeeming its code (as the /verify
// page does) verifies the sender.
func TestVerifiedSendersAPI(t *testing.T) {
	e, _ := newIdentityEnv(t)
	key := e.keys["acme"]
	req := map[string]any{"nickname": "Orders", "from_email": "Orders@Mailbox.test", "from_name": "Example Orders",
		"reply_to": "help@mailbox.test", "reply_to_name": "Help", "address": "1234 Fake St", "city": "San Francisco", "country": "USA"}
	st, body := e.sgCall(key, "POST", "/v3/verified_senders", "", req)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, body)
	}
	s := obj(t, body)
	id := s["id"].(float64)
	for k, v := range map[string]any{"nickname": "Orders", "from_email": "orders@mailbox.test", "from_name": "Example Orders",
		"reply_to": "help@mailbox.test", "reply_to_name": "Help", "verified": false, "locked": false, "address": "", "city": "", "country": ""} {
		if s[k] != v {
			t.Errorf("created %s = %v, want %v", k, s[k], v)
		}
	}
	if id < 1 || len(e.identityCodes("orders@mailbox.test")) != 1 {
		t.Fatalf("created %v; confirmations %v", s, e.identityCodes("orders@mailbox.test"))
	}

	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"from_email": "a@b.test", "reply_to": "a@b.test"}, "nickname"},
		{map[string]any{"nickname": "n", "reply_to": "a@b.test"}, "from_email"},
		{map[string]any{"nickname": "n", "from_email": "a@b.test"}, "reply_to"},
		{map[string]any{"nickname": "n", "from_email": "not an address", "reply_to": "a@b.test"}, "from_email"},
		{map[string]any{"nickname": "n", "from_email": "a@b.test", "reply_to": "nobody"}, "reply_to"},
		{map[string]any{"nickname": string(make([]byte, 101)), "from_email": "a@b.test", "reply_to": "a@b.test"}, "nickname"},
		{map[string]any{"nickname": "n", "from_email": "a@b.test", "reply_to": "a@b.test", "from_name": "a\r\nBcc: x@y.test"}, "from_name"},
	} {
		st, body := e.sgCall(key, "POST", "/v3/verified_senders", "", c.body)
		errs, _ := obj(t, body)["errors"].([]any)
		if st != http.StatusBadRequest || len(errs) != 1 || obj(t, errs[0])["field"] != c.field {
			t.Errorf("POST %v: %d %v, want 400 for %s", c.body, st, body, c.field)
		}
	}

	st, body = e.sgCall(key, "GET", "/v3/verified_senders", "", nil)
	results, _ := obj(t, body)["results"].([]any)
	if st != http.StatusOK || len(results) != 1 || domainJSONText(t, results[0]) != domainJSONText(t, s) {
		t.Fatalf("list: %d %v", st, body)
	}
	path := fmt.Sprintf("/v3/verified_senders/resend/%d", int64(id))
	if st, body = e.sgCall(key, "POST", path, "", nil); st != http.StatusNoContent || body != nil {
		t.Fatalf("resend: %d %v", st, body)
	}
	codes := e.identityCodes("orders@mailbox.test")
	if len(codes) != 2 || codes[0] == codes[1] {
		t.Fatalf("codes after resend: %v", codes)
	}
	if _, err := sendercode.Confirm(context.Background(), e.store, codes[0], time.Now()); err == nil {
		t.Fatal("the first code still confirms after a resend")
	}
	if _, err := sendercode.Confirm(context.Background(), e.store, codes[1], time.Now()); err != nil {
		t.Fatal(err)
	}
	_, body = e.sgCall(key, "GET", "/v3/verified_senders", "", nil)
	if results, _ = obj(t, body)["results"].([]any); len(results) != 1 || obj(t, results[0])["verified"] != true {
		t.Fatalf("list after confirmation: %v", body)
	}
	if st, body = e.sgCall(key, "POST", path, "", nil); st != http.StatusBadRequest || errorMessage(body) != "the sender is verified already" {
		t.Fatalf("resend to a verified sender: %d %v", st, body)
	}
	if st, _ = e.sgCall(key, "POST", "/v3/verified_senders", "", req); st != http.StatusBadRequest {
		t.Fatalf("a verified sender created again: %d", st)
	}

	// The list's filters: id, lastSeenID and limit, in id order.
	for _, a := range []string{"two@mailbox.test", "three@mailbox.test"} {
		e.want(call{method: "POST", path: "/v3/verified_senders", as: "acme", body: map[string]any{"nickname": a, "from_email": a, "reply_to": a}}, http.StatusCreated)
	}
	ids := func(q string) string {
		t.Helper()
		b := e.want(call{method: "GET", path: "/v3/verified_senders" + q, as: "acme"}, http.StatusOK)
		var out []string
		for _, r := range obj(t, b)["results"].([]any) {
			out = append(out, obj(t, r)["nickname"].(string))
		}
		return fmt.Sprint(out)
	}
	for q, want := range map[string]string{
		"":                                       "[Orders two@mailbox.test three@mailbox.test]",
		"?limit=2":                               "[Orders two@mailbox.test]",
		fmt.Sprintf("?lastSeenID=%d", int64(id)): "[two@mailbox.test three@mailbox.test]",
		fmt.Sprintf("?id=%d", int64(id)):         "[Orders]",
		"?id=999999":                             "[]",
	} {
		if got := ids(q); got != want {
			t.Errorf("list%s: %s, want %s", q, got, want)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?lastSeenID=-1", "?id=0"} {
		e.want(call{method: "GET", path: "/v3/verified_senders" + q, as: "acme"}, http.StatusBadRequest)
	}

	del := fmt.Sprintf("/v3/verified_senders/%d", int64(id))
	if st, body = e.sgCall(key, "DELETE", del, "", nil); st != http.StatusNoContent || body != nil {
		t.Fatalf("delete: %d %v", st, body)
	}
	if st, _ = e.sgCall(key, "DELETE", del, "", nil); st != http.StatusNotFound {
		t.Fatalf("delete twice: %d", st)
	}
	if got := ids(""); got != "[two@mailbox.test three@mailbox.test]" {
		t.Fatalf("after delete: %s", got)
	}
	for _, p := range []string{"/v3/verified_senders/0", "/v3/verified_senders/x", "/v3/verified_senders/resend/x"} {
		method := "DELETE"
		if p == "/v3/verified_senders/resend/x" {
			method = "POST"
		}
		e.want(call{method: method, path: p, as: "acme"}, http.StatusNotFound)
	}
}
