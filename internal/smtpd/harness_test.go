package smtpd_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/submit/submittest"
	"github.com/postern/postern/internal/testenv"
	"github.com/postern/postern/internal/tlsconf"
)

// env is a real server (real SQLite store, real queue committer, real TLS)
// on 127.0.0.1 ports, one per mode.
type env struct {
	t        testing.TB
	store    store.Store
	accounts *account.Service
	srv      *smtpd.Server
	addr     map[smtpd.Mode]string
	client   *tls.Config
	logs     *testenv.LogBuffer
	key      string // a valid mail.send key of user "acme"
	keyID    string
	stop     func()
}

type envOptions struct {
	maxBytes   int64
	maxRcpts   int
	maxErrors  int
	readTimout time.Duration
	enqueuer   submit.Enqueuer // replaces the real queue when set
	lockout    *lockout.Tracker
	conns      *lockout.Conns
	mxConns    *lockout.Conns
	lifetime   time.Duration // unauthenticated session lifetime
	idleCmds   int           // commands without mail before 421
	mxMaxBytes int64         // mail to return paths
	inflight   int64         // in-flight DATA budget
	authDelay  time.Duration
	now        func() time.Time
	quota      func(store.Store) submit.Quota
	scanner    spamscan.Scanner
	abuse      *abuse.Thresholds
	identity   bool   // enforce verified sender domains
	bounces    bool   // accept bounces for return paths on the MX port
	feedback   string // and feedback reports at this address (with bounces)

	// metrics, when set, are the server's and the funnel's.
	metrics *observe.Metrics
}

// testCodec keys the return paths of test servers.
var testCodec = returnpath.Codec{Key: []byte("smtpd test return-path key......"), Label: "pst-bounces", Lifetime: 30 * 24 * time.Hour}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir+"/postern.db")
	if err != nil {
		t.Fatal(err)
	}
	accts := &account.Service{Store: st, Rand: rand.Reader, Now: time.Now}
	if _, err := accts.CreateUser(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	key, rec, err := accts.CreateKey(ctx, "acme", "test", []string{account.ScopeMailSend})
	if err != nil {
		t.Fatal(err)
	}
	cert, _, _, err := tlsconf.Load("", "", dir, "mx.postern.test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	pool.AddCert(leaf)

	q := queue.New(st, queue.Options{})
	qctx, cancelQ := context.WithCancel(ctx)
	qdone := make(chan struct{})
	go func() { defer close(qdone); q.Run(qctx) }()
	var enq submit.Enqueuer = q
	if o.enqueuer != nil {
		enq = o.enqueuer
	}
	if o.maxBytes == 0 {
		o.maxBytes = 1 << 20
	}
	if o.maxRcpts == 0 {
		o.maxRcpts = 5
	}
	if o.maxErrors == 0 {
		o.maxErrors = 10
	}
	if o.readTimout == 0 {
		o.readTimout = 10 * time.Second
	}
	logs := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fc := submittest.Config(accts, enq)
	fc.MaxMessageBytes, fc.MaxRecipients, fc.AuthFailureDelay = o.maxBytes, o.maxRcpts, o.authDelay
	fc.Logger, fc.Now, fc.Metrics = log, o.now, o.metrics
	if o.lockout != nil {
		fc.Lockout = o.lockout
	}
	if o.quota != nil {
		fc.Quota = o.quota(st)
	}
	if o.scanner != nil {
		fc.Scanner = o.scanner
	}
	if o.abuse != nil {
		fc.Abuse = &abuse.Watch{T: *o.abuse, Store: st}
	}
	if o.identity {
		ids := &identity.Signer{Store: st}
		fc.Identity, fc.Signer = ids, ids
	}
	funnel, err := submit.New(fc)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := smtpd.New(smtpd.Config{
		Hostname:        "mx.postern.test",
		TLS:             tlsconf.Server(cert),
		MaxMessageBytes: o.maxBytes,
		MaxRecipients:   o.maxRcpts,
		ReadTimeout:     o.readTimout,
		WriteTimeout:    10 * time.Second,
		MaxErrors:       o.maxErrors,
		Funnel:          funnel,
		Conns:           o.conns,
		MXConns:         o.mxConns,

		UnauthenticatedLifetime: o.lifetime,
		MaxIdleCommands:         o.idleCmds,
		MXMaxMessageBytes:       o.mxMaxBytes,
		MaxInflightBytes:        o.inflight,
		Bounces:                 bouncesOf(o, st),
		Logger:                  log,
		Metrics:                 o.metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, accounts: accts, srv: srv, addr: map[smtpd.Mode]string{},
		client: &tls.Config{RootCAs: pool, ServerName: "mx.postern.test"}, logs: logs, key: key, keyID: rec.ID}
	var wg sync.WaitGroup
	for _, m := range []smtpd.Mode{smtpd.Submission, smtpd.Submissions, smtpd.MX} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.addr[m] = ln.Addr().String()
		wg.Add(1)
		go func() { defer wg.Done(); srv.Serve(ln, m) }()
	}
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			wg.Wait()
			cancelQ()
			<-qdone
			st.Close()
			// No secret ever reaches the log.
			if strings.Contains(logs.String(), e.key) {
				t.Errorf("log contains an API key")
			}
		})
	}
	t.Cleanup(e.stop)
	return e
}

// dial returns a go-smtp client: STARTTLS on the submission port, TLS from
// the start on the submissions port.
func (e *env) dial(mode smtpd.Mode) *smtp.Client {
	e.t.Helper()
	var c *smtp.Client
	var err error
	switch mode {
	case smtpd.Submissions:
		c, err = smtp.DialTLS(e.addr[mode], e.client)
	default:
		c, err = smtp.DialStartTLS(e.addr[mode], e.client)
	}
	if err != nil {
		e.t.Fatalf("dial %v: %v", mode, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) queued() []store.Message {
	e.t.Helper()
	msgs, err := e.store.Messages(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

func (e *env) wantQueueEmpty() {
	e.t.Helper()
	if n := len(e.queued()); n != 0 {
		e.t.Errorf("queue has %d messages, want none", n)
	}
}

// send runs one transaction and returns the 250 text of DATA.
func send(c *smtp.Client, from string, to []string, msg string) (string, error) {
	if err := c.Mail(from, nil); err != nil {
		return "", err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return "", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	return resp.StatusText, nil
}

// wantCode checks that err is an SMTP reply with the code and enhanced code.
func wantCode(t *testing.T, err error, code int, enh smtp.EnhancedCode) *smtp.SMTPError {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP reply %d %v", err, code, enh)
	}
	if se.Code != code || se.EnhancedCode != enh {
		t.Fatalf("got %d %v %q, want %d %v", se.Code, se.EnhancedCode, se.Message, code, enh)
	}
	return se
}

// raw is a line-level client for dialogues go-smtp's client will not write
// (bare LFs, pipelining, hand-made AUTH lines).
type raw struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// dialFrom opens an implicit-TLS go-smtp client from a chosen loopback
// source address (127.0.0.0/8 is all local on Linux).
func (e *env) dialFrom(src string) (*smtp.Client, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", e.addr[smtpd.Submissions], e.client)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	e.t.Cleanup(func() { c.Close() })
	return c, nil
}

// dialRaw opens an implicit-TLS connection and reads the greeting.
func (e *env) dialRaw(mode smtpd.Mode) *raw {
	e.t.Helper()
	var conn net.Conn
	var err error
	if mode == smtpd.Submissions {
		conn, err = tls.Dial("tcp", e.addr[mode], e.client)
	} else {
		conn, err = net.Dial("tcp", e.addr[mode])
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	r := &raw{t: e.t, conn: conn, r: bufio.NewReader(conn)}
	r.expect("220")
	return r
}

// starttls upgrades a plaintext raw connection.
func (r *raw) starttls(cfg *tls.Config) {
	r.t.Helper()
	r.cmd("EHLO client.test", "250")
	r.cmd("STARTTLS", "220")
	tc := tls.Client(r.conn, cfg)
	if err := tc.Handshake(); err != nil {
		r.t.Fatal(err)
	}
	r.conn = tc
	r.r = bufio.NewReader(tc)
}

// login does EHLO and AUTH PLAIN with the key.
func (r *raw) login(key string) {
	r.t.Helper()
	r.cmd("EHLO client.test", "250")
	r.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00apikey\x00"+key)), "235")
}

func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.conn, s); err != nil {
		r.t.Fatal(err)
	}
}

// reply reads one (possibly multi-line) reply and returns it whole.
func (r *raw) reply() string {
	r.t.Helper()
	r.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var all strings.Builder
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			r.t.Fatalf("read reply: %v (so far %q)", err, all.String())
		}
		all.WriteString(line)
		if len(line) < 4 || line[3] != '-' {
			return all.String()
		}
	}
}

func (r *raw) expect(prefix string) string {
	r.t.Helper()
	got := r.reply()
	if !strings.HasPrefix(got, prefix) {
		r.t.Fatalf("got %q, want %q...", got, prefix)
	}
	return got
}

func (r *raw) cmd(line, want string) string {
	r.t.Helper()
	r.send(line + "\r\n")
	return r.expect(want)
}

// closed reports whether the server closed the connection.
func (r *raw) closed() bool {
	r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := r.r.ReadByte()
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func plain(key string) sasl.Client { return sasl.NewPlainClient("", account.Username, key) }

const testMsg = "From: app@example.test\r\nTo: user@example.test\r\nSubject: hello\r\n\r\nHello there.\r\n"

func msgOfSize(n int) string {
	var b strings.Builder
	b.WriteString("Subject: big\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.String()
}

var _ = fmt.Sprintf

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func bouncesOf(o envOptions, st store.Store) smtpd.Bounces {
	if !o.bounces {
		return nil
	}
	return &bounce.Service{Store: st, Codec: testCodec, FeedbackAddress: o.feedback}
}
