package smtpd_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
)

var queuedAs = regexp.MustCompile(`^2\.0\.0 Ok: queued as ([0-9a-v]{26})$`)

func TestAcceptStartTLSAndImplicitTLS(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, mode := range []smtpd.Mode{smtpd.Submission, smtpd.Submissions} {
		t.Run(mode.String(), func(t *testing.T) {
			c := e.dial(mode)
			if err := c.Auth(plain(e.key)); err != nil {
				t.Fatal(err)
			}
			text, err := send(c, "app@example.test", []string{"a@example.test", "b@example.test"}, testMsg)
			if err != nil {
				t.Fatal(err)
			}
			m := queuedAs.FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("250 text %q", text)
			}
			rec, err := e.store.Message(context.Background(), m[1])
			if err != nil {
				t.Fatal(err)
			}
			if rec.KeyID != e.keyID || rec.From != "app@example.test" || strings.Join(rec.Recipients, ",") != "a@example.test,b@example.test" {
				t.Errorf("record %+v", rec)
			}
			body, err := e.store.MessageBody(context.Background(), m[1])
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := mail.ReadMessage(strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			h := parsed.Header
			if got := h.Get("X-Originating-IP"); got != "[127.0.0.1]" {
				t.Errorf("X-Originating-IP %q", got)
			}
			recv := h.Get("Received")
			for _, want := range []string{"by mx.postern.test", "ESMTPSA", "TLS1.3", e.keyID, "id " + m[1]} {
				if !strings.Contains(recv, want) {
					t.Errorf("Received %q lacks %q", recv, want)
				}
			}
			if strings.Contains(string(body), e.key) {
				t.Error("stored message contains the API key")
			}
			if h.Get("Message-Id") == "" || h.Get("Date") == "" {
				t.Errorf("Message-ID %q Date %q", h.Get("Message-Id"), h.Get("Date"))
			}
			if !strings.HasSuffix(string(body), "\r\n\r\nHello there.\r\n") {
				t.Errorf("body changed: %q", body)
			}
		})
	}
	if n := len(e.queued()); n != 2 {
		t.Fatalf("queue has %d messages, want 2", n)
	}
}

func TestAuthLoginMechanism(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.dialRaw(smtpd.Submissions)
	r.cmd("EHLO client.test", "250")
	r.cmd("AUTH LOGIN", "334 "+base64.StdEncoding.EncodeToString([]byte("Username:")))
	r.cmd(base64.StdEncoding.EncodeToString([]byte("apikey")), "334 "+base64.StdEncoding.EncodeToString([]byte("Password:")))
	r.cmd(base64.StdEncoding.EncodeToString([]byte(e.key)), "235 2.7.0")
	r.cmd("MAIL FROM:<app@example.test>", "250")
}

func TestAuthRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	revoked, revRec, err := e.accounts.CreateKey(ctx, "acme", "old", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.Revoke(ctx, revRec.ID); err != nil {
		t.Fatal(err)
	}
	noScope, _, err := e.accounts.CreateKey(ctx, "acme", "stats", []string{"stats.read"})
	if err != nil {
		t.Fatal(err)
	}
	// A well-formed key whose secret is wrong.
	wrongSecret := e.key[:len(e.key)-4] + flip(e.key[len(e.key)-4:])

	cases := []struct {
		name   string
		client sasl.Client
		text   string
	}{
		{"wrong key", plain("pst_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"), "apikey"},
		{"wrong secret", plain(wrongSecret), "apikey"},
		{"not a key", plain("hunter2"), "apikey"},
		{"username not apikey", sasl.NewPlainClient("", "acme", e.key), "apikey"},
		{"login username not apikey", sasl.NewLoginClient("acme", e.key), "apikey"},
		{"revoked key", plain(revoked), "apikey"},
		{"no mail.send", plain(noScope), "mail.send"},
		{"authzid mismatch", sasl.NewPlainClient("acme", "apikey", e.key), "authorization identity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(smtpd.Submission)
			se := wantCode(t, c.Auth(tc.client), 535, smtp.EnhancedCode{5, 7, 8})
			if !strings.Contains(se.Message, tc.text) {
				t.Errorf("text %q lacks %q", se.Message, tc.text)
			}
			// Not authenticated: MAIL is refused.
			wantCode(t, c.Mail("app@example.test", nil), 530, smtp.EnhancedCode{5, 7, 0})
		})
	}
	// An authzid equal to the username is fine.
	c := e.dial(smtpd.Submission)
	if err := c.Auth(sasl.NewPlainClient("apikey", "apikey", e.key)); err != nil {
		t.Fatalf("authzid=apikey: %v", err)
	}
	e.wantQueueEmpty()
}

func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
	}
	return string(b)
}

func TestAuthBeforeTLS(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.dialRaw(smtpd.Submission)
	ehlo := r.cmd("EHLO client.test", "250")
	if strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("plaintext EHLO: %q", ehlo)
	}
	r.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00apikey\x00"+e.key)), "530 5.7.0 Must issue a STARTTLS command first")
	r.cmd("AUTH LOGIN", "530 5.7.0")
	r.cmd("MAIL FROM:<app@example.test>", "530 5.7.0 Authentication required")
	// After STARTTLS, AUTH is offered and works.
	r.starttls(e.client)
	ehlo = r.cmd("EHLO client.test", "250")
	if !strings.Contains(ehlo, "AUTH PLAIN LOGIN") || strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("TLS EHLO: %q", ehlo)
	}
	if !strings.Contains(ehlo, "SIZE 1048576") {
		t.Errorf("EHLO does not advertise SIZE: %q", ehlo)
	}
	r.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00apikey\x00"+e.key)), "235")
	e.wantQueueEmpty()
}

func TestMailBeforeAuth(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, mode := range []smtpd.Mode{smtpd.Submission, smtpd.Submissions} {
		c := e.dial(mode)
		wantCode(t, c.Mail("app@example.test", nil), 530, smtp.EnhancedCode{5, 7, 0})
	}
	e.wantQueueEmpty()
}

func TestMXRelaysNothingWithoutKey(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, err := smtp.Dial(e.addr[smtpd.MX])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("someone@elsewhere.test", nil); err != nil {
		t.Fatal(err)
	}
	se := wantCode(t, c.Rcpt("victim@example.test", nil), 550, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(se.Message, "Relaying denied") {
		t.Errorf("text %q", se.Message)
	}
	// With STARTTLS and a key, the MX port accepts submission too.
	c2 := e.dial(smtpd.MX)
	if err := c2.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c2, "app@example.test", []string{"a@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.queued()); n != 1 {
		t.Fatalf("queue has %d", n)
	}
}

func TestRevokedMidSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.Revoke(context.Background(), e.keyID); err != nil {
		t.Fatal(err)
	}
	se := wantCode(t, c.Mail("app@example.test", nil), 550, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(se.Message, "revoked") {
		t.Errorf("text %q", se.Message)
	}
	if n := len(e.queued()); n != 1 {
		t.Fatalf("queue has %d, want the 1 sent before revocation", n)
	}
}

// TestSmuggling_CVE_2023_51764 sends every end-of-data variant from
// PEERS.md inside a message: each is refused as a bare CR or LF, and
// nothing after it is taken as a new command.
func TestOversize(t *testing.T) {
	e := newEnv(t, envOptions{maxBytes: 10000})
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	// Declared with SIZE: refused at MAIL.
	wantCode(t, c.Mail("app@example.test", &smtp.MailOptions{Size: 20000}), 552, smtp.EnhancedCode{5, 3, 4})
	// Undeclared: refused after DATA.
	_, err := send(c, "app@example.test", []string{"a@example.test"}, msgOfSize(20000))
	wantCode(t, err, 552, smtp.EnhancedCode{5, 3, 4})
	// The connection is still usable and a small message passes.
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, msgOfSize(5000)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.queued()); n != 1 {
		t.Fatalf("queue has %d, want only the small message", n)
	}
}

func TestLongLine(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	_, err := send(c, "app@example.test", []string{"a@example.test"}, "Subject: x\r\n\r\n"+strings.Repeat("y", 1200)+"\r\n")
	se := wantCode(t, err, 554, smtp.EnhancedCode{5, 6, 0})
	if !strings.Contains(se.Message, "1000") {
		t.Errorf("text %q", se.Message)
	}
	e.wantQueueEmpty()
}

func TestTooManyRecipients(t *testing.T) {
	e := newEnv(t, envOptions{maxRcpts: 3})
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("app@example.test", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := c.Rcpt("r"+string(rune('a'+i))+"@example.test", nil); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, c.Rcpt("rd@example.test", nil), 452, smtp.EnhancedCode{4, 5, 3})
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	e.wantQueueEmpty()
}

func TestBadRecipientSyntax(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("app@example.test", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("a@exa!mple.test", nil), 501, smtp.EnhancedCode{5, 1, 3})
	wantCode(t, c.Rcpt("a@example..test", nil), 501, smtp.EnhancedCode{5, 1, 3})
}

func TestMalformedHeader(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	_, err := send(c, "app@example.test", []string{"a@example.test"}, "this is not a header\r\nSubject: x\r\n\r\nbody\r\n")
	wantCode(t, err, 554, smtp.EnhancedCode{5, 6, 0})
	e.wantQueueEmpty()
}

func TestTooManyErrorsCloses(t *testing.T) {
	e := newEnv(t, envOptions{maxErrors: 3})
	r := e.dialRaw(smtpd.Submissions)
	r.cmd("EHLO client.test", "250")
	bad := "AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00apikey\x00nope"))
	r.cmd(bad, "535 5.7.8")
	r.cmd(bad, "535 5.7.8")
	r.cmd(bad, "421 4.7.0")
	if !r.closed() {
		t.Fatal("connection still open after the error limit")
	}
}

// failingQueue stands in for a store that cannot commit (a full disk
// cannot be produced here): its error text must never reach the client.
type failingQueue struct{}

func (failingQueue) Enqueue(context.Context, store.NewMessage) error {
	return errors.New("sqlite: disk I/O error at /var/lib/postern/secret.db")
}

func TestInternalErrorIsGeneric(t *testing.T) {
	e := newEnv(t, envOptions{enqueuer: failingQueue{}})
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	_, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg)
	se := wantCode(t, err, 451, smtp.EnhancedCode{4, 3, 0})
	if strings.Contains(se.Message, "sqlite") || strings.Contains(se.Message, "/var/lib") {
		t.Errorf("internal text leaked: %q", se.Message)
	}
	m := regexp.MustCompile(`session ([a-z2-7]+)`).FindStringSubmatch(se.Message)
	if m == nil {
		t.Fatalf("reply %q names no session", se.Message)
	}
	// The operator finds the cause in the log under that session id.
	if !strings.Contains(e.logs.String(), "session="+m[1]) || !strings.Contains(e.logs.String(), "disk I/O error") {
		t.Errorf("log lacks the session's error:\n%s", e.logs.String())
	}
}

func TestTLS11Refused(t *testing.T) {
	e := newEnv(t, envOptions{})
	cfg := e.client.Clone()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if c, err := smtp.DialTLS(e.addr[smtpd.Submissions], cfg); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake accepted")
	}
}

// TestConcurrentSessions: many sessions at once, each message acknowledged
// is in the queue exactly once (group commit shares the transactions).
func TestConcurrentSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	const sessions, perSession = 20, 5
	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	for i := 0; i < sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.DialTLS(e.addr[smtpd.Submissions], e.client)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			if err := c.Auth(plain(e.key)); err != nil {
				t.Error(err)
				return
			}
			for j := 0; j < perSession; j++ {
				text, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids[queuedAs.FindStringSubmatch(text)[1]] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(ids) != sessions*perSession {
		t.Fatalf("%d distinct ids, want %d", len(ids), sessions*perSession)
	}
	for _, m := range e.queued() {
		delete(ids, m.ID)
	}
	if len(ids) != 0 {
		t.Fatalf("%d acknowledged messages missing from the queue", len(ids))
	}
}

// TestGracefulShutdown: a transaction in progress when shutdown starts is
// finished and acknowledged; an idle session is closed; new connections
// are refused.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, envOptions{})
	idle := e.dialRaw(smtpd.Submissions)
	idle.cmd("EHLO idle.test", "250")

	busy := e.dialRaw(smtpd.Submissions)
	busy.login(e.key)
	busy.cmd("MAIL FROM:<app@example.test>", "250")
	busy.cmd("RCPT TO:<a@example.test>", "250")
	busy.cmd("DATA", "354")
	busy.send("Subject: in flight\r\n\r\nhalf")

	done := make(chan struct{})
	go func() { e.stop(); close(done) }()
	if !idle.closed() {
		t.Error("idle session not closed at shutdown")
	}
	select {
	case <-done:
		t.Fatal("shutdown did not wait for the transaction in progress")
	case <-time.After(300 * time.Millisecond):
	}
	busy.send(" of it\r\n.\r\n")
	busy.expect("250 2.0.0 Ok: queued as")
	if !busy.closed() {
		t.Error("session not closed after its transaction at shutdown")
	}
	<-done
}
