package delivery_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/observe/observetest"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
)

// TestMetricsAndMailLog: one attempt to a real receiver that takes one
// recipient, defers one and refuses one, then a suppressed one: each is
// counted by result and has its mail log line, with the remote reply.
func TestMetricsAndMailLog(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	e := newWorkerEnv(t, wopts{
		metrics: observe.NewMetrics(reg),
		mailLog: observe.NewMailLog(observe.NewLogger(&logs, observe.FormatText, slog.LevelInfo)),
		sink: testenv.SinkOptions{Rcpt: map[string]testenv.SinkReply{
			"gone@part.test":  {Err: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}},
			"later@part.test": {Err: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted"}},
		}},
	})
	e.dns.Add("part.test. 300 IN MX 10 mx.part.test.", "mx.part.test. 300 IN A 127.0.0.1",
		"acme.test. 300 IN MX 10 mx.part.test.") // the DSN to the sender is delivered too
	id := e.enqueue("app@acme.test", "ok@part.test", "later@part.test", "gone@part.test")
	e.round()
	e.wantState(id, "gone@part.test", store.RcptBounced, "550")
	id2 := e.enqueue("app@acme.test", "gone@part.test") // suppressed now
	e.round()
	e.wantState(id2, "gone@part.test", store.RcptDropped, "suppressed")

	for result, want := range map[string]float64{"delivered": 2, "deferred": 1, "bounced": 1, "dropped": 1} {
		c, err := metricValue(reg, "postern_delivery_attempts_total", "result", result)
		if err != nil || c != want {
			t.Errorf("attempts{result=%s} = %v, %v; want %v", result, c, err, want)
		}
	}
	// The first message's connection and the DSN's: attempts are timed.
	if n, err := testutil.GatherAndCount(reg, "postern_delivery_duration_seconds"); err != nil || n != 1 {
		t.Errorf("duration series %d, %v", n, err)
	}
	if c, _ := histogramCount(reg, "postern_delivery_duration_seconds"); c != 2 {
		t.Errorf("duration observed %d times", c)
	}

	want := map[string][]string{
		"ok@part.test":    {"msg=delivered", "id=" + id, `reply="250 `, "tls=TLS1."},
		"later@part.test": {"msg=deferred", "id=" + id, `reply="451 4.7.1 greylisted"`, "attempt=1"},
		"gone@part.test":  {"msg=bounced", "id=" + id, `reply="550 5.1.1 no such user"`},
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if dup, err := observetest.TextDuplicates(l); err != nil || len(dup) > 0 {
			t.Errorf("duplicate keys %v (%v) in %s", dup, err, l)
		}
		lines = append(lines, l)
	}
	for rcpt, parts := range want {
		found := false
		for _, l := range lines {
			if strings.Contains(l, "rcpt="+rcpt) && strings.Contains(l, parts[0]) {
				found = true
				for _, p := range parts[1:] {
					if !strings.Contains(l, p) {
						t.Errorf("%s: line %s lacks %s", rcpt, l, p)
					}
				}
			}
		}
		if !found {
			t.Errorf("no %s line for %s in:\n%s", parts[0], rcpt, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "msg=dropped log=mail id="+id2+` rcpt=gone@part.test reason="suppressed: `) {
		t.Errorf("no dropped line for %s in:\n%s", id2, logs.String())
	}
}

func metricValue(g prometheus.Gatherer, name, label, value string) (float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue(), nil
				}
			}
		}
	}
	return 0, nil
}

func histogramCount(g prometheus.Gatherer, name string) (uint64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount(), nil
		}
	}
	return 0, nil
}
