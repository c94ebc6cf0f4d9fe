package smtpd_test

import (
	"bufio"
	"context"

	"net"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
)

// Regression tests for the findings of the attack on the running server
// (issue 12), each named after its finding.

// TestFinding5SmugglingVariantsRefused: every end-of-data variant of the
// SMTP smuggling family, and the two go-smtp's reader repaired silently
// ("\r\n.\rX" lost its CR; "\r\r\n" was not a line end), refuse the
// whole message with 554; nothing is queued and the session goes on in
// step.
func TestFinding5SmugglingVariantsRefused(t *testing.T) {
	e := newEnv(t, envOptions{maxErrors: 100})
	for _, v := range smugglingVariants {
		t.Run(strings.NewReplacer("\r", `\r`, "\n", `\n`, "\x00", `\0`).Replace(v), func(t *testing.T) {
			r := e.dialRaw(smtpd.Submissions)
			r.login(e.key)
			r.cmd("MAIL FROM:<app@example.test>", "250")
			r.cmd("RCPT TO:<a@example.test>", "250")
			r.cmd("DATA", "354")
			// The smuggled transaction rides inside the message.
			r.send("Subject: x\r\n\r\nbefore" + v + "MAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n")
			got := r.expect("554 5.6.0")
			if !strings.Contains(got, "bare") && !strings.Contains(got, "NUL") {
				t.Errorf("reply %q does not say what was wrong", got)
			}
			// The session goes on, in order, with no phantom replies.
			r.cmd("NOOP", "250")
		})
	}
	e.wantQueueEmpty()
}

// smugglingVariants are the end-of-data look-alikes of the SMTP smuggling
// family (CVE-2023-51764 and relatives), and the two the old reader got
// wrong.
var smugglingVariants = []string{
	"\n.\n", "\r.\r", "\r.\n", "\n.\r", "\n.\r\n", "\r\n.\n", "\r\r\n", "\r\n\r",
	"\r\n\x00.\r\n", "\r\n.\x00\r\n",
	"\r\n.\rX", "\r\r\n.\r\r\n",
}

// The dot that escapes a line starting with a dot is removed, and nothing
// else is changed.
func TestDataTransparency(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	body := "Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\tdot tab\r\nend\r\n"
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, body); err != nil {
		t.Fatal(err)
	}
	msgs := e.queued()
	if len(msgs) != 1 {
		t.Fatalf("%d queued", len(msgs))
	}
	b, err := e.store.MessageBody(context.Background(), msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.HasSuffix(got, "\r\n\r\n.leading dot\r\n..two\r\n.\tdot tab\r\nend\r\n") {
		t.Fatalf("body changed in transit: %q", got)
	}
}

// TestFinding1ReturnPathSizeLimit: mail to a return path is held to its
// own small limit, declared (at MAIL) or not (after DATA).
func TestFinding1ReturnPathSizeLimit(t *testing.T) {
	e := newEnv(t, envOptions{bounces: true, maxBytes: 1 << 20, mxMaxBytes: 8 << 10})
	rp := e.returnPath(t)
	r := e.dialRaw(smtpd.MX)
	r.cmd("EHLO mx.far.test", "250")
	r.cmd("MAIL FROM:<> SIZE=20000", "552 5.3.4")
	r.cmd("MAIL FROM:<>", "250")
	r.cmd("RCPT TO:<"+rp+">", "250")
	r.cmd("DATA", "354")
	r.send(msgOfSize(20000) + ".\r\n")
	r.expect("552 5.3.4")
	// A report of a reasonable size still passes.
	r.cmd("MAIL FROM:<>", "250")
	r.cmd("RCPT TO:<"+rp+">", "250")
	r.cmd("DATA", "354")
	r.send("Subject: a small report\r\n\r\nnothing to see\r\n.\r\n")
	r.expect("250")
	// An authenticated client on the same port has the full limit.
	c := e.dial(smtpd.MX)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, msgOfSize(20000)); err != nil {
		t.Fatalf("an authenticated 20 KB message on the MX port: %v", err)
	}
}

// TestFinding1InflightBudget: the bytes held by all DATA phases together
// are bounded; a DATA that finds the budget full is refused with 452 and
// read to its end, and the budget is given back once a message is done.
func TestFinding1InflightBudget(t *testing.T) {
	e := newEnv(t, envOptions{bounces: true, maxBytes: 1 << 20, mxMaxBytes: 1 << 20, inflight: 1 << 20})
	rp := e.returnPath(t)
	open := func() *raw {
		r := e.dialRaw(smtpd.MX)
		r.cmd("EHLO mx.far.test", "250")
		r.cmd("MAIL FROM:<>", "250")
		r.cmd("RCPT TO:<"+rp+">", "250")
		r.cmd("DATA", "354")
		return r
	}
	holder := open()
	holder.send(msgOfSize(900 << 10)) // not ended: held in memory
	waitFor(t, "the first DATA to hold its bytes", func() bool { return e.srv.InflightBytes() >= 900<<10 })

	late := open()
	late.send(msgOfSize(200<<10) + ".\r\n")
	late.expect("452 4.3.1")
	late.cmd("NOOP", "250")

	holder.send(".\r\n")
	holder.expect("250")
	waitFor(t, "the budget to be given back", func() bool { return e.srv.InflightBytes() == 0 })
	again := open()
	again.send(msgOfSize(200<<10) + ".\r\n")
	again.expect("250")
}

// TestFinding2NoopCap: a session that only sends commands that move no
// mail is closed with 421 after the cap.
func TestFinding2NoopCap(t *testing.T) {
	e := newEnv(t, envOptions{idleCmds: 5, maxErrors: 100})
	r := e.dialRaw(smtpd.MX)
	r.cmd("EHLO a.test", "250")
	for i := 0; i < 5; i++ {
		r.cmd([]string{"NOOP", "RSET", "VRFY x", "HELP", "EHLO a.test"}[i], "2")
	}
	r.cmd("NOOP", "421")
	if !r.closed() {
		t.Fatal("connection still open after 421")
	}
	// An accepted message starts the count over.
	s := e.dialRaw(smtpd.Submissions)
	s.login(e.key)
	for round := 0; round < 3; round++ {
		for i := 0; i < 4; i++ {
			s.cmd("NOOP", "250")
		}
		s.cmd("MAIL FROM:<app@example.test>", "250")
		s.cmd("RCPT TO:<a@example.test>", "250")
		s.cmd("DATA", "354")
		s.send(testMsg + ".\r\n")
		s.expect("250")
	}
}

// TestFinding2UnauthenticatedLifetime: a session that keeps itself alive
// with NOOPs but never authenticates is closed after the lifetime.
func TestFinding2UnauthenticatedLifetime(t *testing.T) {
	e := newEnv(t, envOptions{lifetime: 400 * time.Millisecond, idleCmds: 1 << 20})
	r := e.dialRaw(smtpd.MX)
	r.cmd("EHLO a.test", "250")
	for {
		r.send("NOOP\r\n")
		got := r.reply()
		if strings.HasPrefix(got, "421 4.4.2") {
			break
		}
		if !strings.HasPrefix(got, "250") {
			t.Fatalf("NOOP: %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !r.closed() {
		t.Fatal("connection still open after 421")
	}
	// An authenticated session is not bound by it.
	s := e.dialRaw(smtpd.Submissions)
	s.login(e.key)
	time.Sleep(600 * time.Millisecond)
	s.cmd("NOOP", "250")
}

// TestFinding2MXBudgetSeparate: a full MX connection budget does not stop
// a submission client from getting its 220 and sending.
func TestFinding2MXBudgetSeparate(t *testing.T) {
	mx := lockout.NewConns(lockout.ConnLimits{PerIP: 10, Per48: 10, Total: 3})
	sub := lockout.NewConns(lockout.ConnLimits{PerIP: 10, Per48: 10, Total: 10})
	e := newEnv(t, envOptions{conns: sub, mxConns: mx})
	for i := 0; i < 3; i++ {
		e.dialRaw(smtpd.MX) // reads the 220: the slot is held
	}
	over, err := net.Dial("tcp", e.addr[smtpd.MX])
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(over).ReadString('\n')
	if !strings.HasPrefix(line, "421 4.7.0") {
		t.Fatalf("MX over its budget: %q", line)
	}
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg); err != nil {
		t.Fatalf("submission while the MX budget is full: %v", err)
	}
}

// A failed STARTTLS handshake ends the session: nothing goes on in plain
// text, and no reply is sent in clear after the 220.
func TestStartTLSFailureCloses(t *testing.T) {
	e := newEnv(t, envOptions{})
	conn, err := net.Dial("tcp", e.addr[smtpd.Submission])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := &raw{t: t, conn: conn, r: bufio.NewReader(conn)}
	r.expect("220")
	r.cmd("EHLO a.test", "250")
	r.cmd("STARTTLS", "220")
	r.send("EHLO plain.test\r\nAUTH PLAIN AGFwaWtleQB4\r\n") // not a ClientHello
	if !r.closed() {
		t.Fatal("session went on after a failed handshake")
	}
	// Commands pipelined behind STARTTLS are refused, never run under TLS.
	r2 := e.dialRaw(smtpd.Submission)
	r2.cmd("EHLO a.test", "250")
	r2.send("STARTTLS\r\nMAIL FROM:<a@b.test>\r\n")
	r2.expect("554")
	if !r2.closed() {
		t.Fatal("session went on after pipelining behind STARTTLS")
	}
	// A real handshake still works.
	r3 := e.dialRaw(smtpd.Submission)
	r3.starttls(e.client)
	r3.login(e.key)
}

// No reply echoes a control byte the client sent.
func TestRepliesNeverEchoControlBytes(t *testing.T) {
	e := newEnv(t, envOptions{maxErrors: 100, bounces: true})
	r := e.dialRaw(smtpd.MX)
	for _, line := range []string{
		"EHLO a\x1b[31m.test", "HELO x", "MAIL FROM:<a\x1b[2J@b.test>", "MAIL FROM:<>",
		"RCPT TO:<\x1b]0;owned\x07@pst-bounces.acme.test>", "RCPT TO:<\"a\x00\"@b.test>", "X\x1bY", "NOOP \x1b",
	} {
		r.send(line + "\r\n")
		got := r.reply()
		for _, b := range []byte(got) {
			if b < 0x20 && b != '\r' && b != '\n' || b == 0x7f {
				t.Fatalf("reply to %q carries byte %#x: %q", line, b, got)
			}
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// returnPath stores a message of acme's and returns a return path of it.
func (e *env) returnPath(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	acme, _ := e.store.UserByName(ctx, "acme")
	const id = "0g2r4t6v8a0c2e4g6i8k0m2o4r"
	if err := e.store.EnqueueBatch(ctx, []store.NewMessage{{ID: id, UserID: acme.ID, From: "app@acme.test",
		Recipients: []string{"someone@far.test"}, Body: []byte(testMsg), CreatedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	return testCodec.Address(returnpath.Token{MessageID: id, Idx: 0, Domain: "acme.test", Date: time.Now()})
}
