package smtpd

import (
	"crypto/tls"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// guardConn wraps every accepted connection. It lets the server close a
// connection right after a reply is written (too many errors, draining at
// shutdown) and tells idle connections from ones inside a transaction.
type guardConn struct {
	net.Conn
	srv  *Server
	mode Mode
	id   string

	mu         sync.Mutex
	busy       bool // inside a mail transaction
	draining   bool
	closeAfter bool // close once the next write completes
	closed     bool
	errors     int
	release    func() // gives the connection slot back
}

func (c *guardConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	closeNow := c.closeAfter && !c.closed
	if closeNow {
		c.closed = true
	}
	c.mu.Unlock()
	if closeNow {
		c.Conn.Close()
	}
	return n, err
}

func (c *guardConn) Close() error {
	c.mu.Lock()
	c.closed = true
	release := c.release
	c.release = nil
	c.mu.Unlock()
	if release != nil {
		release()
	}
	c.srv.untrack(c)
	return c.Conn.Close()
}

// closeAfterReply makes the next reply the last one.
func (c *guardConn) closeAfterReply() {
	c.mu.Lock()
	c.closeAfter = true
	c.mu.Unlock()
}

// setBusy records whether a transaction is open. It reports false when the
// server is draining and a new transaction must not start.
func (c *guardConn) setBusy(busy bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if busy && c.draining {
		c.closeAfter = true
		return false
	}
	c.busy = busy
	if !busy && c.draining {
		c.closeAfter = true
	}
	return true
}

// drain closes an idle connection now; a busy one closes after the reply
// that ends its transaction.
func (c *guardConn) drain() {
	c.mu.Lock()
	c.draining = true
	idle := !c.busy
	if idle {
		c.closed = true
	}
	c.mu.Unlock()
	if idle {
		c.Conn.Close()
	}
}

// guardOf finds the guardConn under a connection go-smtp hands out, which
// is the guardConn itself or a *tls.Conn over it.
func guardOf(c net.Conn) *guardConn {
	for {
		switch v := c.(type) {
		case *guardConn:
			return v
		case *tls.Conn:
			c = v.NetConn()
		default:
			return nil
		}
	}
}

// guardListener wraps accepted connections and tracks them for draining.
type guardListener struct {
	net.Listener
	mode Mode
	srv  *Server

	closeOnce sync.Once
	closeErr  error
}

// Close closes the listener once; Shutdown and the engine both close it.
func (l *guardListener) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.Listener.Close() })
	return l.closeErr
}

func (l *guardListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		g := &guardConn{Conn: c, srv: l.srv, mode: l.mode, id: l.srv.newSessionID()}
		if conns := l.srv.cfg.Conns; conns != nil {
			ip := remoteIP(c)
			release, ok, reason := conns.Acquire(ip)
			if !ok {
				l.srv.cfg.Logger.Info("connection refused", "ip", ip.String(), "reason", reason)
				go refuseConn(c, l.mode, reason)
				continue
			}
			g.release = release
		}
		l.srv.track(g)
		return g, nil
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

// countError records a refused command and returns the count so far.
func (c *guardConn) countError() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors++
	return c.errors
}
