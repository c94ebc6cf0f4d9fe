package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/testenv"
	"github.com/postern/postern/internal/tlsconf"
)

// server is a real Postern, started in-process as `postern serve` starts
// it, on 127.0.0.1 ports, with a user "load" and a mail.send key.
type server struct {
	app         *app.App
	running     *app.Running
	key, keyID  string
	ca          string // the generated self-signed certificate
	submission  string // STARTTLS
	submissions string // implicit TLS
}

func startServer(t testing.TB, edit func(*config.Config)) *server {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.LoopbackConfig(t)
	// These tests fail AUTH on purpose, many times, all from 127.0.0.1:
	// lockout and pacing are tested in internal/smtpd.
	cfg.SMTP.LockoutFailures = 1000
	cfg.SMTP.AuthFailureDelay.Duration = 0
	// The queued mail is for example.test. Delivery must find DNS down
	// (a temporary failure, retried in a minute), not the domain missing
	// (a bounce, which would queue one more message per message).
	cfg.DNS.Resolver = closedUDPPort(t)
	if edit != nil {
		edit(&cfg)
	}
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	u, err := a.Accounts.CreateUser(ctx, "load", "")
	if err != nil {
		t.Fatal(err)
	}
	// Postern sends only from verified identities: the operator vouches
	// for the generator's domain.
	if err := a.Store.AddDomain(ctx, store.Domain{Name: "example.test", UserID: u.ID, State: store.DomainTrusted, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	key, rec, err := a.Accounts.CreateKey(ctx, "load", "postern-load", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before a.Close: cleanups run last first
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &server{
		app:         a,
		running:     r,
		key:         key,
		keyID:       rec.ID,
		ca:          filepath.Join(cfg.DataDir, tlsconf.SelfSignedCert),
		submission:  r.Addrs[smtpd.Submission][0].String(),
		submissions: r.Addrs[smtpd.Submissions][0].String(),
	}
}

// closedUDPPort returns a loopback address where nothing listens: a DNS
// query there is refused at once.
func closedUDPPort(t testing.TB) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return addr
}

func (s *server) opts(mode TLSMode, conns, perConn int) Options {
	o := Options{
		Addr: s.submission, TLS: mode, CAFile: s.ca,
		Conns: conns, PerConn: perConn, Size: 2048, Rcpts: 1,
		From: "load@example.test", To: "sink@example.test",
		Timeout: 30 * time.Second,
	}
	if mode == ImplicitTLS {
		o.Addr = s.submissions
	}
	return o
}

func (s *server) messages(t testing.TB) []store.Message {
	t.Helper()
	msgs, err := s.app.Store.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// wantAllAccepted checks a report of a clean run of n messages.
func wantAllAccepted(t *testing.T, rep Report, n int) {
	t.Helper()
	if rep.Sent != n || rep.Accepted != n || rep.Failed != 0 || len(rep.ByCode) != 0 || len(rep.ConnErrors) != 0 || rep.Interrupted {
		t.Fatalf("report: sent %d accepted %d failed %d by code %v conn errors %v interrupted %v, want %d accepted",
			rep.Sent, rep.Accepted, rep.Failed, rep.ByCode, rep.ConnErrors, rep.Interrupted, n)
	}
	if !rep.OK() {
		t.Error("OK() is false")
	}
	if len(rep.Latencies) != n {
		t.Errorf("%d latencies, want %d", len(rep.Latencies), n)
	}
	if !(0 < rep.P50 && rep.P50 <= rep.P90 && rep.P90 <= rep.P99 && rep.P99 <= rep.Max && rep.Max <= rep.Elapsed) {
		t.Errorf("latencies out of order: p50 %v p90 %v p99 %v max %v elapsed %v", rep.P50, rep.P90, rep.P99, rep.Max, rep.Elapsed)
	}
}

func TestSubmitBothTLSModes(t *testing.T) {
	s := startServer(t, nil)
	for _, mode := range []TLSMode{StartTLS, ImplicitTLS} {
		var out bytes.Buffer
		rep, err := run(t.Context(), s.opts(mode, 4, 10), s.key, &out)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		wantAllAccepted(t, rep, 40)
		if !strings.HasPrefix(out.String(), "sent 40 accepted 40 failed 0 in ") || !strings.Contains(out.String(), "MAIL→250 latency p50 ") ||
			strings.Count(out.String(), "\n") != 1 {
			t.Errorf("%s: output %q", mode, out.String())
		}
		if strings.Contains(out.String(), s.key) {
			t.Errorf("%s: output contains the key", mode)
		}
	}
	msgs := s.messages(t)
	if len(msgs) != 80 {
		t.Fatalf("store holds %d messages, want 80", len(msgs))
	}
	for _, m := range msgs {
		if m.From != "load@example.test" || strings.Join(m.Recipients, ",") != "sink@example.test" || m.KeyID != s.keyID || m.Size < 2048 {
			t.Errorf("message %s: from %q to %v key %s size %d", m.ID, m.From, m.Recipients, m.KeyID, m.Size)
		}
	}
}

func TestSubmitManyRecipients(t *testing.T) {
	s := startServer(t, nil)
	o := s.opts(StartTLS, 2, 3)
	o.Rcpts = 3
	o.Size = 100
	rep, err := run(t.Context(), o, s.key, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	wantAllAccepted(t, rep, 6)
	msgs := s.messages(t)
	if len(msgs) != 6 {
		t.Fatalf("store holds %d messages, want 6", len(msgs))
	}
	for _, m := range msgs {
		if got := strings.Join(m.Recipients, ","); got != "sink+1@example.test,sink+2@example.test,sink+3@example.test" {
			t.Errorf("message %s: recipients %s", m.ID, got)
		}
	}
}

// A key that is wrong or revoked fails every connection at AUTH; nothing
// is sent, nothing queued, and the key is not echoed.
func TestBadKeyFailsAtAuth(t *testing.T) {
	s := startServer(t, nil)
	revoked, rec, err := s.app.Accounts.CreateKey(t.Context(), "load", "revoked", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Accounts.Revoke(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	wrong := s.key[:len(s.key)-4] + "AAAA"
	if wrong == s.key {
		wrong = s.key[:len(s.key)-4] + "BBBB"
	}
	for _, tc := range []struct{ name, key string }{
		{"revoked", revoked},
		{"wrong secret", wrong},
		{"not a key", "hunter2"},
	} {
		for _, mode := range []TLSMode{StartTLS, ImplicitTLS} {
			var out bytes.Buffer
			rep, err := run(t.Context(), s.opts(mode, 4, 10), tc.key, &out)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.name, mode, err)
			}
			if rep.Sent != 0 || rep.Accepted != 0 || rep.Failed != 0 || rep.OK() {
				t.Errorf("%s %s: sent %d accepted %d failed %d OK %v", tc.name, mode, rep.Sent, rep.Accepted, rep.Failed, rep.OK())
			}
			if len(rep.ConnErrors) != 4 {
				t.Fatalf("%s %s: %d connection errors, want 4: %v", tc.name, mode, len(rep.ConnErrors), rep.ConnErrors)
			}
			for _, e := range rep.ConnErrors {
				if e.Stage != StageAuth || e.Code != 535 {
					t.Errorf("%s %s: %v (code %d), want auth 535", tc.name, mode, e, e.Code)
				}
			}
			if !strings.Contains(out.String(), "connections ended early: 4 of 4\n  auth: 535 ") {
				t.Errorf("%s %s: output %q", tc.name, mode, out.String())
			}
			if strings.Contains(out.String(), tc.key) {
				t.Errorf("%s %s: output contains the key", tc.name, mode)
			}
		}
	}
	if n := len(s.messages(t)); n != 0 {
		t.Errorf("%d messages queued with bad keys", n)
	}
}

// A refused message is counted by its code; the connection goes on.
func TestRefusedMessagesCountedByCode(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.SMTP.MaxMessageBytes = 4096 })
	o := s.opts(StartTLS, 2, 3)
	o.Size = 8192
	var out bytes.Buffer
	rep, err := run(t.Context(), o, s.key, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 6 || rep.Accepted != 0 || rep.Failed != 6 || rep.ByCode[552] != 6 || len(rep.ConnErrors) != 0 || rep.OK() {
		t.Fatalf("sent %d accepted %d failed %d by code %v conn errors %v", rep.Sent, rep.Accepted, rep.Failed, rep.ByCode, rep.ConnErrors)
	}
	if !strings.Contains(out.String(), "failed by code: 552 ×6\n") {
		t.Errorf("output %q", out.String())
	}
	// Refusals and successes mix on one connection: the transaction after
	// a refusal is clean.
	o.Size = 1000
	rep, err = run(t.Context(), o, s.key, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	wantAllAccepted(t, rep, 6)
}

func TestConnectionErrors(t *testing.T) {
	s := startServer(t, nil)

	// Nothing listening.
	o := s.opts(StartTLS, 2, 5)
	o.Addr = closedTCPPort(t)
	rep, err := run(t.Context(), o, s.key, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ConnErrors) != 2 || rep.ConnErrors[0].Stage != StageDial || rep.Sent != 0 {
		t.Errorf("closed port: sent %d, conn errors %v", rep.Sent, rep.ConnErrors)
	}

	// The self-signed certificate, not trusted: a TLS error, before AUTH
	// could show the key to anyone.
	for _, mode := range []TLSMode{StartTLS, ImplicitTLS} {
		o := s.opts(mode, 2, 5)
		o.CAFile = ""
		rep, err := run(t.Context(), o, s.key, new(bytes.Buffer))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.ConnErrors) != 2 || rep.Sent != 0 {
			t.Fatalf("%s untrusted: sent %d, conn errors %v", mode, rep.Sent, rep.ConnErrors)
		}
		for _, e := range rep.ConnErrors {
			if e.Stage != StageTLS {
				t.Errorf("%s untrusted: %v, want a tls error", mode, e)
			}
		}
	}

	// Implicit TLS against the STARTTLS port and the other way round do
	// not hang.
	o = s.opts(ImplicitTLS, 1, 1)
	o.Addr, o.Timeout = s.submission, 500*time.Millisecond
	if rep, _ := run(t.Context(), o, s.key, new(bytes.Buffer)); len(rep.ConnErrors) != 1 {
		t.Errorf("implicit TLS to the STARTTLS port: %+v", rep)
	}
	o = s.opts(StartTLS, 1, 1)
	o.Addr, o.Timeout = s.submissions, 500*time.Millisecond
	if rep, _ := run(t.Context(), o, s.key, new(bytes.Buffer)); len(rep.ConnErrors) != 1 {
		t.Errorf("STARTTLS to the implicit TLS port: %+v", rep)
	}
}

func closedTCPPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// -duration stops new transactions; cancelling ctx stops everything. The
// counts add up either way.
func TestDurationAndInterrupt(t *testing.T) {
	s := startServer(t, nil)
	o := s.opts(StartTLS, 2, 1_000_000)
	o.Size = 100
	o.Duration = 300 * time.Millisecond
	rep, err := run(t.Context(), o, s.key, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent == 0 || rep.Sent >= 2_000_000 || rep.Accepted != rep.Sent || !rep.OK() {
		t.Errorf("-duration: sent %d accepted %d failed %d conn errors %v", rep.Sent, rep.Accepted, rep.Failed, rep.ConnErrors)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	o.Duration = 0
	var out bytes.Buffer
	rep, err = run(ctx, o, s.key, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.OK() || rep.Accepted+rep.Failed != rep.Sent || len(rep.ConnErrors) != 0 {
		t.Errorf("interrupted: %+v", rep)
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("output %q", out.String())
	}
}

// A server going away mid-run ends every connection, each reported; the
// counts still add up, and every acknowledged message is in the store.
func TestServerStopsMidRun(t *testing.T) {
	s := startServer(t, nil)
	o := s.opts(StartTLS, 4, 1_000_000)
	o.Size = 100
	go func() {
		time.Sleep(300 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.running.Stop(ctx)
	}()
	var out bytes.Buffer
	rep, err := run(t.Context(), o, s.key, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Accepted == 0 || rep.Accepted+rep.Failed != rep.Sent || len(rep.ConnErrors) != 4 || rep.Interrupted || rep.OK() {
		t.Fatalf("sent %d accepted %d failed %d by code %v conn errors %v interrupted %v",
			rep.Sent, rep.Accepted, rep.Failed, rep.ByCode, rep.ConnErrors, rep.Interrupted)
	}
	for _, e := range rep.ConnErrors {
		if e.Stage != StageSend && e.Stage != StageQuit {
			t.Errorf("%v, want a send error", e)
		}
	}
	if !strings.Contains(out.String(), "connections ended early: 4 of 4\n") {
		t.Errorf("output %q", out.String())
	}
	if n := len(s.messages(t)); n < rep.Accepted || n > rep.Sent {
		t.Errorf("%d messages stored; %d accepted of %d sent", n, rep.Accepted, rep.Sent)
	}
	t.Logf("%s", out.String())
}

func TestCLI(t *testing.T) {
	s := startServer(t, nil)
	cli := func(key string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := cli(t.Context(), args, key, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, errOut := cli("", "-addr", s.submission, "-ca", s.ca)
	if code != 2 || out != "" || !strings.Contains(errOut, "POSTERN_LOAD_KEY is not set") {
		t.Errorf("no key: exit %d stdout %q stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{
		{"-tls", "ssl"},
		{"-c", "0"},
		{"-ca", s.ca, "-insecure"},
		{"-to", "nobody"},
		{"extra"},
		{"-key", "x"},
	} {
		if code, _, errOut := cli(s.key, args...); code != 2 || strings.Contains(errOut, s.key) {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
	if code, _, errOut := cli(s.key, "-ca", filepath.Join(t.TempDir(), "missing.pem")); code != 2 || !strings.Contains(errOut, "-ca") {
		t.Errorf("missing CA file: exit %d, stderr %q", code, errOut)
	}

	code, out, errOut = cli(s.key+"\n", "-addr", s.submission, "-ca", s.ca, "-c", "2", "-n", "3")
	if code != 0 || !strings.HasPrefix(out, "sent 6 accepted 6 failed 0 ") || errOut != "" {
		t.Errorf("run: exit %d stdout %q stderr %q", code, out, errOut)
	}
	code, out, errOut = cli(s.key, "-addr", s.submissions, "-tls", "implicit", "-insecure", "-c", "1", "-n", "2")
	if code != 0 || !strings.HasPrefix(out, "sent 2 accepted 2 failed 0 ") || !strings.Contains(errOut, "warning: -insecure") {
		t.Errorf("-insecure: exit %d stdout %q stderr %q", code, out, errOut)
	}
	code, out, errOut = cli("hunter2", "-addr", s.submission, "-ca", s.ca, "-c", "1", "-n", "2")
	if code != 1 || !strings.Contains(out, "auth: 535") || strings.Contains(out+errOut, "hunter2") {
		t.Errorf("bad key: exit %d stdout %q stderr %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, s.key) {
		t.Error("the key was printed")
	}
}

// BenchmarkSubmit reports accepted messages per second and MAIL→250
// latency against an in-process server, over 8 STARTTLS connections.
func BenchmarkSubmit(b *testing.B) {
	s := startServer(b, nil)
	const conns = 8
	o := s.opts(StartTLS, conns, max(1, (b.N+conns-1)/conns))
	b.ResetTimer()
	rep, err := run(b.Context(), o, s.key, new(bytes.Buffer))
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if !rep.OK() {
		b.Fatalf("sent %d accepted %d failed %d by code %v conn errors %v", rep.Sent, rep.Accepted, rep.Failed, rep.ByCode, rep.ConnErrors)
	}
	b.ReportMetric(float64(rep.Accepted)/rep.Elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(rep.P50)/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(rep.P99)/float64(time.Millisecond), "p99-ms")
}
