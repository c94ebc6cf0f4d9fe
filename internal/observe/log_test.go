package observe_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/observe/observetest"
)

func TestParseFormat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want observe.Format
		ok   bool
	}{{"text", observe.FormatText, true}, {"json", observe.FormatJSON, true}, {"", "", false}, {"JSON", "", false}, {"logfmt", "", false}} {
		got, err := observe.ParseFormat(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseFormat(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// mailEvents writes one line of each mail log event.
func mailEvents(m *observe.MailLog) {
	m.Queued(observe.Queued{ID: "q1", User: "acme", KeyID: "k1", Size: 1234, Rcpts: 2,
		Ingress: observe.IngressSMTP, ClientIP: netip.MustParseAddr("192.0.2.7")})
	m.Deferred("q1", "a@example.test", "451 4.7.1 try later", 1)
	m.Delivered("q1", "b@example.test", "250 2.0.0 Ok: queued as X", "TLS1.3")
	m.Bounced("q1", "c@example.test", "550 5.1.1 no such user")
	m.Dropped("q1", "d@example.test", "suppressed: bounce")
}

// TestMailLogText: the fixed message texts and keys, in logfmt, each
// line with log=mail and no key twice.
func TestMailLogText(t *testing.T) {
	var buf bytes.Buffer
	mailEvents(observe.NewMailLog(observe.NewLogger(&buf, observe.FormatText, slog.LevelInfo)))
	want := []string{
		"msg=queued log=mail id=q1 user=acme key_id=k1 size=1234 rcpts=2 ingress=smtp client_ip=192.0.2.7",
		`msg=deferred log=mail id=q1 rcpt=a@example.test reply="451 4.7.1 try later" attempt=1`,
		`msg=delivered log=mail id=q1 rcpt=b@example.test reply="250 2.0.0 Ok: queued as X" tls=TLS1.3`,
		`msg=bounced log=mail id=q1 rcpt=c@example.test reply="550 5.1.1 no such user"`,
		`msg=dropped log=mail id=q1 rcpt=d@example.test reason="suppressed: bounce"`,
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		if !strings.HasSuffix(l, " level=INFO "+want[i]) {
			t.Errorf("line %d = %s\nwant suffix %s", i, l, want[i])
		}
		if dup, err := observetest.TextDuplicates(l); err != nil || len(dup) > 0 {
			t.Errorf("line %d: duplicates %v, %v", i, dup, err)
		}
	}
}

func TestMailLogJSON(t *testing.T) {
	var buf bytes.Buffer
	mailEvents(observe.NewMailLog(observe.NewLogger(&buf, observe.FormatJSON, slog.LevelInfo)))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	msgs := []string{"queued", "deferred", "delivered", "bounced", "dropped"}
	if len(lines) != len(msgs) {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] != msgs[i] || rec["log"] != "mail" || rec["id"] != "q1" {
			t.Errorf("line %d = %s", i, l)
		}
		if dup, err := observetest.JSONDuplicates([]byte(l)); err != nil || len(dup) > 0 {
			t.Errorf("line %d: duplicates %v, %v", i, dup, err)
		}
	}
	if !strings.Contains(lines[0], `"size":1234`) || !strings.Contains(lines[4], `"reason":"suppressed: bounce"`) {
		t.Errorf("lines:\n%s", buf.String())
	}
}

// TestMailLogDefaults: no TLS and no client address have a word, not
// an empty value; a nil MailLog writes nothing.
func TestMailLogDefaults(t *testing.T) {
	var buf bytes.Buffer
	m := observe.NewMailLog(observe.NewLogger(&buf, observe.FormatText, slog.LevelInfo))
	m.Delivered("q2", "a@example.test", "250 ok", "")
	m.Queued(observe.Queued{ID: "q3", Ingress: observe.IngressInternal})
	if s := buf.String(); !strings.Contains(s, "tls=none") || !strings.Contains(s, "client_ip=none") {
		t.Errorf("log:\n%s", s)
	}
	var nilLog *observe.MailLog
	mailEvents(nilLog)
}
