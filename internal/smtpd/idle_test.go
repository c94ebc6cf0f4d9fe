package smtpd_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/textproto"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
)

// An idle session gives its buffers back and waits on its socket
// (buffers.go); these tests hold it to what it did before.

// TestPipelinedRepliesInOneWrite: the replies to a pipelined group go out
// in one write (RFC 2920 §3.1), and so in one TLS record, which one Read
// of a tls.Conn returns whole.
func TestPipelinedRepliesInOneWrite(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.dialRaw(smtpd.Submissions)
	r.cmd("EHLO client.test", "250")
	r.send("NOOP\r\nRSET\r\nNOOP\r\n")
	buf := make([]byte, 4096)
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := r.conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); strings.Count(got, "\r\n") != 3 || !strings.HasPrefix(got, "250 ") {
		t.Fatalf("first record %q: want the three replies", got)
	}
}

// batchConn holds what is written while batching, and sends it in one
// write on flush: two TLS records in one TCP segment.
type batchConn struct {
	net.Conn
	batching bool
	buf      bytes.Buffer
}

func (c *batchConn) Write(p []byte) (int, error) {
	if c.batching {
		return c.buf.Write(p)
	}
	return c.Conn.Write(p)
}

func (c *batchConn) flush() error {
	c.batching = false
	_, err := c.Conn.Write(c.buf.Bytes())
	c.buf.Reset()
	return err
}

// TestCommandsInRecordsReadTogether: two commands in two TLS records that
// arrive together. crypto/tls reads both from the socket with the first;
// the second waits in its buffer, not on the socket, and must be answered
// without the client sending anything more.
func TestCommandsInRecordsReadTogether(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, mode := range []smtpd.Mode{smtpd.Submission, smtpd.Submissions} {
		t.Run(mode.String(), func(t *testing.T) {
			nc, err := net.Dial("tcp", e.addr[mode])
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			bc := &batchConn{Conn: nc}
			var c net.Conn = bc
			r := textproto.NewReader(bufio.NewReader(c))
			step := func(cmd string, code int) {
				t.Helper()
				if cmd != "" {
					io.WriteString(c, cmd+"\r\n")
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, _, err := r.ReadResponse(code); err != nil {
					t.Fatalf("%q: %v", cmd, err)
				}
			}
			if mode == smtpd.Submissions {
				c = tls.Client(bc, e.client)
				r = textproto.NewReader(bufio.NewReader(c))
			}
			step("", 220)
			if mode == smtpd.Submission {
				step("EHLO client.test", 250)
				step("STARTTLS", 220)
				c = tls.Client(bc, e.client)
				r = textproto.NewReader(bufio.NewReader(c))
			}
			step("EHLO client.test", 250)
			bc.batching = true
			io.WriteString(c, "NOOP\r\n") // one record
			io.WriteString(c, "RSET\r\n") // another
			if err := bc.flush(); err != nil {
				t.Fatal(err)
			}
			step("", 250)
			step("", 250) // with nothing more sent
			step("QUIT", 221)
		})
	}
}

// TestIdleTimeout: a session that waits past the read timeout, its
// buffers given back, is told so and closed.
func TestIdleTimeout(t *testing.T) {
	e := newEnv(t, envOptions{readTimout: 300 * time.Millisecond})
	r := e.dialRaw(smtpd.Submissions)
	r.cmd("EHLO client.test", "250")
	r.expect("421 4.4.2 Idle timeout")
	if !r.closed() {
		t.Error("not closed after the idle timeout")
	}
}

// openIdle opens a STARTTLS session that has said EHLO after the
// handshake, and leaves it waiting for its next command. The client keeps
// no buffer: the heap it holds is its tls.Conn.
func (e *env) openIdle(tb testing.TB) net.Conn {
	c, err := net.Dial("tcp", e.addr[smtpd.Submission])
	if err != nil {
		tb.Fatal(err)
	}
	r := textproto.NewReader(bufio.NewReaderSize(c, 256))
	step := func(w io.Writer, cmd string, code int) {
		if cmd != "" {
			if _, err := io.WriteString(w, cmd+"\r\n"); err != nil {
				tb.Fatal(err)
			}
		}
		if _, _, err := r.ReadResponse(code); err != nil {
			tb.Fatalf("%q: %v", cmd, err)
		}
	}
	step(c, "", 220)
	step(c, "EHLO client.test", 250)
	step(c, "STARTTLS", 220)
	tc := tls.Client(c, e.client)
	if err := tc.Handshake(); err != nil {
		tb.Fatal(err)
	}
	r = textproto.NewReader(bufio.NewReaderSize(tc, 256))
	step(tc, "EHLO client.test", 250)
	return tc
}

// BenchmarkIdleSessions opens 2000 STARTTLS sessions that then wait for
// a command, and reports what they hold after a GC: "heap-KiB/session"
// and "stack-KiB/session" (client and server sides together, in one
// process; postern-load -idle measures the server alone). Not a timing:
// b.N does not change the work.
func BenchmarkIdleSessions(b *testing.B) {
	const sessions = 2000
	profile := os.Getenv("SMTPD_IDLE_HEAPPROFILE") // a heap profile of the sessions held
	if profile != "" {
		defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
		runtime.MemProfileRate = 512
	}
	for range b.N {
		e := newEnv(b, envOptions{})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, sessions)
		var wg sync.WaitGroup
		next := make(chan int)
		for range 16 {
			wg.Go(func() {
				for i := range next {
					conns[i] = e.openIdle(b)
				}
			})
		}
		for i := range sessions {
			next <- i
		}
		close(next)
		wg.Wait()
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if profile != "" {
			out, err := os.Create(profile)
			if err != nil {
				b.Fatal(err)
			}
			pprof.Lookup("heap").WriteTo(out, 0)
			out.Close()
		}
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/1024/sessions, "heap-KiB/session")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/1024/sessions, "stack-KiB/session")
		for _, c := range conns {
			c.Close()
		}
		e.stop()
	}
}

// panicky is a queue that panics: a bug below the session.
type panicky struct{}

func (panicky) Enqueue(context.Context, store.NewMessage) error { panic("enqueue bug") }

// A panic in a session's work ends that session with a 421 and is
// counted (Server.Panics, exported as postern_panics_total{component="smtpd"});
// the server goes on serving others.
func TestSessionPanicCounted(t *testing.T) {
	e := newEnv(t, envOptions{enqueuer: panicky{}})
	r := e.dialRaw(smtpd.Submissions)
	r.cmd("EHLO client.test", "250")
	r.login(e.key)
	r.cmd("MAIL FROM:<app@example.test>", "250")
	r.cmd("RCPT TO:<r@example.org>", "250")
	r.cmd("DATA", "354")
	r.send("Subject: x\r\nFrom: app@example.test\r\n\r\nhi\r\n.\r\n")
	r.expect("421 4.3.0 Internal error")
	if got := e.srv.Panics(); got != 1 {
		t.Errorf("Panics() = %d, want 1", got)
	}
	r2 := e.dialRaw(smtpd.Submissions)
	r2.cmd("EHLO client.test", "250")
}
