package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/smtperr"
	"github.com/postern/postern/internal/submit"
)

// session is one client's connection and SMTP session: the protocol only.
// Every decision about a submission is the funnel's (internal/submit); the
// session reads commands and renders outcomes. STARTTLS starts the session
// over, so nothing said in plain text carries over.
type session struct {
	srv      *Server
	nc       net.Conn // the connection: a *tls.Conn once TLS is up
	mode     Mode
	id       string
	log      *slog.Logger
	clientIP netip.Addr
	opened   time.Time
	release  func() // gives the connection slot back

	// r and w are nil while the session waits for a command (burst).
	r   *bufio.Reader
	w   *bufio.Writer
	raw syscall.RawConn // the socket, for waitReadable; nil: wait in Read
	tls *tlsState       // nil before TLS
	// waitEnd is the read deadline set when the session went idle: the
	// line that ends the wait must arrive by then, as if it had been
	// waited for in readLine. Zero: none.
	waitEnd time.Time

	helo       string
	errors     int  // refused commands
	idle       int  // commands that moved no mail since the last message
	closeAfter bool // close once the current reply is written

	client *submit.Client // set by a successful AUTH
	tx     *submit.Tx     // open submission transaction, or nil
	mx     *mxTx          // open unauthenticated MX transaction, or nil

	mu       sync.Mutex // guards what Shutdown touches
	busy     bool       // inside a mail transaction
	draining bool
	closed   bool
}

// mxTx is a transaction on the MX listener without a key: mail for
// Postern's return paths only.
type mxTx struct {
	from    string
	targets []bounce.Target
	seen    map[bounce.Target]bool
}

func (s *Server) newConn(nc net.Conn, mode Mode, release func()) *session {
	id := s.newSessionID()
	ip := remoteIP(nc)
	return &session{
		srv: s, nc: nc, raw: rawConn(nc), mode: mode, id: id, clientIP: ip, opened: time.Now(), release: release,
		log: sessionLogger(s.cfg.Logger, id, ip.String()),
	}
}

// errLineTooLong: a line over its limit ends the session.
var errLineTooLong = errors.New("smtpd: line too long")

// serve runs the session until the client quits, a limit ends it, or the
// server closes it. The session's own goroutine only waits: for the
// client's next command, with no buffer held (waitReadable), and for the
// burst of work that follows, which runs on a goroutine of its own
// (inBurst). So the goroutine an idle session keeps has never grown past
// the smallest stack, whatever TLS handshakes, signatures or commits the
// session has done (a stack shrinks at a GC only while less than a
// quarter of it is in use, which a parked goroutine's never is).
func (s *session) serve() {
	defer s.close()
	var waitErr error
	for first := true; s.inBurst(first, waitErr); first = false {
		waitErr = waitReadable(s.raw)
	}
}

// inBurst runs burst on a new goroutine and returns what it returns.
func (s *session) inBurst(first bool, waitErr error) (idle bool) {
	done := make(chan bool, 1)
	go func() {
		idle := false
		defer func() { done <- idle }()
		defer s.recoverPanic()
		idle = s.burst(first, waitErr)
	}()
	return <-done
}

// burst serves commands until the session is over (false) or must wait
// for the client (true): nothing is left to read, neither in the read
// buffer nor in crypto/tls's, and the replies are flushed. Then it gives
// the buffers back and sets the read deadline for waitReadable. A
// session on a connection without a socket (s.raw nil) waits in Read:
// its first burst is its last. The first burst starts the session; a
// later one begins with the outcome of the wait.
func (s *session) burst(first bool, waitErr error) bool {
	if first {
		if !s.start() {
			return false
		}
	} else {
		s.takeBuffers()
		if waitErr != nil {
			s.readFailed(waitErr)
			return false
		}
	}
	// After a wait the socket is readable: the first read goes to it.
	for woke := !first; !s.closeAfter; woke = false {
		if s.raw != nil && !woke && s.r.Buffered() == 0 {
			if err := s.flush(); err != nil {
				s.readFailed(err)
				return false
			}
			if !s.pending() {
				if !s.setIdle(true) {
					return false // draining: an idle session closes now
				}
				s.releaseBuffers()
				s.waitEnd = s.readDeadline()
				s.nc.SetReadDeadline(s.waitEnd)
				return true
			}
		}
		line, err := s.readLine(MaxLineLength)
		if err != nil {
			s.readFailed(err)
			return false
		}
		verb, arg := splitCommand(line)
		s.send(s.command(verb, arg))
	}
	return false
}

// aLongTimeAgo is a deadline that has passed: a Read under it returns at
// once with what is already buffered, or a timeout.
var aLongTimeAgo = time.Unix(1, 0)

// pending reports whether the client's next bytes may be read without
// waiting for the socket, when the read buffer is empty: over TLS, a
// record may wait in crypto/tls's own buffer, read along with the last
// one. A Read with a deadline in the past takes it at once (a read
// timeout leaves a tls.Conn usable). An error other than the timeout is
// also pending, for readLine to meet.
func (s *session) pending() bool {
	if s.tls == nil {
		return false
	}
	s.nc.SetReadDeadline(aLongTimeAgo)
	_, err := s.r.Peek(1)
	return err == nil || !isTimeout(err)
}

// recoverPanic, deferred, turns a panic into a 421 and the end of the
// session.
func (s *session) recoverPanic() {
	if p := recover(); p != nil {
		s.srv.panics.Add(1)
		s.log.Error("session panic", "panic", p, "stack", string(debug.Stack()))
		s.closeAfter = true
		s.takeBuffers() // if it panicked without them
		s.send(smtperr.New(smtperr.C421Unavailable, smtperr.SecTempSystem, "Internal error, closing connection (session "+s.id+")"))
	}
}

// start runs the implicit TLS handshake, if the listener wants one, and
// greets the client; false when the session is over.
func (s *session) start() bool {
	if s.mode == Submissions {
		tc := tls.Server(s.nc, s.srv.cfg.TLS)
		if err := s.handshake(tc); err != nil {
			s.log.Info("tls handshake", "err", err)
			return false
		}
	}
	s.setBuffers()
	s.log.Debug("session", "mode", s.mode.String(), "tls", s.tls != nil)
	s.send(smtperr.New(220, smtperr.Enhanced{}, s.srv.cfg.Hostname+" ESMTP Postern"))
	return true
}

// readFailed says why the session ends, when the client can still hear it.
func (s *session) readFailed(err error) {
	switch {
	case errors.Is(err, errLineTooLong):
		s.log.Info("line too long, closing")
		s.closeAfter = true
		s.send(smtperr.New(smtperr.C500SyntaxError, smtperr.SecSyntax, "Line too long, closing connection"))
	case isTimeout(err) && s.pastLifetime():
		s.log.Info("unauthenticated session lifetime over, closing")
		s.closeAfter = true
		s.send(smtperr.New(smtperr.C421Unavailable, smtperr.Enhanced{4, 4, 2}, "Session lasted too long without authentication, closing connection"))
	case isTimeout(err):
		s.log.Info("idle timeout, closing")
		s.closeAfter = true
		s.send(smtperr.New(smtperr.C421Unavailable, smtperr.Enhanced{4, 4, 2}, "Idle timeout, closing connection"))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		s.log.Debug("read", "err", err)
	}
}

// handshake runs a TLS handshake under the session's deadline and makes
// tc the connection.
func (s *session) handshake(tc *tls.Conn) error {
	s.nc.SetDeadline(s.readDeadline())
	if err := tc.HandshakeContext(s.srv.ctx); err != nil {
		return err
	}
	s.nc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	s.nc, s.tls = tc, &tlsState{Version: st.Version, CipherSuite: st.CipherSuite}
	return nil
}

// setBuffers gives the session buffers on its connection (again, after
// STARTTLS, when the old ones are empty).
func (s *session) setBuffers() {
	s.releaseBuffers()
	s.takeBuffers()
}

// takeBuffers gives the session a read and a write buffer on its
// connection, where it has none.
func (s *session) takeBuffers() {
	if s.r == nil {
		s.r = s.srv.bufs.reader(s.nc)
	}
	if s.w == nil {
		s.w = s.srv.bufs.writer(s.nc)
	}
}

// releaseBuffers gives the session's buffers back to the pool; what they
// hold is dropped.
func (s *session) releaseBuffers() {
	s.srv.bufs.put(s.r, s.w)
	s.r, s.w = nil, nil
}

// readDeadline is the end of the next read: the read timeout, or sooner,
// the end of an unauthenticated session's lifetime.
func (s *session) readDeadline() time.Time {
	d := time.Now().Add(s.srv.cfg.ReadTimeout)
	if s.client == nil {
		if end := s.opened.Add(s.srv.cfg.UnauthenticatedLifetime); end.Before(d) {
			d = end
		}
	}
	return d
}

func (s *session) pastLifetime() bool {
	return s.client == nil && !time.Now().Before(s.opened.Add(s.srv.cfg.UnauthenticatedLifetime))
}

// readLine reads one line of at most limit octets and returns it without
// its line ending. Replies still buffered go out first unless more
// pipelined commands are already waiting (RFC 2920): one write for a
// whole group of replies.
func (s *session) readLine(limit int) (string, error) {
	if s.r.Buffered() == 0 {
		if err := s.flush(); err != nil {
			return "", err
		}
	}
	if !s.setIdle(true) {
		return "", net.ErrClosed
	}
	defer s.setIdle(false)
	d := s.readDeadline()
	if !s.waitEnd.IsZero() {
		d, s.waitEnd = s.waitEnd, time.Time{}
	}
	s.nc.SetReadDeadline(d)
	var line []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(line)+len(chunk) > limit+2 {
			return "", errLineTooLong
		}
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			return "", err
		}
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
	return string(line), nil
}

// send writes a reply; a closing one (or one after which the session must
// end) is flushed and the connection closed.
func (s *session) send(e *smtperr.Error) {
	if e == nil {
		return
	}
	if e.Close {
		s.closeAfter = true
	}
	s.srv.cfg.Metrics.SMTPReply(s.mode.String(), int(e.Code))
	writeReply(s.w, e)
	if s.closeAfter || s.drainNow() {
		s.closeAfter = true
		s.flush()
		s.nc.Close()
	}
}

// writeReply renders a reply, one line per line of its text (RFC 5321
// §4.2.1), with its enhanced code on each (RFC 2034).
func writeReply(w *bufio.Writer, e *smtperr.Error) {
	lines := strings.Split(e.Text, "\n")
	for i, l := range lines {
		w.WriteString(itoa3(int(e.Code)))
		if i < len(lines)-1 {
			w.WriteByte('-')
		} else {
			w.WriteByte(' ')
		}
		if e.Enhanced[0] != 0 {
			w.WriteString(enhancedString(e.Enhanced))
			w.WriteByte(' ')
		}
		w.WriteString(l)
		w.WriteString("\r\n")
	}
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}

func enhancedString(e smtperr.Enhanced) string {
	var b []byte
	for i, n := range e {
		if i > 0 {
			b = append(b, '.')
		}
		b = appendInt(b, n)
	}
	return string(b)
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func (s *session) flush() error {
	if s.w.Buffered() == 0 {
		return nil
	}
	s.nc.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
	return s.w.Flush()
}

// close ends the connection and gives its slot back.
func (s *session) close() {
	if s.tx != nil {
		s.tx.Abort()
		s.tx = nil
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.nc.Close()
	s.releaseBuffers()
	s.release()
}

// setIdle records whether the session waits for a command. It reports
// false when the server is draining: an idle session closes at once.
func (s *session) setIdle(waiting bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !(waiting && s.draining && !s.busy)
}

// setBusy records whether a transaction is open. It reports false when the
// server is draining and a new transaction must not start.
func (s *session) setBusy(busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if busy && s.draining {
		return false
	}
	s.busy = busy
	return true
}

// drainNow reports whether the server is draining and the session has no
// transaction open: the reply just written is its last.
func (s *session) drainNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining && !s.busy
}

// drain closes an idle session now; a busy one closes after the reply that
// ends its transaction.
func (s *session) drain() {
	s.mu.Lock()
	s.draining = true
	idle := !s.busy && !s.closed
	s.mu.Unlock()
	if idle {
		s.nc.Close()
	}
}

// refuseConn answers a connection over the limits with 421 (RFC 5321
// §3.8) where the protocol is still plain text, and closes it.
func refuseConn(c net.Conn, mode Mode, reason string) {
	defer c.Close()
	if mode == Submissions {
		return // the client speaks TLS first: a plain reply would be noise
	}
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "421 4.7.0 "+reason+", try again later\r\n")
}

func remoteIP(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ctx is the context of the session's work.
func (s *session) ctx() context.Context { return s.srv.ctx }
