package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSenderConfirmationLink: the built binary mails the confirmation to
// the address (delivered to the recording sink through the in-process
// DNS), and the link in it, opened on the binary's HTTP listener, shows a
// button (GET confirms nothing) whose POST verifies the sender once.
func TestSenderConfirmationLink(t *testing.T) {
	in := newInstance(t, 0)
	in.start()
	in.mustCLI("user", "create", "acme")
	if _, errOut, err := in.cli("sender", "add", "me@example.test", "--user", "acme"); err != nil {
		t.Fatalf("sender add: %v %s", err, errOut)
	}
	var body []byte
	deadline := time.Now().Add(60 * time.Second)
	for body == nil {
		for _, m := range in.sink.Messages() {
			if m.From == "" && len(m.To) == 1 && m.To[0] == "me@example.test" {
				body = m.Body
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the confirmation mail did not arrive\n%s", in.log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	link := regexp.MustCompile(`http://\S+/verify\?code=([A-Z2-7]{32})`).FindSubmatch(body)
	if link == nil {
		t.Fatalf("no link in:\n%s", body)
	}
	u, err := url.Parse(string(link[0]))
	if err != nil {
		t.Fatal(err)
	}
	// The test config listens on port 0, so the link's host is not
	// dialable: the path and query are what matter.
	base := "http://" + in.addr("http")
	res, err := http.Get(base + u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), `method="post"`) && !strings.Contains(string(page), `method="POST"`) {
		t.Fatalf("GET: %d\n%s", res.StatusCode, page)
	}
	if list := in.mustCLI("sender", "list"); !strings.Contains(list, "pending") {
		t.Fatalf("a GET confirmed the sender: %q", list)
	}
	post := func() int {
		res, err := http.PostForm(base+"/verify", url.Values{"code": {string(link[1])}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(); code != 200 {
		t.Fatalf("POST: %d", code)
	}
	if list := in.mustCLI("sender", "list"); !regexp.MustCompile(`me@example.test +acme +verified 20`).MatchString(list) {
		t.Fatalf("after POST: %q", list)
	}
	if code := post(); code != 404 {
		t.Fatalf("second POST of the same code: %d, want 404", code)
	}
	in.stop()
}
