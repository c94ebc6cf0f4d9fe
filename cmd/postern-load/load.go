package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode is how a connection is encrypted.
type TLSMode string

const (
	// StartTLS: plain TCP, then STARTTLS (RFC 3207), as on port 587/2525.
	StartTLS TLSMode = "starttls"
	// ImplicitTLS: TLS from the first byte (RFC 8314), as on port 465/2465.
	ImplicitTLS TLSMode = "implicit"
)

// username is the SMTP AUTH username Postern expects with an API key.
const username = "apikey"

// Options describe one load run.
type Options struct {
	Addr     string  // host:port of a submission listener
	TLS      TLSMode // StartTLS or ImplicitTLS
	CAFile   string  // PEM certificates to trust instead of the system's
	Insecure bool    // skip certificate verification
	Conns    int     // concurrent connections
	PerConn  int     // messages per connection
	Size     int     // body size in bytes
	Rcpts    int     // recipients per message
	From, To string  // envelope sender and recipient (numbered +1, +2… when Rcpts > 1)
	// Duration, if positive, stops every connection from starting another
	// transaction once it has passed; transactions under way finish.
	Duration time.Duration
	// Timeout bounds dialing and each reply (default one minute).
	Timeout time.Duration
}

func (o Options) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		bad("-addr %q: %v", o.Addr, err)
	}
	if o.TLS != StartTLS && o.TLS != ImplicitTLS {
		bad("-tls %q: must be %q or %q", o.TLS, StartTLS, ImplicitTLS)
	}
	if o.CAFile != "" && o.Insecure {
		bad("-ca and -insecure exclude each other")
	}
	if o.Conns < 1 {
		bad("-c %d: must be at least 1", o.Conns)
	}
	if o.PerConn < 1 {
		bad("-n %d: must be at least 1", o.PerConn)
	}
	if o.Size < 0 {
		bad("-size %d: must not be negative", o.Size)
	}
	if o.Rcpts < 1 {
		bad("-rcpts %d: must be at least 1", o.Rcpts)
	}
	for _, a := range []struct{ flag, addr string }{{"-from", o.From}, {"-to", o.To}} {
		if at := strings.LastIndexByte(a.addr, '@'); at < 1 || at == len(a.addr)-1 || strings.ContainsAny(a.addr, " <>\r\n") {
			bad("%s %q: not an address like name@example.com", a.flag, a.addr)
		}
	}
	if o.Duration < 0 {
		bad("-duration %s: must not be negative", o.Duration)
	}
	if o.Timeout < 0 {
		bad("-timeout %s: must not be negative", o.Timeout)
	}
	return errors.Join(errs...)
}

// recipients returns the RCPT addresses: To itself for one, else To with
// +1, +2… added to its local part.
func (o Options) recipients() []string {
	if o.Rcpts == 1 {
		return []string{o.To}
	}
	at := strings.LastIndexByte(o.To, '@')
	rcpts := make([]string, o.Rcpts)
	for i := range rcpts {
		rcpts[i] = fmt.Sprintf("%s+%d%s", o.To[:at], i+1, o.To[at:])
	}
	return rcpts
}

// Stages of a connection, as they appear in ConnError.
const (
	StageDial = "dial"
	StageTLS  = "tls"
	StageAuth = "auth"
	StageSend = "send" // a transaction: MAIL, RCPT, DATA, or the RSET after a refusal
	StageQuit = "quit"
)

// ConnError is a connection that ended before its messages were all sent.
type ConnError struct {
	Conn  int    // 0-based worker number
	Stage string // StageDial…StageQuit
	Code  int    // the SMTP reply code, 0 when there was no reply
	Err   error
}

func (e ConnError) Error() string {
	return fmt.Sprintf("conn %d %s: %s", e.Conn, e.Stage, describe(e.Err))
}

// Report is the outcome of a run. Sent == Accepted + Failed.
type Report struct {
	Conns    int // connections opened or attempted
	Sent     int // transactions started (MAIL sent)
	Accepted int // transactions ended by a 2xx reply to DATA
	Failed   int // transactions refused, or cut by a broken connection
	// ByCode counts the failed transactions by reply code; 0 is a
	// transaction that got no reply because the connection broke.
	ByCode map[int]int
	// ConnErrors are the connections that ended early, in worker order.
	// A server that refuses AUTH shows up here, with Sent 0.
	ConnErrors []ConnError
	// Interrupted: ctx ended before every connection was done.
	Interrupted bool
	Elapsed     time.Duration // first dial to last connection closed

	// Latencies are the MAIL→250 times of the accepted messages, sorted.
	Latencies          []time.Duration
	P50, P90, P99, Max time.Duration
}

// OK reports whether every transaction was accepted and every connection
// ran to its end.
func (r Report) OK() bool { return r.Failed == 0 && len(r.ConnErrors) == 0 && !r.Interrupted }

// run submits the messages described by opts, authenticating with key,
// writes the summary to stdout and returns the report. The error is for
// options that prevent the run (bad flags, an unreadable CA file); what
// the server refuses is in the report.
func run(ctx context.Context, opts Options, key string, stdout io.Writer) (Report, error) {
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	if err := opts.check(); err != nil {
		return Report{}, err
	}
	if key == "" {
		return Report{}, errors.New("no API key")
	}
	tlsConfig, err := clientTLS(opts)
	if err != nil {
		return Report{}, err
	}
	l := &loader{
		opts:  opts,
		tls:   tlsConfig,
		key:   key,
		rcpts: opts.recipients(),
		body:  filler(opts.Size),
	}

	start := time.Now()
	if opts.Duration > 0 {
		l.stopAt = start.Add(opts.Duration)
	}
	results := make([]workerResult, opts.Conns)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = l.worker(ctx, i) })
	}
	wg.Wait()

	rep := Report{Conns: opts.Conns, ByCode: make(map[int]int), Elapsed: time.Since(start)}
	for _, res := range results {
		rep.Sent += res.sent
		rep.Accepted += len(res.latencies)
		for code, n := range res.byCode {
			rep.Failed += n
			rep.ByCode[code] += n
		}
		rep.Latencies = append(rep.Latencies, res.latencies...)
		if res.connErr != nil {
			rep.ConnErrors = append(rep.ConnErrors, *res.connErr)
		}
		rep.Interrupted = rep.Interrupted || res.interrupted
	}
	slices.Sort(rep.Latencies)
	rep.P50 = percentile(rep.Latencies, 50)
	rep.P90 = percentile(rep.Latencies, 90)
	rep.P99 = percentile(rep.Latencies, 99)
	rep.Max = percentile(rep.Latencies, 100)
	writeReport(stdout, rep)
	return rep, nil
}

// clientTLS builds the client's TLS configuration. The server name is the
// host of the address, so a certificate for 127.0.0.1 or for the host name
// dialed is expected.
func clientTLS(opts Options) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(opts.Addr)
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.Insecure}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificate in it", opts.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// loader holds what every worker shares; all of it is read-only.
type loader struct {
	opts   Options
	tls    *tls.Config
	key    string
	rcpts  []string
	body   []byte
	stopAt time.Time // zero: no time cap
}

type workerResult struct {
	sent        int
	latencies   []time.Duration
	byCode      map[int]int
	connErr     *ConnError // nil: the connection ran to its end, or was interrupted
	interrupted bool       // ctx ended first
}

// worker runs one connection: dial, TLS, AUTH, then up to PerConn
// transactions, then QUIT.
func (l *loader) worker(ctx context.Context, id int) workerResult {
	res := workerResult{byCode: make(map[int]int), latencies: make([]time.Duration, 0, min(l.opts.PerConn, 4096))}
	fail := func(stage string, err error) workerResult {
		if ctx.Err() != nil {
			res.interrupted = true // cut short on purpose, not broken
			return res
		}
		if isTLSError(err) {
			stage = StageTLS
		}
		res.connErr = &ConnError{Conn: id, Stage: stage, Code: replyCode(err), Err: err}
		return res
	}

	c, err := l.dial(ctx)
	if err != nil {
		return fail(StageDial, err)
	}
	defer c.Close()
	// Ending ctx closes the connection, which unblocks any read or write.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	c.CommandTimeout = l.opts.Timeout
	c.SubmissionTimeout = l.opts.Timeout

	if err := c.Auth(sasl.NewPlainClient("", username, l.key)); err != nil {
		return fail(StageAuth, err)
	}

	var header []byte
	for n := range l.opts.PerConn {
		if ctx.Err() != nil {
			res.interrupted = true
			return res
		}
		if !l.stopAt.IsZero() && !time.Now().Before(l.stopAt) {
			break
		}
		header = l.header(header[:0], id, n)
		res.sent++
		lat, final, err := l.transaction(c, header)
		if err == nil {
			res.latencies = append(res.latencies, lat)
			continue
		}
		if ctx.Err() != nil {
			res.sent-- // fate unknown, and not the server's doing
			res.interrupted = true
			return res
		}
		code := replyCode(err)
		res.byCode[code]++
		if code == 0 || code == 421 {
			// No reply, or the server said it is closing: the connection is over.
			return fail(StageSend, err)
		}
		if !final {
			// Refused before the end of DATA: end the transaction.
			if err := c.Reset(); err != nil {
				return fail(StageSend, err)
			}
		}
	}
	if err := c.Quit(); err != nil {
		return fail(StageQuit, err)
	}
	return res
}

// dial connects and, for StartTLS, upgrades the connection.
func (l *loader) dial(ctx context.Context) (*smtp.Client, error) {
	d := &net.Dialer{Timeout: l.opts.Timeout}
	if l.opts.TLS == ImplicitTLS {
		conn, err := (&tls.Dialer{NetDialer: d, Config: l.tls}).DialContext(ctx, "tcp", l.opts.Addr)
		if err != nil {
			return nil, err
		}
		return smtp.NewClient(conn), nil
	}
	conn, err := d.DialContext(ctx, "tcp", l.opts.Addr)
	if err != nil {
		return nil, err
	}
	// go-smtp reads the greeting and runs EHLO and STARTTLS under its
	// default five-minute timeout; the connection is closed sooner.
	tctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	stop := context.AfterFunc(tctx, func() { conn.Close() })
	c, err := smtp.NewClientStartTLS(conn, l.tls)
	if !stop() { // the connection was closed under go-smtp
		if c != nil {
			c.Close()
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("greeting, EHLO and STARTTLS: no answer within %s", l.opts.Timeout)
	}
	if err != nil {
		return nil, err // NewClientStartTLS closed the connection
	}
	return c, nil
}

// transaction sends one message and returns the time from MAIL to the
// final reply. final tells whether the error is the reply to the end of
// DATA, after which no transaction is open.
func (l *loader) transaction(c *smtp.Client, header []byte) (latency time.Duration, final bool, err error) {
	start := time.Now()
	if err := c.Mail(l.opts.From, &smtp.MailOptions{Size: int64(len(header) + len(l.body))}); err != nil {
		return 0, false, err
	}
	for _, r := range l.rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return 0, false, err
		}
	}
	w, err := c.Data()
	if err != nil {
		return 0, false, err
	}
	if _, err := w.Write(header); err != nil {
		return 0, false, err
	}
	if _, err := w.Write(l.body); err != nil {
		return 0, false, err
	}
	if _, err := w.CloseWithResponse(); err != nil {
		return 0, true, err
	}
	return time.Since(start), true, nil
}

// header appends the message's header section to b.
func (l *loader) header(b []byte, conn, n int) []byte {
	b = fmt.Appendf(b, "From: <%s>\r\nTo: <%s>\r\n", l.opts.From, l.rcpts[0])
	if len(l.rcpts) > 1 {
		b = fmt.Appendf(b, "Cc: %d more recipients:;\r\n", len(l.rcpts)-1)
	}
	return fmt.Appendf(b, "Subject: postern-load conn %d message %d\r\n\r\n", conn, n)
}

// filler returns a body of size bytes of lines of at most 78 octets,
// CRLF included (2 bytes, one CRLF, for size 1).
func filler(size int) []byte {
	const line = "The quick brown fox jumps over the lazy dog. Postern load test filler text..\r\n"
	b := make([]byte, 0, max(size, 2))
	for rest := size; rest > 0; {
		n := min(rest, len(line))
		if rest-n == 1 {
			n-- // leave the last line room for its CRLF
		}
		n = max(n, 2)
		b = append(b, line[:n-2]...)
		b = append(b, "\r\n"...)
		rest -= n
	}
	return b
}

// describe writes an SMTP reply as it came, "535 5.7.8 text"; go-smtp's
// own Error drops the enhanced code.
func describe(err error) string {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return err.Error()
	}
	msg := strings.ReplaceAll(se.Message, "\n", " ") // a multi-line reply on one line
	if se.EnhancedCode == (smtp.EnhancedCode{}) || se.EnhancedCode == smtp.NoEnhancedCode {
		return fmt.Sprintf("%d %s", se.Code, msg)
	}
	e := se.EnhancedCode
	return fmt.Sprintf("%d %d.%d.%d %s", se.Code, e[0], e[1], e[2], msg)
}

// replyCode is the SMTP reply code carried by err, or 0.
func replyCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// isTLSError reports whether err comes from the TLS handshake: with
// STARTTLS it only shows at the first command after the upgrade.
func isTLSError(err error) bool {
	var (
		verr   *tls.CertificateVerificationError
		alert  tls.AlertError
		header tls.RecordHeaderError
		ua     x509.UnknownAuthorityError
		host   x509.HostnameError
		inv    x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &alert) || errors.As(err, &header) ||
		errors.As(err, &ua) || errors.As(err, &host) || errors.As(err, &inv)
}
