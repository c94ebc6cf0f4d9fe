package submit_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/submit/submittest"
)

// fixture is a funnel over a real SQLite store and a real queue committer,
// with allow-all doubles for the controls a test does not replace.
type fixture struct {
	st     store.Store
	f      *submit.Funnel
	key    string
	client *submit.Client
}

var clientIP = netip.MustParseAddr("192.0.2.9")

func newFixture(t *testing.T, edit func(*submit.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/p.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	accts := &account.Service{Store: st, Rand: rand.Reader, Now: time.Now}
	if _, err := accts.CreateUser(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	key, _, err := accts.CreateKey(ctx, "acme", "t", []string{account.ScopeMailSend})
	if err != nil {
		t.Fatal(err)
	}
	q := queue.New(st, queue.Options{})
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); q.Run(qctx) }()
	t.Cleanup(func() { cancel(); <-done })
	cfg := submittest.Config(accts, q)
	if edit != nil {
		edit(&cfg)
	}
	f, err := submit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Authenticate(ctx, submit.Credentials{Username: account.Username, Password: key, ClientIP: clientIP})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, f: f, key: key, client: c}
}

// send runs one whole transaction.
func (fx *fixture) send(t *testing.T, from string, to []string, body string, o submit.CommitOptions) (submit.Receipt, error) {
	t.Helper()
	ctx := context.Background()
	tx, err := fx.f.Begin(ctx, fx.client, from, 0, submit.Origin{Helo: "client.test", With: "ESMTPSA"})
	if err != nil {
		return submit.Receipt{}, err
	}
	for _, r := range to {
		if err := tx.AddRecipient(ctx, r); err != nil {
			return submit.Receipt{}, err
		}
	}
	return tx.Commit(ctx, []byte(body), o)
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	_, err := submit.New(submit.Config{Hostname: "h", MaxMessageBytes: 1, MaxRecipients: 1})
	if err == nil {
		t.Fatal("New accepted a config without dependencies")
	}
	for _, name := range []string{"Abuse", "Accounts", "Identity", "Lockout", "Queue", "Quota", "Scanner", "Signer"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

const plainMsg = "From: app@example.test\r\nTo: user@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"

// Header hygiene: what a client may not supply never reaches the queue,
// and Postern's own X-Originating-IP is the only one, or none when the
// user opted out.
func TestHeaderHygiene(t *testing.T) {
	forged := "X-Originating-IP: [10.6.6.6]\r\n" +
		"Authentication-Results: mx.postern.test; dkim=pass header.d=bank.test\r\n" +
		"Authentication-Results: other.test; spf=pass\r\n" +
		"X-Spam-Status: No, score=-100\r\nX-Spam: No\r\nX-Rspamd-Score: -50\r\n" +
		"X-SMTPAPI: {\"category\": [\"newsletter\"], \"unique_args\": {\"customer\": \"42\"}}\r\n" +
		plainMsg
	for _, hide := range []bool{false, true} {
		fx := newFixture(t, nil)
		if hide {
			if err := fx.st.SetHideOriginatingIP(context.Background(), "acme", true); err != nil {
				t.Fatal(err)
			}
			// The opt-out is read when the transaction begins.
		}
		rc, err := fx.send(t, "app@example.test", []string{"user@example.test"}, forged, submit.CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		body, err := fx.st.MessageBody(context.Background(), rc.ID)
		if err != nil {
			t.Fatal(err)
		}
		h, err := message.ParseHeader(body)
		if err != nil {
			t.Fatal(err)
		}
		ips := h.Values("X-Originating-IP")
		switch {
		case hide && len(ips) != 0:
			t.Errorf("opted out: X-Originating-IP %q, want none", ips)
		case !hide && (len(ips) != 1 || ips[0] != "[192.0.2.9]"):
			t.Errorf("X-Originating-IP %q, want only [192.0.2.9]", ips)
		}
		if ar := h.Values("Authentication-Results"); len(ar) != 1 || !strings.HasPrefix(ar[0], "other.test") {
			t.Errorf("Authentication-Results %q, want only other.test's", ar)
		}
		for _, name := range []string{"X-Spam-Status", "X-Spam", "X-Rspamd-Score", "X-SMTPAPI"} {
			if h.Has(name) {
				t.Errorf("client's %s survived", name)
			}
		}
		m, err := fx.st.Message(context.Background(), rc.ID)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Categories []string          `json:"categories"`
			CustomArgs map[string]string `json:"custom_args"`
		}
		if err := json.Unmarshal([]byte(m.Meta), &meta); err != nil {
			t.Fatalf("meta %q: %v", m.Meta, err)
		}
		if len(meta.Categories) != 1 || meta.Categories[0] != "newsletter" || meta.CustomArgs["customer"] != "42" {
			t.Errorf("meta %q, want the X-SMTPAPI category and unique arg", m.Meta)
		}
	}
}

func TestMalformedSMTPAPIRefused(t *testing.T) {
	fx := newFixture(t, nil)
	_, err := fx.send(t, "app@example.test", []string{"user@example.test"}, "X-SMTPAPI: {not json\r\n"+plainMsg, submit.CommitOptions{})
	if r := submit.AsRefusal(err); r == nil || r.Reason != submit.ReasonBadSMTPAPI || r.Temporary {
		t.Fatalf("err %v, want a permanent bad_smtpapi refusal", err)
	}
}

// refusingQuota refuses at Reserve only, and records whether it was asked.
type refusingQuota struct {
	submittest.NoLimits
	reserved *bool
}

func (q refusingQuota) Reserve(context.Context, account.Principal, int, time.Time) (ratelimit.Decision, ratelimit.Reservation, error) {
	*q.reserved = true
	return ratelimit.Decision{Reason: "user acme: 1 message per hour", RetryAfter: time.Minute}, ratelimit.Reservation{}, nil
}

// signerSpy fails the test when asked to sign.
type signerSpy struct{ called *bool }

func (s signerSpy) Sign(_ context.Context, _ account.Principal, msg []byte, _ message.Header) ([]byte, string, error) {
	*s.called = true
	return msg, "", nil
}

// Quota is reserved before the signature is made: a message over its
// limit costs no RSA operation and no scan.
func TestQuotaBeforeSignature(t *testing.T) {
	var reserved, signed, scanned bool
	fx := newFixture(t, func(c *submit.Config) {
		c.Quota = refusingQuota{reserved: &reserved}
		c.Signer = signerSpy{called: &signed}
		c.Scanner = scanSpy{called: &scanned}
	})
	_, err := fx.send(t, "app@example.test", []string{"user@example.test"}, plainMsg, submit.CommitOptions{})
	r := submit.AsRefusal(err)
	if r == nil || r.Reason != submit.ReasonRateLimited || !r.Temporary || r.RetryAt.IsZero() {
		t.Fatalf("err %v, want a temporary rate_limited refusal with a retry time", err)
	}
	if !reserved || signed || scanned {
		t.Errorf("reserved=%v signed=%v scanned=%v, want reserved only", reserved, signed, scanned)
	}
	if msgs, _ := fx.st.Messages(context.Background()); len(msgs) != 0 {
		t.Errorf("%d messages queued", len(msgs))
	}
}

type scanSpy struct{ called *bool }

func (s scanSpy) Scan(context.Context, spamscan.Envelope, []byte) (spamscan.Verdict, error) {
	*s.called = true
	return spamscan.Verdict{Action: spamscan.ActionAddHeader, Score: 6, Symbols: []string{"A", "B"},
		Headers: map[string]string{"X-Spam-Status": "Yes, score=6.00", "X-Spam-Score": "6.00", "X-Spam": "Yes"}}, nil
}

// Scanner headers are added in the order of their names.
func TestScannerHeadersStableOrder(t *testing.T) {
	var scanned bool
	fx := newFixture(t, func(c *submit.Config) { c.Scanner = scanSpy{called: &scanned} })
	rc, err := fx.send(t, "app@example.test", []string{"user@example.test"}, plainMsg, submit.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := fx.st.MessageBody(context.Background(), rc.ID)
	h, err := message.ParseHeader(body)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range h.Fields[:3] {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "X-Spam,X-Spam-Score,X-Spam-Status" {
		t.Errorf("first fields %v, want the scanner's in name order", names)
	}
}

// Duplicate recipients are collapsed: one copy is queued.
func TestDuplicateRecipientsCollapsed(t *testing.T) {
	fx := newFixture(t, nil)
	rc, err := fx.send(t, "app@example.test", []string{"a@example.test", "A@Example.test", "b@example.test", "a@example.test"}, plainMsg, submit.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := fx.st.Message(context.Background(), rc.ID)
	if strings.Join(m.Recipients, ",") != "a@example.test,b@example.test" {
		t.Errorf("recipients %v", m.Recipients)
	}
}

func TestRecipientLimitAndSyntax(t *testing.T) {
	fx := newFixture(t, nil)
	_, err := fx.send(t, "app@example.test", []string{"1@x.test", "2@x.test", "3@x.test", "4@x.test", "5@x.test", "6@x.test"}, plainMsg, submit.CommitOptions{})
	if r := submit.AsRefusal(err); r == nil || r.Reason != submit.ReasonTooManyRecipients {
		t.Errorf("six recipients: %v", err)
	}
	_, err = fx.send(t, "app@example.test", []string{"a\x1b[31m@x.test"}, plainMsg, submit.CommitOptions{})
	if r := submit.AsRefusal(err); r == nil || r.Reason != submit.ReasonRecipientSyntax {
		t.Errorf("escape in a recipient: %v", err)
	}
	_, err = fx.send(t, "", []string{"a@x.test"}, plainMsg, submit.CommitOptions{})
	if r := submit.AsRefusal(err); r == nil || r.Reason != submit.ReasonNullSender {
		t.Errorf("null sender: %v", err)
	}
}

// Sandbox: every check runs, nothing is stored.
func TestDryRunStoresNothing(t *testing.T) {
	fx := newFixture(t, nil)
	rc, err := fx.send(t, "app@example.test", []string{"a@example.test"}, plainMsg, submit.CommitOptions{DryRun: true})
	if err != nil || rc.ID == "" {
		t.Fatalf("dry run: %+v %v", rc, err)
	}
	if msgs, _ := fx.st.Messages(context.Background()); len(msgs) != 0 {
		t.Errorf("dry run queued %d messages", len(msgs))
	}
	_, err = fx.send(t, "app@example.test", []string{"a@example.test"}, "From: a@b.test\nbare LF\r\n\r\n", submit.CommitOptions{DryRun: true})
	if r := submit.AsRefusal(err); r == nil || r.Reason != submit.ReasonLineEndings {
		t.Errorf("dry run of a bare LF: %v", err)
	}
}

// send_at holds the message until then; more than 72 h ahead is refused.
func TestSendAt(t *testing.T) {
	fx := newFixture(t, nil)
	at := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	rc, err := fx.send(t, "app@example.test", []string{"a@example.test"},
		"X-SMTPAPI: {\"send_at\": "+itoa(at.Unix())+"}\r\n"+plainMsg, submit.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rc.NotBefore.Equal(at) || rc.Held {
		t.Errorf("receipt %+v, want not before %v", rc, at)
	}
	_, err = fx.send(t, "app@example.test", []string{"a@example.test"},
		"X-SMTPAPI: {\"send_at\": "+itoa(time.Now().Add(73*time.Hour).Unix())+"}\r\n"+plainMsg, submit.CommitOptions{})
	if r := submit.AsRefusal(err); r == nil || r.Reason != submit.ReasonSendAt {
		t.Errorf("73 h ahead: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A key revoked after Authenticate begins nothing more.
func TestBeginRechecksKey(t *testing.T) {
	fx := newFixture(t, nil)
	if err := fx.st.RevokeAPIKey(context.Background(), fx.client.Key().ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := fx.send(t, "app@example.test", []string{"a@example.test"}, plainMsg, submit.CommitOptions{})
	if r := submit.AsRefusal(err); r == nil || r.Reason != submit.ReasonRevoked {
		t.Fatalf("revoked key: %v", err)
	}
}

// A store failure is an internal error, not a refusal: no text of it is
// meant for the client.
func TestInternalErrorIsNotARefusal(t *testing.T) {
	fx := newFixture(t, func(c *submit.Config) { c.Queue = failingQueue{} })
	_, err := fx.send(t, "app@example.test", []string{"a@example.test"}, plainMsg, submit.CommitOptions{})
	if err == nil || submit.AsRefusal(err) != nil {
		t.Fatalf("err %v, want an internal error", err)
	}
}

type failingQueue struct{}

func (failingQueue) Enqueue(context.Context, store.NewMessage) error {
	return errors.New("disk I/O error at /var/lib/postern/postern.db")
}

func TestNoticesPrepare(t *testing.T) {
	n := submit.Notices{Hostname: "mx.postern.test"}
	m, err := n.Prepare(submit.Notice{UserID: 1, To: "app@example.test",
		Body: []byte("From: Postern <no-reply@mx.postern.test>\r\nTo: <app@example.test>\r\nSubject: s\r\nX-Originating-IP: [10.0.0.1]\r\n\r\nbody\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	h, err := message.ParseHeader(m.Body)
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "" || !h.Has("Date") || !h.Has("Message-ID") || h.Has("X-Originating-IP") || m.ID == "" {
		t.Errorf("notice %+v\n%s", m, m.Body)
	}
	if _, err := n.Prepare(submit.Notice{To: "a@b.test", Body: []byte("Subject: x\n\nbare LF\n")}); err == nil {
		t.Error("a notice with bare LFs was prepared")
	}
}
