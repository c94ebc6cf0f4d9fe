package smtpd_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/smtpd"
)

// TestMetrics: sessions are counted by listener when they open, and
// every reply the session writes by listener and code; a refused AUTH
// counts as an authentication failure of its listener.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, envOptions{metrics: observe.NewMetrics(reg)})

	c := e.dial(smtpd.Submissions)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, "From: app@example.test\r\nSubject: x\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	c.Quit()

	bad := e.dial(smtpd.Submission) // with STARTTLS
	if err := bad.Auth(sasl.NewPlainClient("", account.Username, "pst_nope.wrong")); err == nil {
		t.Fatal("a wrong key authenticated")
	}
	bad.Quit()

	// The submissions session: 220 greeting, 250 EHLO, 235 AUTH, 250
	// MAIL, 250 RCPT, 250 after DATA, 221 QUIT. The replies written
	// before the session goes on (354, 334, STARTTLS's 220) are not
	// counted: the submission session has one 220, the greeting.
	want := `
# HELP postern_auth_failures_total Failed authentications (SMTP AUTH and HTTP API keys), by listener.
# TYPE postern_auth_failures_total counter
postern_auth_failures_total{listener="submission"} 1
# HELP postern_smtp_sessions_total SMTP sessions started, by listener.
# TYPE postern_smtp_sessions_total counter
postern_smtp_sessions_total{listener="submission"} 1
postern_smtp_sessions_total{listener="submissions"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "postern_smtp_sessions_total", "postern_auth_failures_total"); err != nil {
		t.Error(err)
	}
	replies := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "postern_smtp_replies_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var l, code string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "listener":
					l = lp.GetValue()
				case "code":
					code = lp.GetValue()
				}
			}
			replies[l+" "+code] = m.GetCounter().GetValue()
		}
	}
	for k, v := range map[string]float64{"submissions 220": 1, "submissions 250": 4, "submissions 235": 1, "submissions 221": 1,
		"submission 220": 1, "submission 250": 2, "submission 535": 1, "submission 221": 1} {
		if replies[k] != v {
			t.Errorf("replies{%s} = %v, want %v (all: %v)", k, replies[k], v, replies)
		}
	}
}
