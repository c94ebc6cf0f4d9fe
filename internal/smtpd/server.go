package smtpd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/submit"
)

// Mode is the role of a listener.
type Mode int

const (
	// Submission: STARTTLS, AUTH required (RFC 6409).
	Submission Mode = iota
	// Submissions: implicit TLS from the first byte (RFC 8314), AUTH required.
	Submissions
	// MX: inbound; relays nothing without a key.
	MX
)

func (m Mode) String() string {
	switch m {
	case Submission:
		return "submission"
	case Submissions:
		return "submissions"
	case MX:
		return "mx"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Config configures a Server.
type Config struct {
	Hostname        string
	TLS             *tls.Config
	MaxMessageBytes int64
	MaxRecipients   int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	// MaxErrors is how many refused commands a connection may collect
	// before it is closed with 421.
	MaxErrors int

	// Funnel decides every submission (internal/submit). Required.
	Funnel *submit.Funnel
	// Conns, when set, bounds connections per client and in all.
	Conns *lockout.Conns
	// Bounces, when set, takes mail for return paths on the MX listener;
	// without it the MX listener accepts nothing unauthenticated.
	Bounces Bounces
	Logger  *slog.Logger
	Rand    io.Reader // nil: crypto/rand (session ids)
}

// MaxLineLength is the engine's hard line limit: twice RFC 5321's 1000
// octets, as go-smtp recommends; a longer line closes the connection. DATA
// lines are held to the RFC's 1000 by the funnel (submit.MaxDataLine).
const MaxLineLength = 2000

// Server serves SMTP on any number of listeners.
type Server struct {
	cfg    Config
	engine *smtp.Server
	// ctx is every session's context: cancelled when Shutdown gives up
	// waiting, so work in progress stops with the connections it serves.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	conns     map[*guardConn]struct{}
	listeners []net.Listener
	draining  bool
	wg        sync.WaitGroup
}

// New returns a server; call Serve for each listener. It refuses a config
// without a funnel.
func New(cfg Config) (*Server, error) {
	if cfg.Funnel == nil {
		return nil, errors.New("smtpd: Config.Funnel is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = 10
	}
	s := &Server{cfg: cfg, conns: make(map[*guardConn]struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	e := smtp.NewServer(smtp.BackendFunc(s.newSession))
	e.Domain = cfg.Hostname
	e.TLSConfig = cfg.TLS
	e.MaxMessageBytes = cfg.MaxMessageBytes
	e.MaxRecipients = cfg.MaxRecipients
	e.MaxLineLength = MaxLineLength
	e.ReadTimeout = cfg.ReadTimeout
	e.WriteTimeout = cfg.WriteTimeout
	// go-smtp would answer AUTH before TLS with 523 5.7.10 and hide why;
	// the session itself refuses it with 530 5.7.0 (RFC 3207 §4) and
	// advertises no mechanism before TLS.
	e.AllowInsecureAuth = true
	e.ErrorLog = log.New(&slogWriter{cfg.Logger}, "", 0)
	s.engine = e
	return s, nil
}

// Serve accepts connections on l in the given mode until Shutdown. For
// Submissions, l is wrapped in TLS here.
func (s *Server) Serve(l net.Listener, mode Mode) error {
	// A Serve that starts after Shutdown (a stop right after a start)
	// must not go on accepting: the engine only closes listeners it has
	// seen, so the server keeps its own list.
	gl := &guardListener{Listener: l, mode: mode, srv: s}
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		gl.Close()
		return nil
	}
	s.listeners = append(s.listeners, gl)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	var ln net.Listener = gl
	if mode == Submissions {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	err := s.engine.Serve(ln)
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, closes idle connections, lets transactions in
// progress finish (each connection closes after its final reply) and
// returns when all are gone. When ctx ends first, remaining connections are
// closed and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.engine.Shutdown(ctx) }()
	s.mu.Lock()
	s.draining = true
	for _, l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.drain()
	}
	s.mu.Unlock()
	err := <-done
	if err != nil {
		s.cancel() // work in progress stops: nothing of it was acknowledged
		// ctx ended with sessions still open: the engine, already shut
		// down, closes nothing more, so cut them here.
		s.engine.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Conn.Close()
		}
		s.mu.Unlock()
	}
	s.wg.Wait()
	s.cancel()
	return err
}

func (s *Server) track(c *guardConn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	draining := s.draining
	s.mu.Unlock()
	if draining {
		c.drain()
	}
}

func (s *Server) untrack(c *guardConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

var sessionIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func (s *Server) newSessionID() string {
	var b [8]byte
	if _, err := io.ReadFull(s.cfg.Rand, b[:]); err != nil {
		return "unknown"
	}
	return sessionIDEncoding.EncodeToString(b[:])
}

// slogWriter carries go-smtp's own error log into slog.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	w.log.Warn("smtp engine", "msg", string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
