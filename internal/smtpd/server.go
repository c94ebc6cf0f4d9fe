package smtpd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/observe"
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
	// MaxIdleCommands is how many commands that move no mail (NOOP, RSET,
	// VRFY, HELP, a repeated EHLO) a session may send between two
	// accepted messages before it is closed with 421 (0: 20).
	MaxIdleCommands int
	// UnauthenticatedLifetime closes a session that has not authenticated
	// this long after it opened, whatever it is doing (0: 5 minutes).
	UnauthenticatedLifetime time.Duration
	// MXMaxMessageBytes bounds mail to return paths on the MX listener
	// (0: 1 MiB; never more than MaxMessageBytes).
	MXMaxMessageBytes int64
	// MaxInflightBytes bounds the message data all sessions together hold
	// while reading DATA (0: 256 MiB; never less than MaxMessageBytes);
	// past it a DATA gets 452 4.3.1.
	MaxInflightBytes int64

	// Funnel decides every submission (internal/submit). Required.
	Funnel *submit.Funnel
	// Conns bounds the connections of the submission listeners (per client
	// and in all), MXConns those of the MX listeners: two budgets, so the
	// public MX port cannot starve submission. Nil: no bound.
	Conns   *lockout.Conns
	MXConns *lockout.Conns
	// Bounces, when set, takes mail for return paths on the MX listener;
	// without it the MX listener accepts nothing unauthenticated.
	Bounces Bounces
	// Metrics counts sessions and replies (nil: nothing is counted; app
	// always passes them).
	Metrics *observe.Metrics
	Logger  *slog.Logger
	Rand    io.Reader // nil: crypto/rand (session ids)
}

// Line limits. A command line may be longer than RFC 5321's 512 octets
// (§4.5.3.1.4) by what extensions add; an AUTH response line may hold
// 12288 octets (RFC 4954 §4). A longer line ends the session. DATA lines
// are held to the RFC's 1000 by the funnel (submit.MaxDataLine).
const (
	MaxLineLength     = 2000
	maxAuthLineLength = 12288
)

// Server serves SMTP on any number of listeners.
type Server struct {
	cfg    Config
	budget *budget
	bufs   buffers // the sessions' read and write buffers
	// ctx is every session's context: cancelled when Shutdown gives up
	// waiting, so work in progress stops with the connections it serves.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	conns     map[*session]struct{}
	listeners []net.Listener
	draining  bool
	wg        sync.WaitGroup // Serve calls and connections

	panics atomic.Int64 // sessions ended by a recovered panic
}

// Panics is how many sessions ended with a recovered panic (a 421 to
// the client).
func (s *Server) Panics() int64 { return s.panics.Load() }

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
	if cfg.MaxIdleCommands <= 0 {
		cfg.MaxIdleCommands = 20
	}
	if cfg.UnauthenticatedLifetime <= 0 {
		cfg.UnauthenticatedLifetime = 5 * time.Minute
	}
	if cfg.MXMaxMessageBytes <= 0 {
		cfg.MXMaxMessageBytes = 1 << 20
	}
	if cfg.MaxMessageBytes > 0 && cfg.MXMaxMessageBytes > cfg.MaxMessageBytes {
		cfg.MXMaxMessageBytes = cfg.MaxMessageBytes
	}
	if cfg.MaxInflightBytes <= 0 {
		cfg.MaxInflightBytes = 256 << 20
	}
	if cfg.MaxInflightBytes < cfg.MaxMessageBytes {
		cfg.MaxInflightBytes = cfg.MaxMessageBytes // or the largest could never pass
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 5 * time.Minute
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = time.Minute
	}
	s := &Server{cfg: cfg, conns: make(map[*session]struct{}), budget: newBudget(cfg.MaxInflightBytes)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Serve accepts connections on l in the given mode until Shutdown. For
// Submissions, every connection speaks TLS from its first byte.
func (s *Server) Serve(l net.Listener, mode Mode) error {
	// A Serve that starts after Shutdown (a stop right after a start)
	// must not go on accepting.
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners = append(s.listeners, l)
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	conns := s.cfg.Conns
	if mode == MX {
		conns = s.cfg.MXConns
	}
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isDraining() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off, as
				// net/http does, instead of spinning.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		release := func() {}
		if conns != nil {
			ip := remoteIP(nc)
			r, ok, reason := conns.Acquire(ip)
			if !ok {
				s.cfg.Logger.Info("connection refused", "ip", ip.String(), "mode", mode.String(), "reason", reason)
				go refuseConn(nc, mode, reason)
				continue
			}
			release = r
		}
		c := s.newConn(nc, mode, release)
		if !s.track(c) {
			c.nc.Close()
			release()
			return nil
		}
		s.cfg.Metrics.SMTPSession(mode.String())
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			c.serve()
		}()
	}
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Shutdown stops accepting, closes idle connections, lets transactions in
// progress finish (each connection closes after its final reply) and
// returns when all are gone. When ctx ends first, remaining connections are
// closed and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for _, l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.drain()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel() // work in progress stops: nothing of it was acknowledged
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.cancel()
	return err
}

// track registers a new connection; false when the server is draining.
func (s *Server) track(c *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *session) {
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
