package testenv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/tlsconf"
)

// SinkHost is the name the sink greets with and its certificate is for
// (with localhost and 127.0.0.1).
const SinkHost = "mx.sink.test"

// SinkStage names a point of the SMTP dialogue: the greeting, or the
// reply to a command.
type SinkStage string

// The stages a SinkAction can act at.
const (
	StageGreeting SinkStage = "greeting"
	StageEHLO     SinkStage = "EHLO"
	StageHELO     SinkStage = "HELO"
	StageSTARTTLS SinkStage = "STARTTLS"
	StageMail     SinkStage = "MAIL"
	StageRcpt     SinkStage = "RCPT"
	StageData     SinkStage = "DATA"    // the reply to DATA itself (354)
	StageDataEnd  SinkStage = "DATAEND" // the reply after the final dot
	StageRset     SinkStage = "RSET"
	StageQuit     SinkStage = "QUIT"
	stageOther    SinkStage = "other"
)

// SinkAction changes, on the wire, what the sink does at a stage, whatever
// go-smtp would have replied. At most one of Hang and Reply makes sense.
type SinkAction struct {
	Hang  bool   // never reply; the connection stays open until the sink is closed
	Reply string // these bytes instead of the reply, as they are (garbage, a 554 greeting…)
	Close bool   // close the connection, after Reply if any, else instead of the reply
}

// SinkReply scripts the sink's answer to MAIL, to a RCPT or to the end of
// DATA.
type SinkReply struct {
	// Err is the refusal; nil accepts. A Message with "\n" in it makes a
	// multi-line reply (the enhanced code goes on the last line).
	Err *smtp.SMTPError
	// Times limits the refusal to the first Times attempts (counted over
	// the sink's life), after which the sink accepts; 0 refuses always.
	Times int
}

// SinkOptions script a sink. They must not change after StartSink.
//
// go-smtp always advertises PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES,
// CHUNKING and SIZE: the sink removes from its EHLO replies, on the wire,
// the keywords listed in Hide. SMTPUTF8 and STARTTLS are go-smtp's own
// switches.
type SinkOptions struct {
	Listen     string   // loopback address to listen on; default "127.0.0.1:0" ("[::1]:0" for IPv6)
	NoSTARTTLS bool     // do not offer STARTTLS
	BreakTLS   bool     // accept STARTTLS, then answer the ClientHello with half a TLS record and close
	Hide       []string // EHLO keywords not to advertise, e.g. "PIPELINING", "8BITMIME", "SIZE"
	SMTPUTF8   bool     // advertise and accept SMTPUTF8
	MaxSize    int64    // advertise "SIZE n" and refuse larger messages; 0: plain "SIZE"

	Mail SinkReply            // the reply to every MAIL
	Rcpt map[string]SinkReply // the reply to RCPT, by address as received; others are accepted
	Data SinkReply            // the reply after the final dot

	At map[SinkStage]SinkAction // raw misbehaviour at a stage
}

// SinkMessage is one message the sink accepted.
type SinkMessage struct {
	Conn int    // the connection it came on, from 1
	From string // reverse-path, "" for <>
	To   []string
	Body []byte // as received, dot-stuffing undone, CRLF kept
	TLS  bool   // STARTTLS was in force
	Opts smtp.MailOptions
}

// SinkCommand is one command line a client sent (message content is not
// recorded).
type SinkCommand struct {
	Conn  int    // connection number, from 1
	Line  string // without CRLF
	Batch int    // which read of the connection brought the line's end: commands written at once share it
}

// Sink is a receiving SMTP server on 127.0.0.1 for tests, built on
// go-smtp, with STARTTLS under an in-memory certificate. Between go-smtp
// and the socket sits a relay of its own that sees the plain dialogue
// (also under TLS, by ending the client's TLS itself and speaking TLS to
// go-smtp over a pipe): it records the commands, hides extensions and
// plays the SinkActions.
type Sink struct {
	Addr    string         // 127.0.0.1:port
	RootCAs *x509.CertPool // trusts the sink's certificate, for SinkHost

	opts   SinkOptions
	tlsCfg *tls.Config
	ln     net.Listener
	srv    *smtp.Server
	done   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    []*sinkConn
	messages []SinkMessage
	commands []SinkCommand
	attempts map[string]int
}

// StartSink starts a sink and closes it in t.Cleanup.
func StartSink(t testing.TB, opts SinkOptions) *Sink {
	t.Helper()
	cert, roots, err := sinkCertificate()
	if err != nil {
		t.Fatalf("sink: certificate: %v", err)
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("sink: listen: %v", err)
	}
	s := &Sink{
		Addr:     ln.Addr().String(),
		RootCAs:  roots,
		ln:       ln,
		opts:     opts,
		tlsCfg:   tlsconf.Server(cert),
		done:     make(chan struct{}),
		attempts: map[string]int{},
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = SinkHost
	s.srv.EnableSMTPUTF8 = opts.SMTPUTF8
	s.srv.MaxMessageBytes = opts.MaxSize
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	if !opts.NoSTARTTLS {
		s.srv.TLSConfig = s.tlsCfg
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(&sinkListener{Listener: ln, s: s})
	}()
	t.Cleanup(s.close)
	return s
}

// Messages returns the messages accepted so far, in order.
func (s *Sink) Messages() []SinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkMessage(nil), s.messages...)
}

// Commands returns the command lines received so far, in order.
func (s *Sink) Commands() []SinkCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkCommand(nil), s.commands...)
}

// Connections returns how many connections the sink has accepted.
func (s *Sink) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Sink) close() {
	close(s.done)
	s.mu.Lock()
	conns := append([]*sinkConn(nil), s.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.srv.Close()
	s.ln.Close() // in case Serve had not started yet
	s.wg.Wait()
}

// script counts an attempt at key and returns the scripted refusal, or nil.
func (s *Sink) script(key string, r SinkReply) error {
	s.mu.Lock()
	n := s.attempts[key]
	s.attempts[key] = n + 1
	s.mu.Unlock()
	if r.Err == nil || (r.Times > 0 && n >= r.Times) {
		return nil
	}
	return r.Err
}

func (s *Sink) newSession(c *smtp.Conn) (smtp.Session, error) {
	nc := c.Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	return &sinkSession{s: s, c: nc.(*sinkConn)}, nil
}

// sinkSession is go-smtp's side of one connection.
type sinkSession struct {
	s    *Sink
	c    *sinkConn
	from string
	opts smtp.MailOptions
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(from string, opts *smtp.MailOptions) error {
	if err := ss.s.script("mail", ss.s.opts.Mail); err != nil {
		return err
	}
	ss.from, ss.opts, ss.to = from, *opts, nil
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if r, ok := ss.s.opts.Rcpt[to]; ok {
		if err := ss.s.script("rcpt "+to, r); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.s.script("data", ss.s.opts.Data); err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.messages = append(ss.s.messages, SinkMessage{
		Conn: ss.c.n, From: ss.from, To: append([]string(nil), ss.to...),
		Body: body, TLS: ss.c.tlsUsed.Load(), Opts: ss.opts,
	})
	return nil
}

// sinkListener numbers the connections and puts the relay around each.
type sinkListener struct {
	net.Listener
	s *Sink
}

func (l *sinkListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &sinkConn{Conn: nc, s: l.s, closed: make(chan struct{})}
	l.s.mu.Lock()
	l.s.conns = append(l.s.conns, c)
	c.n = len(l.s.conns)
	l.s.mu.Unlock()
	return c, nil
}

// sinkConn is the connection go-smtp sees. Before STARTTLS it passes the
// socket's bytes, watching the client's and rewriting the server's. After
// go-smtp's 220 to STARTTLS it becomes one end of a pipe: a relay
// goroutine ends the client's TLS, speaks TLS to go-smtp over the pipe,
// and goes on watching and rewriting the plain text between the two.
type sinkConn struct {
	net.Conn // the TCP connection
	s        *Sink
	n        int
	tlsUsed  atomic.Bool
	closed   chan struct{}
	once     sync.Once

	mu      sync.Mutex
	inner   net.Conn // go-smtp's end of the pipe, after STARTTLS
	relay   net.Conn // the relay's end
	cbuf    []byte   // client bytes short of a line
	sbuf    []byte   // server bytes short of a line
	reply   []string // lines of the server reply being collected
	pending []SinkStage
	greeted bool
	inData  bool
	batch   int
}

func (c *sinkConn) piped() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inner
}

func (c *sinkConn) Read(p []byte) (int, error) {
	if in := c.piped(); in != nil {
		return in.Read(p)
	}
	n, err := c.Conn.Read(p)
	c.fromClient(p[:n])
	return n, err
}

func (c *sinkConn) Write(p []byte) (int, error) {
	if in := c.piped(); in != nil {
		return in.Write(p)
	}
	if err := c.fromServer(p, c.Conn); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *sinkConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.Conn.Close()
		c.mu.Lock()
		if c.inner != nil {
			c.inner.Close()
			c.relay.Close()
		}
		c.mu.Unlock()
	})
	return nil
}

// fromClient records the command lines in p and the stages they await.
func (c *sinkConn) fromClient(p []byte) {
	if len(p) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batch++
	c.cbuf = append(c.cbuf, p...)
	for {
		i := bytes.IndexByte(c.cbuf, '\n')
		if i < 0 {
			return
		}
		line := strings.TrimSuffix(string(c.cbuf[:i]), "\r")
		c.cbuf = c.cbuf[i+1:]
		if c.inData {
			if line == "." {
				c.inData = false
				c.pending = append(c.pending, StageDataEnd)
			}
			continue
		}
		c.s.mu.Lock()
		c.s.commands = append(c.s.commands, SinkCommand{Conn: c.n, Line: line, Batch: c.batch})
		c.s.mu.Unlock()
		c.pending = append(c.pending, sinkStageOf(line))
	}
}

func sinkStageOf(line string) SinkStage {
	verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
	switch verb {
	case "EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "DATA", "RSET", "QUIT":
		return SinkStage(verb)
	}
	return stageOther
}

// fromServer collects the server's reply lines from p and passes every
// complete reply to w, as the options say.
func (c *sinkConn) fromServer(p []byte, w io.Writer) error {
	c.mu.Lock()
	c.sbuf = append(c.sbuf, p...)
	var replies [][]string
	for {
		i := bytes.IndexByte(c.sbuf, '\n')
		if i < 0 {
			break
		}
		line := string(c.sbuf[:i+1])
		c.sbuf = c.sbuf[i+1:]
		c.reply = append(c.reply, line)
		if len(line) < 4 || line[3] != '-' {
			replies = append(replies, c.reply)
			c.reply = nil
		}
	}
	c.mu.Unlock()
	for _, r := range replies {
		if err := c.sendReply(r, w); err != nil {
			return err
		}
	}
	return nil
}

// sendReply writes one reply of go-smtp's, or what replaces it.
func (c *sinkConn) sendReply(lines []string, w io.Writer) error {
	c.mu.Lock()
	stage := StageGreeting
	if c.greeted {
		stage = stageOther
		if len(c.pending) > 0 {
			stage, c.pending = c.pending[0], c.pending[1:]
		}
	}
	c.greeted = true
	code := lines[0][:min(3, len(lines[0]))]
	if stage == StageData && code == "354" {
		c.inData = true // before the client can see the 354
	}
	c.mu.Unlock()

	act := c.s.opts.At[stage]
	if act.Hang {
		select {
		case <-c.closed:
		case <-c.s.done:
		}
		return net.ErrClosed
	}
	if act.Reply != "" {
		if _, err := io.WriteString(w, act.Reply); err != nil {
			return err
		}
	} else if !act.Close {
		if stage == StageEHLO && code == "250" {
			lines = c.hide(lines)
		}
		if _, err := io.WriteString(w, strings.Join(lines, "")); err != nil {
			return err
		}
	}
	if act.Close {
		c.Close()
		return net.ErrClosed
	}
	if stage == StageSTARTTLS && code == "220" && act.Reply == "" && w == c.Conn {
		return c.upgrade()
	}
	return nil
}

// hide removes the keywords of SinkOptions.Hide from an EHLO reply.
func (c *sinkConn) hide(lines []string) []string {
	if len(c.s.opts.Hide) == 0 {
		return lines
	}
	texts := []string{strings.TrimRight(lines[0][4:], "\r\n")}
	for _, l := range lines[1:] {
		text := strings.TrimRight(l[4:], "\r\n")
		kw, _, _ := strings.Cut(text, " ")
		hidden := false
		for _, h := range c.s.opts.Hide {
			hidden = hidden || strings.EqualFold(h, kw)
		}
		if !hidden {
			texts = append(texts, text)
		}
	}
	out := make([]string, len(texts))
	for i, t := range texts {
		sep := "-"
		if i == len(texts)-1 {
			sep = " "
		}
		out[i] = lines[0][:3] + sep + t + "\r\n"
	}
	return out
}

// upgrade runs when go-smtp has said 220 to STARTTLS: from now on go-smtp
// reads and writes a pipe, and a relay goroutine joins the pipe to the
// client's TLS.
func (c *sinkConn) upgrade() error {
	if c.s.opts.BreakTLS {
		c.breakTLS()
		return net.ErrClosed
	}
	inner, relay := net.Pipe()
	c.mu.Lock()
	c.inner, c.relay = inner, relay
	c.mu.Unlock()
	select {
	case <-c.closed: // closed meanwhile: Close did not see the pipe
		inner.Close()
		relay.Close()
		return net.ErrClosed
	default:
	}
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		defer c.Close()
		c.relayTLS(relay)
	}()
	return nil
}

func (c *sinkConn) relayTLS(relay net.Conn) {
	outer := tls.Server(c.Conn, c.s.tlsCfg)
	if err := outer.Handshake(); err != nil {
		return
	}
	c.tlsUsed.Store(true)
	toSMTP := tls.Client(relay, &tls.Config{InsecureSkipVerify: true}) // our own pipe
	if err := toSMTP.Handshake(); err != nil {
		return
	}
	c.s.wg.Add(1)
	go func() {
		defer c.s.wg.Done()
		defer c.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := outer.Read(buf)
			if n > 0 {
				c.fromClient(buf[:n])
				if _, err := toSMTP.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := toSMTP.Read(buf)
		if n > 0 {
			if c.fromServer(buf[:n], outer) != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// breakTLS reads the client's first TLS record (its ClientHello), answers
// with the first octets of a ServerHello record announcing more, and
// closes: the handshake breaks in the middle.
func (c *sinkConn) breakTLS() {
	defer c.Close()
	c.Conn.SetDeadline(time.Now().Add(10 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c.Conn, hdr); err != nil {
		return
	}
	if _, err := io.CopyN(io.Discard, c.Conn, int64(binary.BigEndian.Uint16(hdr[3:]))); err != nil {
		return
	}
	// Handshake record, TLS 1.2 framing, 122 octets announced, 6 sent:
	// ServerHello, 118 octets announced, version 3.3.
	c.Conn.Write([]byte{0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03})
}

// sinkCertificate makes a CA and a certificate it signs for SinkHost,
// localhost and 127.0.0.1, all in memory.
func sinkCertificate() (tls.Certificate, *x509.CertPool, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Postern test sink CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: SinkHost},
		DNSNames:     []string{SinkHost, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, roots, nil
}
