package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/observe/observetest"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
)

// startObserved is start with the process log in format written to logs
// (at debug level, so every line is checked) and cfg changed by mod.
// stop stops it at once (the log of the shutdown included), rather than
// at cleanup.
func startObserved(tb testing.TB, format observe.Format, logs io.Writer, mod func(*config.Config)) (p *running, stop func()) {
	tb.Helper()
	d, sink := startPeers(tb)
	cfg := peerConfig(tb, d, sink)
	cfg.Log.Format = string(format)
	if mod != nil {
		mod(&cfg)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, observe.NewLogger(logs, format, slog.LevelDebug))
	if err != nil {
		tb.Fatal(err)
	}
	u, err := a.Accounts.CreateUser(ctx, "acme", "")
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Store.AddDomain(ctx, store.Domain{Name: "example.test", UserID: u.ID, State: store.DomainTrusted, CreatedAt: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	k, _, err := a.Accounts.CreateKey(ctx, "acme", "observed", nil)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := a.Start()
	if err != nil {
		tb.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r.Stop(ctx)
		a.Close()
	}
	tb.Cleanup(stop)
	pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "selfsigned-cert.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &running{app: a, r: r, sink: sink, key: k, tls: &tls.Config{RootCAs: pool, ServerName: "localhost"}}, stop
}

// scrape GETs /metrics with the bearer token (none when "") and parses
// the answer with Prometheus's own text-format parser.
func (p *running) scrape(tb testing.TB, token string) (int, map[string]*dto.MetricFamily) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.r.HTTPAddr.String()+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("/metrics does not parse: %v", err)
	}
	return resp.StatusCode, mfs
}

// value is the series of name whose labels include labels (a counter's
// or gauge's value, a histogram's count); 0 when there is none.
// has reports whether name has a series with labels (pairs of name and
// value).
func has(mfs map[string]*dto.MetricFamily, name string, labels ...string) bool {
	for _, m := range mfs[name].GetMetric() {
		n := 0
		for i := 0; i+1 < len(labels); i += 2 {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					n++
				}
			}
		}
		if n == len(labels)/2 {
			return true
		}
	}
	return false
}

func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestMetricsMoveAsMailFlows scrapes /metrics before and after mail is
// submitted over SMTP and delivered to the sink, and parses both with
// Prometheus's parser: the counters of each stage moved.
func TestMetricsMoveAsMailFlows(t *testing.T) {
	p, _ := startObserved(t, observe.FormatText, io.Discard, nil)
	code, before := p.scrape(t, "")
	if code != http.StatusOK {
		t.Fatalf("/metrics from loopback: %d", code)
	}
	for _, name := range []string{"postern_queue_messages", "postern_webhook_backlog", "go_goroutines", "process_start_time_seconds"} {
		if before[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	const n = 3
	p.submit(t, 1, n)
	p.waitDelivered(t, n)

	// The sink has the mail a moment before the worker has its result.
	var after map[string]*dto.MetricFamily
	deadline := time.Now().Add(time.Minute)
	for {
		_, after = p.scrape(t, "")
		if value(after, "postern_delivery_attempts_total", "result", "delivered") >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	moved := func(what string, min float64, name string, labels ...string) {
		t.Helper()
		if d := value(after, name, labels...) - value(before, name, labels...); d < min {
			t.Errorf("%s: %s%v moved by %v, want at least %v", what, name, labels, d, min)
		}
	}
	moved("sessions", 1, "postern_smtp_sessions_total", "listener", "submissions")
	moved("250 replies", 3*n, "postern_smtp_replies_total", "listener", "submissions", "code", "250")
	moved("accepted", n, "postern_submissions_total", "ingress", "smtp", "outcome", "accepted")
	moved("delivered", n, "postern_delivery_attempts_total", "result", "delivered")
	moved("timed", 1, "postern_delivery_duration_seconds")
	moved("MX lookups", 1, "postern_dns_lookups_total", "type", "mx")
	for _, c := range []string{"delivery", "webhooks", "jobs", "smtpd"} {
		if value(after, "postern_panics_total", "component", c) != 0 || !has(after, "postern_panics_total", "component", c) {
			t.Errorf("postern_panics_total{component=%q} missing or not 0", c)
		}
	}
	if d := value(after, "postern_submissions_total", "outcome", "error") - value(before, "postern_submissions_total", "outcome", "error"); d != 0 {
		t.Errorf("%v submissions ended in an internal error", d)
	}
}

// TestMetricsToken: with http.metrics_token set, loopback without it is
// refused and the token is served.
func TestMetricsToken(t *testing.T) {
	const token = "s3cret-metrics-token-0123"
	p, _ := startObserved(t, observe.FormatText, io.Discard, func(c *config.Config) { c.HTTP.MetricsToken = token })
	if code, _ := p.scrape(t, ""); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d", code)
	}
	if code, _ := p.scrape(t, token+"x"); code != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %d", code)
	}
	if code, mfs := p.scrape(t, token); code != http.StatusOK || mfs["postern_submissions_total"] == nil {
		t.Errorf("with the token: %d", code)
	}
}

// TestLogsHaveNoRepeatedKeys captures the whole log of a node, in text
// and in JSON, through a session that submits and delivers, a refused
// AUTH, a refused message, a bounce and a refused HTTP key, and checks
// that no line repeats a key (a repeated key is lost by logfmt and JSON
// consumers), that the mail log has its lines, and that the API key
// never appears.
func TestLogsHaveNoRepeatedKeys(t *testing.T) {
	for _, format := range []observe.Format{observe.FormatText, observe.FormatJSON} {
		t.Run(string(format), func(t *testing.T) {
			logs := &testenv.LogBuffer{}
			p, stop := startObserved(t, format, logs, nil)
			exercise(t, p)
			stop()
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) < 10 {
				t.Fatalf("only %d log lines:\n%s", len(lines), logs.String())
			}
			mail := map[string]int{}
			for _, l := range lines {
				var dup []string
				var err error
				var msg, log string
				if format == observe.FormatJSON {
					dup, err = observetest.JSONDuplicates([]byte(l))
					msg, log = jsonField(l, "msg"), jsonField(l, "log")
				} else {
					dup, err = observetest.TextDuplicates(l)
					pairs, _ := observetest.Pairs(l)
					for _, kv := range pairs {
						switch kv[0] {
						case "msg":
							msg = kv[1]
						case "log":
							log = kv[1]
						}
					}
				}
				if err != nil {
					t.Errorf("line does not parse (%v): %s", err, l)
				}
				if len(dup) > 0 {
					t.Errorf("repeated keys %v: %s", dup, l)
				}
				if log == "mail" {
					mail[msg]++
				}
			}
			for _, ev := range []string{"queued", "delivered", "bounced"} {
				if mail[ev] == 0 {
					t.Errorf("no mail log line %q; mail log %v", ev, mail)
				}
			}
			if strings.Contains(logs.String(), p.key) {
				t.Error("the API key is in the log")
			}
			_, secret, _ := strings.Cut(p.key, ".")
			if secret != "" && strings.Contains(logs.String(), secret) {
				t.Error("the API key's secret part is in the log")
			}
		})
	}
}

// exercise runs the traffic whose log lines are checked.
func exercise(t *testing.T, p *running) {
	t.Helper()
	addr := p.r.Addrs[smtpd.Submissions][0].String()
	// A wrong key (the real key with its secret altered) is refused.
	cl, err := smtp.DialTLS(addr, p.tls)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Auth(sasl.NewPlainClient("", "apikey", p.key+"x")); err == nil {
		t.Error("a wrong key authenticated")
	}
	cl.Close()
	// Mail that is delivered, one that bounces (no such domain), and
	// messages refused at MAIL and at DATA (identities not verified).
	cl, err = smtp.DialTLS(addr, p.tls)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Auth(sasl.NewPlainClient("", "apikey", p.key)); err != nil {
		t.Fatal(err)
	}
	msg := "From: app@example.test\r\nSubject: observed\r\n\r\nhello\r\n"
	if err := cl.SendMail("app@example.test", []string{"u1@example.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cl.SendMail("app@example.test", []string{"nobody@nxdomain.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	var se *smtp.SMTPError
	if err := cl.SendMail("app@other.test", []string{"u2@example.test"}, strings.NewReader(msg)); !errors.As(err, &se) {
		t.Errorf("unverified envelope sender: %v", err)
	}
	if err := cl.SendMail("app@example.test", []string{"u2@example.test"}, strings.NewReader("From: boss@other.test\r\n\r\nhi\r\n")); !errors.As(err, &se) {
		t.Errorf("unverified From: %v", err)
	}
	cl.Quit()
	// A wrong key over HTTP.
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.r.HTTPAddr.String()+"/v3/mail/send", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+p.key+"x")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("HTTP with a wrong key: %d", resp.StatusCode)
		}
	}
	p.waitDelivered(t, 1)
	// The bounce: its DSN to app@example.test is delivered to the sink too.
	p.waitDelivered(t, 2)
	deadline := time.Now().Add(time.Minute)
	for {
		msgs, _ := p.app.Store.Messages(context.Background())
		done := 0
		for _, m := range msgs {
			if m.State == store.StateDone {
				done++
			}
		}
		if done == len(msgs) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jsonField is a top-level string field of a JSON log line.
func jsonField(line, key string) string {
	var rec map[string]any
	json.Unmarshal([]byte(line), &rec)
	s, _ := rec[key].(string)
	return s
}
