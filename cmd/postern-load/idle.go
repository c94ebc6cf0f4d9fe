package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The idle mode (-idle N): N sessions that do TLS and EHLO and then say
// nothing, held open while the server's memory is read from
// /proc/PID/status. It measures what an idle session costs a server: the
// buffers, TLS state and goroutine it keeps while waiting for a command.

// Stages of an idle session, as they appear in ConnError.
const (
	StageEHLO     = "ehlo"
	StageStartTLS = "starttls"
)

// IdleOptions describe an idle-sessions run.
type IdleOptions struct {
	Addr     string  // host:port of a submission listener
	TLS      TLSMode // StartTLS or ImplicitTLS
	CAFile   string  // PEM certificates to trust instead of the system's
	Insecure bool    // skip certificate verification
	Sessions int     // how many to open
	// Dialers bounds how many sessions are being opened at once.
	Dialers int
	// Sources is how many loopback source addresses the dials cycle
	// over, 127.0.0.1 … 127.0.0.Sources, so that neither the server's
	// per-address connection limit nor the ephemeral ports of one
	// address pair run out. 0: the system picks the source.
	Sources int
	// PID is the server's process, whose memory is reported (0: none).
	PID int
	// Hold is how long the sessions stay open, all of them, before the
	// server's memory is read and they are closed.
	Hold time.Duration
	// Timeout bounds dialing, the handshake and each reply.
	Timeout time.Duration
}

// maxSources: the last octet of 127.0.0.X.
const maxSources = 254

func (o IdleOptions) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		bad("-addr %q: %v", o.Addr, err)
	} else if o.Sources > 0 {
		// The sources are loopback addresses: so must the server be.
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is4() || !ip.IsLoopback() {
			bad("-addr %q: with -sources, the server must be on an IPv4 loopback address (127.x.x.x)", o.Addr)
		}
	}
	if o.TLS != StartTLS && o.TLS != ImplicitTLS {
		bad("-tls %q: must be %q or %q", o.TLS, StartTLS, ImplicitTLS)
	}
	if o.CAFile != "" && o.Insecure {
		bad("-ca and -insecure exclude each other")
	}
	if o.Sessions < 1 {
		bad("-idle %d: must be at least 1", o.Sessions)
	}
	if o.Dialers < 1 {
		bad("-dialers %d: must be at least 1", o.Dialers)
	}
	if o.Sources < 0 || o.Sources > maxSources {
		bad("-sources %d: must be between 0 and %d", o.Sources, maxSources)
	}
	if o.PID < 0 {
		bad("-pid %d: must not be negative", o.PID)
	}
	if o.Hold < 0 {
		bad("-hold %s: must not be negative", o.Hold)
	}
	if o.Timeout < 0 {
		bad("-timeout %s: must not be negative", o.Timeout)
	}
	return errors.Join(errs...)
}

// source is the local address of the i-th dial: 127.0.0.1 … 127.0.0.n in
// turn, or nil (the system's choice) when n is 0.
func source(i, n int) *net.TCPAddr {
	if n <= 0 {
		return nil
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%n))}
}

// IdleReport is the outcome of an idle run.
type IdleReport struct {
	Sessions int // asked for
	Open     int // open when the memory was read
	// Failures are the sessions that did not open, in session order.
	Failures    []ConnError
	Interrupted bool          // ctx ended before the sessions were all open and held
	Opening     time.Duration // first dial to the last session open
	Mode        TLSMode
	Sources     int
	NoFile      uint64 // the descriptor limit the tool ran with

	// The server's memory, when a PID was given: Before is read before
	// the first dial, After once every session is open and the hold is
	// over. MemErr says why they are missing.
	PID           int
	Before, After ProcStatus
	MemErr        error
}

// OK reports whether every session opened and the memory was read.
func (r IdleReport) OK() bool {
	return r.Open == r.Sessions && len(r.Failures) == 0 && !r.Interrupted && r.MemErr == nil
}

// PerSession is the server's resident memory growth per open session, in
// KiB; 0 when it was not measured.
func (r IdleReport) PerSession() float64 {
	if r.Open == 0 || r.PID == 0 || r.MemErr != nil {
		return 0
	}
	return float64(int64(r.After.RSS)-int64(r.Before.RSS)) / float64(r.Open)
}

// runIdle opens the sessions, holds them, reads the server's memory,
// prints the report to stdout and closes them. The error is for options
// that prevent the run; what fails on the wire is in the report.
func runIdle(ctx context.Context, opts IdleOptions, stdout io.Writer) (IdleReport, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	if opts.Dialers == 0 {
		opts.Dialers = 64
	}
	if err := opts.check(); err != nil {
		return IdleReport{}, err
	}
	tlsConfig, err := clientTLS(Options{Addr: opts.Addr, CAFile: opts.CAFile, Insecure: opts.Insecure})
	if err != nil {
		return IdleReport{}, err
	}
	// One descriptor per session, and room for the runtime, the CA file
	// and the dials in flight.
	nofile, err := raiseNoFile(uint64(opts.Sessions) + uint64(opts.Dialers) + 64)
	if err != nil {
		return IdleReport{}, err
	}
	rep := IdleReport{Sessions: opts.Sessions, Mode: opts.TLS, Sources: opts.Sources, NoFile: nofile, PID: opts.PID}
	if opts.PID > 0 {
		rep.Before, rep.MemErr = readProcStatus(opts.PID)
	}

	conns := make([]net.Conn, opts.Sessions)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	failed := make([]*ConnError, opts.Sessions)
	next := make(chan int)
	start := time.Now()
	var wg sync.WaitGroup
	for range min(opts.Dialers, opts.Sessions) {
		wg.Go(func() {
			for i := range next {
				c, stage, err := openIdle(ctx, opts, tlsConfig, source(i, opts.Sources))
				if err != nil {
					failed[i] = &ConnError{Conn: i, Stage: stage, Code: textprotoCode(err), Err: err}
					continue
				}
				conns[i] = c
			}
		})
	}
feed:
	for i := range opts.Sessions {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	rep.Opening = time.Since(start)

	if ctx.Err() != nil {
		rep.Interrupted = true
	} else {
		select {
		case <-time.After(opts.Hold):
		case <-ctx.Done():
			rep.Interrupted = true
		}
	}
	for i, c := range conns {
		switch {
		case c != nil:
			rep.Open++
		case failed[i] != nil && ctx.Err() == nil: // an interrupted run cut them itself
			rep.Failures = append(rep.Failures, *failed[i])
		}
	}
	if opts.PID > 0 && rep.MemErr == nil {
		rep.After, rep.MemErr = readProcStatus(opts.PID)
	}
	writeIdleReport(stdout, rep)
	return rep, nil
}

// openIdle opens one session from src: TCP, TLS and EHLO (for StartTLS:
// EHLO, STARTTLS, the handshake and EHLO again), and returns the
// connection with no deadline, to be held. On failure it says at which
// stage.
func openIdle(ctx context.Context, opts IdleOptions, cfg *tls.Config, src *net.TCPAddr) (net.Conn, string, error) {
	d := &net.Dialer{Timeout: opts.Timeout}
	if src != nil {
		d.LocalAddr = src
	}
	raw, err := d.DialContext(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, StageDial, err
	}
	// Ending ctx cuts the session short wherever it is.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	fail := func(stage string, err error) (net.Conn, string, error) {
		raw.Close()
		if isTLSError(err) {
			stage = StageTLS
		}
		return nil, stage, err
	}
	raw.SetDeadline(time.Now().Add(opts.Timeout))
	var c net.Conn = raw
	if opts.TLS == ImplicitTLS {
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(StageTLS, err)
		}
		c = tc
	}
	// A small reader: the replies are short, and the client's memory
	// should not crowd the server's on one machine.
	r := textproto.NewReader(bufio.NewReaderSize(c, 512))
	if _, _, err := r.ReadResponse(220); err != nil {
		return fail(StageDial, fmt.Errorf("greeting: %w", err))
	}
	if err := ehlo(c, r); err != nil {
		return fail(StageEHLO, err)
	}
	if opts.TLS == StartTLS {
		if _, err := io.WriteString(c, "STARTTLS\r\n"); err != nil {
			return fail(StageStartTLS, err)
		}
		if _, _, err := r.ReadResponse(220); err != nil {
			return fail(StageStartTLS, err)
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(StageTLS, err)
		}
		c = tc
		r = textproto.NewReader(bufio.NewReaderSize(c, 512))
		if err := ehlo(c, r); err != nil {
			return fail(StageEHLO, err)
		}
	}
	raw.SetDeadline(time.Time{})
	return c, "", nil
}

// ehlo says EHLO and expects 250.
func ehlo(w io.Writer, r *textproto.Reader) error {
	if _, err := io.WriteString(w, "EHLO postern-load.invalid\r\n"); err != nil {
		return err
	}
	_, _, err := r.ReadResponse(250)
	return err
}

// textprotoCode is the reply code carried by err, or 0.
func textprotoCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// readPIDFile reads a process id written as decimal text.
func readPIDFile(name string) (int, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, fmt.Errorf("-pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("-pidfile %s: not a process id: %q", name, strings.TrimSpace(string(b)))
	}
	return pid, nil
}
