package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/postern/postern/internal/tlsconf"
)

// Timeouts bound every read and write of the client. A zero field takes
// its default, the values of RFC 5321 §4.5.3.2. EHLO, HELO, STARTTLS, the
// TLS handshake and RSET use Mail.
type Timeouts struct {
	Connect   time.Duration // TCP connect; default 30s
	Greeting  time.Duration // the 220 greeting; default 5m
	Mail      time.Duration // MAIL FROM; default 5m
	Rcpt      time.Duration // each RCPT TO; default 5m
	DataInit  time.Duration // the 354 reply to DATA; default 2m
	DataBlock time.Duration // each block of the body written; default 3m
	DataEnd   time.Duration // the reply after the final dot; default 10m
	Quit      time.Duration // QUIT and its reply, on Close; default 5s
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Connect, 30*time.Second)
	def(&t.Greeting, 5*time.Minute)
	def(&t.Mail, 5*time.Minute)
	def(&t.Rcpt, 5*time.Minute)
	def(&t.DataInit, 2*time.Minute)
	def(&t.DataBlock, 3*time.Minute)
	def(&t.DataEnd, 10*time.Minute)
	def(&t.Quit, 5*time.Second)
	return t
}

// ClientOptions configure Dial.
type ClientOptions struct {
	// Hostname is the name given in EHLO; "localhost" when empty.
	Hostname string
	// TLS is the configuration for STARTTLS; nil means Postern's defaults
	// (tlsconf.CipherSuites, TLS 1.2 at least). Dial sets ServerName to
	// the MX host name and checks the certificate itself, so a certificate
	// that does not verify is still used (opportunistic TLS, RFC 7435) and
	// the failure is recorded in TLSInfo. RootCAs nil means the system's.
	TLS *tls.Config
	// Timeouts for every step; zero fields take RFC 5321 defaults.
	Timeouts Timeouts
	// RequireTLS makes Dial fail, temporarily, when STARTTLS is not
	// offered or does not succeed.
	RequireTLS bool
}

// TLSInfo describes the TLS of a connection.
type TLSInfo struct {
	Used        bool
	Version     string // "TLS1.3", "TLS1.2"
	Cipher      string // e.g. "TLS_AES_128_GCM_SHA256"
	Verified    bool   // the certificate chains to a trusted root and names the MX host
	VerifyError string // why it does not, when it does not
}

// Conn is one SMTP client connection to a mail exchanger, ready for
// transactions once Dial returns it. It is not safe for concurrent use.
type Conn struct {
	opts ClientOptions // with defaults
	host string        // the MX host name
	addr string

	nc  net.Conn // TCP, or TLS over it after STARTTLS
	r   *bufio.Reader
	ext map[string]string
	tls TLSInfo

	ctx       context.Context // of the call in progress
	mu        sync.Mutex      // guards cancelled and deadline changes
	cancelled bool            // a call's context ended: deadlines stay in the past

	// broken is why the connection can no longer carry a command; nil
	// while it can.
	broken error
	closed bool
}

// Dial connects to addr (ip:port) of the mail exchanger mxHost, reads the
// greeting, says EHLO (HELO when EHLO is answered 500 or 502) and, when the
// server offers it, runs STARTTLS (RFC 3207) and says EHLO again.
//
// The error is non-nil exactly when there is no usable connection; the
// Result then says why: a 5xx greeting or EHLO reply is permanent for this
// destination, anything else temporary. On success the Result is the
// reply to the last EHLO.
//
// addr must be an IP literal: Dial resolves no names, so the address it
// connects to is the one its caller checked (the Worker refuses private
// networks, private.go). Which addresses may be dialed is the caller's
// policy.
func Dial(ctx context.Context, addr, mxHost string, opts ClientOptions) (*Conn, Result, error) {
	opts.Timeouts = opts.Timeouts.withDefaults()
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if !printableWord(opts.Hostname) {
		return nil, Temp("EHLO hostname %q is not a valid name", opts.Hostname),
			fmt.Errorf("delivery: EHLO hostname %q is not a valid name", opts.Hostname)
	}
	if _, err := netip.ParseAddrPort(addr); err != nil {
		return nil, Temp("cannot connect to %q: not an IP address and port", addr),
			fmt.Errorf("delivery: connect to %q: not an IP address and port: %w", addr, err)
	}
	d := net.Dialer{Timeout: opts.Timeouts.Connect}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, connectFailure(ctx, addr, err), fmt.Errorf("delivery: connect to %s: %w", addr, err)
	}
	c := &Conn{
		opts: opts,
		host: strings.ToLower(strings.TrimSuffix(mxHost, ".")),
		addr: addr,
		nc:   nc,
		r:    bufio.NewReaderSize(nc, 4096),
	}
	stop := c.watch(ctx)
	res, err := c.open()
	if serr := stop(); err == nil && serr != nil {
		res, err = tempEnh(enhBadConn, "delivery stopped after EHLO: %v", ctx.Err()), serr
	}
	if err != nil {
		c.Close()
		return nil, res, err
	}
	return c, res, nil
}

// connectFailure describes a failed TCP connect.
func connectFailure(ctx context.Context, addr string, err error) Result {
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return tempEnh(enhNoAnswer, "delivery stopped connecting to %s: %v", addr, ctx.Err())
	case errors.Is(err, syscall.ECONNREFUSED):
		return tempEnh(enhNoAnswer, "connection refused by %s", addr)
	case errors.As(err, &ne) && ne.Timeout():
		return tempEnh(enhNoAnswer, "connection timed out connecting to %s", addr)
	}
	return tempEnh(enhNoAnswer, "cannot connect to %s: %v", addr, err)
}

// open runs the greeting, EHLO and STARTTLS.
func (c *Conn) open() (Result, error) {
	t := c.opts.Timeouts
	rep, err := c.readReply(t.Greeting)
	if err != nil {
		return c.fail(err, "reading the greeting")
	}
	if rep.Code != 220 {
		return c.refused(rep, "greeting")
	}
	res, err := c.hello()
	if err != nil {
		return res, err
	}
	if _, ok := c.ext["STARTTLS"]; !ok {
		if c.opts.RequireTLS {
			return c.needTLS("%s does not offer STARTTLS", c.host)
		}
		return res, nil
	}
	return c.startTLS(res)
}

// hello says EHLO, or HELO when EHLO is not known (RFC 5321 §4.1.1.1),
// and records the extensions.
func (c *Conn) hello() (Result, error) {
	t := c.opts.Timeouts
	if err := c.write([]byte("EHLO "+c.opts.Hostname+"\r\n"), t.Mail); err != nil {
		return c.fail(err, "writing EHLO")
	}
	rep, err := c.readReply(t.Mail)
	if err != nil {
		return c.fail(err, "reading the reply to EHLO")
	}
	if rep.Code == 250 {
		c.ext = parseExtensions(rep.Lines)
		return rep.result(), nil
	}
	if rep.Code != 500 && rep.Code != 502 {
		return c.refused(rep, "EHLO")
	}
	if err := c.write([]byte("HELO "+c.opts.Hostname+"\r\n"), t.Mail); err != nil {
		return c.fail(err, "writing HELO")
	}
	rep, err = c.readReply(t.Mail)
	if err != nil {
		return c.fail(err, "reading the reply to HELO")
	}
	if rep.Code != 250 {
		return c.refused(rep, "HELO")
	}
	c.ext = map[string]string{}
	return rep.result(), nil
}

// parseExtensions reads an EHLO reply (RFC 5321 §4.1.1.1): after the
// first line, one extension keyword per line, maybe with parameters.
// Keywords are upper-cased.
func parseExtensions(lines []string) map[string]string {
	ext := map[string]string{}
	for _, l := range lines[1:] {
		if len(l) <= 4 {
			continue
		}
		kw, params, _ := strings.Cut(strings.TrimSpace(l[4:]), " ")
		if kw != "" {
			ext[strings.ToUpper(kw)] = strings.TrimSpace(params)
		}
	}
	return ext
}

// startTLS upgrades the connection (RFC 3207) and says EHLO again. A
// refused STARTTLS leaves the connection in clear text, unless TLS is
// required, and Dial's result the reply to the first EHLO, hello; a
// failed handshake loses the connection.
func (c *Conn) startTLS(hello Result) (Result, error) {
	t := c.opts.Timeouts
	if err := c.write([]byte("STARTTLS\r\n"), t.Mail); err != nil {
		return c.fail(err, "writing STARTTLS")
	}
	rep, err := c.readReply(t.Mail)
	if err != nil {
		return c.fail(err, "reading the reply to STARTTLS")
	}
	if rep.Code != 220 {
		if rep.Code == 421 || rep.Code/100 == 2 || rep.Code/100 == 3 {
			return c.refused(rep, "STARTTLS")
		}
		if c.opts.RequireTLS {
			return c.needTLS("%s refused STARTTLS: %s", c.host, rep.result().Line)
		}
		return hello, nil // stay in clear text, with the extensions we have
	}
	// Anything the server sent after its 220 came before TLS, in clear:
	// taking it as part of the encrypted dialogue is the STARTTLS
	// response injection attack (CVE-2011-0411 and its kin).
	if c.r.Buffered() > 0 {
		return c.fail(protoErr("data after the reply to STARTTLS, before TLS"), "starting TLS")
	}
	cfg := c.tlsConfig()
	tc := tls.Client(c.nc, cfg)
	c.setDeadline(t.Mail)
	if err := tc.Handshake(); err != nil {
		if c.ctxErr() != nil || isTimeout(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return c.fail(err, "during the TLS handshake with "+c.host)
		}
		c.broken = err
		return tempEnh(enhTempSecurity, "TLS handshake with %s failed: %v", c.host, err),
			fmt.Errorf("delivery: TLS handshake with %s: %w", c.host, err)
	}
	c.mu.Lock()
	c.nc = tc
	c.mu.Unlock()
	c.r = bufio.NewReaderSize(tc, 4096)
	cs := tc.ConnectionState()
	c.tls = TLSInfo{Used: true, Version: tlsVersion(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite)}
	if err := verifyPeer(cs, cfg, c.host); err != nil {
		c.tls.VerifyError = err.Error()
	} else {
		c.tls.Verified = true
	}
	return c.hello()
}

// tlsConfig returns the STARTTLS configuration: the caller's, or
// Postern's defaults, with verification left to verifyPeer.
func (c *Conn) tlsConfig() *tls.Config {
	cfg := &tls.Config{}
	if c.opts.TLS != nil {
		cfg = c.opts.TLS.Clone()
	}
	cfg.ServerName = c.host
	// Checked by verifyPeer after the handshake: an MX certificate that
	// does not verify still gives encryption, and the fact is recorded.
	cfg.InsecureSkipVerify = true
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = tlsconf.CipherSuites
	}
	return cfg
}

// verifyPeer checks the server's certificate chain against cfg.RootCAs
// (the system roots when nil) and the host name.
func verifyPeer(cs tls.ConnectionState, cfg *tls.Config, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	opts := x509.VerifyOptions{
		DNSName:       host,
		Roots:         cfg.RootCAs,
		Intermediates: x509.NewCertPool(),
	}
	if cfg.Time != nil {
		opts.CurrentTime = cfg.Time()
	}
	for _, ic := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLS1.3"
	case tls.VersionTLS12:
		return "TLS1.2"
	case tls.VersionTLS11:
		return "TLS1.1"
	case tls.VersionTLS10:
		return "TLS1.0"
	}
	return fmt.Sprintf("0x%04x", v)
}

// TLS describes the connection's TLS.
func (c *Conn) TLS() TLSInfo { return c.tls }

// Extensions returns the extensions of the last EHLO reply, keywords
// upper-cased, each with its parameters ("" when none): "SIZE" →
// "10240000", "PIPELINING" → "".
func (c *Conn) Extensions() map[string]string {
	m := make(map[string]string, len(c.ext))
	for k, v := range c.ext {
		m[k] = v
	}
	return m
}

// Close says QUIT, waiting at most Timeouts.Quit for the reply, and closes
// the connection. A connection that was lost is just closed.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.broken == nil {
		c.ctx = context.Background()
		if c.write([]byte("QUIT\r\n"), c.opts.Timeouts.Quit) == nil {
			c.readReply(c.opts.Timeouts.Quit) // the reply changes nothing
		}
		c.broken = errors.New("connection closed")
	}
	return c.nc.Close()
}

// watch makes the end of ctx interrupt the connection's I/O until stop is
// called. When ctx ended before stop, the connection's deadlines are in
// the past for good: stop marks it lost and returns the error.
func (c *Conn) watch(ctx context.Context) (stop func() error) {
	c.ctx = ctx
	s := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.cancelled = true
		c.nc.SetDeadline(time.Unix(1, 0))
	})
	return func() error {
		if s() {
			return nil
		}
		if c.broken == nil {
			c.broken = fmt.Errorf("delivery: %s: %w", c.addr, ctx.Err())
		}
		return c.broken
	}
}

// ctxErr is the error of the call's context, nil while it runs.
func (c *Conn) ctxErr() error {
	if c.ctx == nil {
		return nil
	}
	return c.ctx.Err()
}

// setDeadline gives the next reads and writes d, or less when the call's
// context ends sooner.
func (c *Conn) setDeadline(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelled {
		return
	}
	t := time.Now().Add(d)
	if c.ctx != nil {
		if dl, ok := c.ctx.Deadline(); ok && dl.Before(t) {
			t = dl
		}
	}
	c.nc.SetDeadline(t)
}

// write sends p in one write, within d.
func (c *Conn) write(p []byte, d time.Duration) error {
	c.setDeadline(d)
	_, err := c.nc.Write(p)
	return err
}

// readReply reads one reply within d.
func (c *Conn) readReply(d time.Duration) (reply, error) {
	c.setDeadline(d)
	return parseReply(c.r)
}

// fail marks the connection lost because of err, which happened while
// doing what doing says, and describes it as a temporary Result.
func (c *Conn) fail(err error, doing string) (Result, error) {
	if c.broken == nil {
		c.broken = err
	}
	var res Result
	var pe *protocolError
	switch {
	case errors.As(err, &pe):
		res = tempEnh(enhProtocol, "protocol error: %s (%s)", pe.msg, doing)
	case c.ctxErr() != nil:
		res = tempEnh(enhBadConn, "delivery stopped %s: %v", doing, c.ctxErr())
	case isTimeout(err):
		res = tempEnh(enhBadConn, "connection timed out %s", doing)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET):
		res = tempEnh(enhBadConn, "connection closed by the server %s", doing)
	default:
		res = tempEnh(enhBadConn, "connection error %s: %v", doing, err)
	}
	return res, fmt.Errorf("delivery: %s %s: %w", c.addr, doing, err)
}

// refused turns an unwanted reply to a step of Dial into its Result and
// error. A reply of the wrong class is a protocol error; 421 means the
// server is closing the connection (RFC 5321 §3.8).
func (c *Conn) refused(rep reply, step string) (Result, error) {
	if rep.Code < 400 {
		return c.fail(protoErr("unexpected reply %d to %s", rep.Code, step), "reading the reply to "+step)
	}
	res := rep.result()
	if rep.Code == 421 {
		c.broken = errors.New("server closing the connection")
	}
	return res, fmt.Errorf("delivery: %s refused %s: %s", c.addr, step, res.Line)
}

// needTLS is the temporary failure when TLS is required and not had.
func (c *Conn) needTLS(format string, a ...any) (Result, error) {
	res := tempEnh(enhNeedTLS, "TLS required: "+format, a...)
	return res, fmt.Errorf("delivery: %s: %s", c.addr, res.Line)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// printableWord reports whether s is non-empty printable US-ASCII
// without spaces.
func printableWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
