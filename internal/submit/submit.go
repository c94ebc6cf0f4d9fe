package submit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
)

// Accounts checks API keys (internal/account.Service).
type Accounts interface {
	Authenticate(ctx context.Context, username, password string) (store.APIKey, error)
	// AuthenticateFor checks a key for scope, or for none with "".
	AuthenticateFor(ctx context.Context, username, password, scope string) (store.APIKey, error)
	// Admit checks suspension and IP access rules for a key used from ip.
	Admit(ctx context.Context, key store.APIKey, ip netip.Addr) (account.Principal, error)
	Recheck(ctx context.Context, keyID string) (store.APIKey, error)
}

// Lockout refuses clients that failed to authenticate too often
// (internal/lockout.Tracker).
type Lockout interface {
	Check(ip netip.Addr, keyID string, now time.Time) (locked bool, until time.Time)
	Fail(ip netip.Addr, keyID string, now time.Time) (lockedNow bool, until time.Time)
	Succeed(ip netip.Addr, keyID string, now time.Time)
}

// Identity checks sender identities (internal/identity.Signer). Its
// refusals wrap identity.ErrUnverified or are identity.ErrOneFrom.
type Identity interface {
	CheckAddress(ctx context.Context, p account.Principal, what, addr string) error
	CheckHeaders(ctx context.Context, p account.Principal, h message.Header) error
}

// Signer DKIM-signs a message for the principal's verified From domain and
// says which domain it signed for ("" when none) (internal/identity.Signer).
type Signer interface {
	Sign(ctx context.Context, p account.Principal, msg []byte, h message.Header) ([]byte, string, error)
}

// Quota decides rate limits: Check counts nothing, Reserve counts the
// message (internal/quota.Service).
type Quota interface {
	Check(ctx context.Context, p account.Principal, now time.Time) (ratelimit.Decision, error)
	Reserve(ctx context.Context, p account.Principal, rcpts int, now time.Time) (ratelimit.Decision, ratelimit.Reservation, error)
}

// SpamCounter counts a user's spam rejections toward automatic suspension
// and returns the suspension reason when it suspended (internal/abuse.Watch).
type SpamCounter interface {
	SpamRejected(ctx context.Context, user string, now time.Time) (string, error)
}

// Enqueuer stores an accepted message durably and returns only once it is
// synced (internal/queue.Queue).
type Enqueuer interface {
	Enqueue(ctx context.Context, m store.NewMessage) error
}

// Config configures the funnel. Every dependency is required: New refuses
// a nil one, so no control is skipped by leaving a field unset; a test
// that does not exercise a control passes an explicit allow-all double.
type Config struct {
	// Hostname names Postern in Received, Message-ID and the
	// Authentication-Results it owns.
	Hostname string
	// MaxMessageBytes and MaxRecipients bound a message; both > 0.
	MaxMessageBytes int64
	MaxRecipients   int
	// AuthFailureDelay: a failed authentication is answered this long
	// after it began, whatever the cause.
	AuthFailureDelay time.Duration

	Accounts Accounts
	Lockout  Lockout
	Identity Identity
	Quota    Quota
	Scanner  spamscan.Scanner
	Abuse    SpamCounter
	Signer   Signer
	Queue    Enqueuer
	// ListUnsubscribe makes the one-click unsubscribe URLs of users who
	// have list_unsubscribe on.
	ListUnsubscribe ListUnsubscribe

	// Metrics counts authentication failures, lockouts, submissions and
	// rate-limit refusals; MailLog gets a queued line per message. Nil:
	// nothing is counted or logged there (app always passes both).
	Metrics *observe.Metrics
	MailLog *observe.MailLog

	Logger *slog.Logger          // nil: discard
	Now    func() time.Time      // nil: time.Now
	Rand   io.Reader             // nil: crypto/rand
	Sleep  func(d time.Duration) // nil: time.Sleep (pacing failed authentications)
}

// Funnel is the one submission path. It is safe for concurrent use.
type Funnel struct {
	cfg Config
}

// New checks cfg and returns the funnel.
func New(cfg Config) (*Funnel, error) {
	var missing []string
	for name, nilDep := range map[string]bool{
		"Accounts": cfg.Accounts == nil, "Lockout": cfg.Lockout == nil, "Identity": cfg.Identity == nil,
		"Quota": cfg.Quota == nil, "Scanner": cfg.Scanner == nil, "Abuse": cfg.Abuse == nil,
		"Signer": cfg.Signer == nil, "Queue": cfg.Queue == nil, "ListUnsubscribe": cfg.ListUnsubscribe == nil,
	} {
		if nilDep {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("submit: missing dependencies %v", missing)
	}
	if cfg.Hostname == "" || cfg.MaxMessageBytes <= 0 || cfg.MaxRecipients <= 0 {
		return nil, errors.New("submit: Hostname, MaxMessageBytes and MaxRecipients are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Sleep == nil {
		cfg.Sleep = time.Sleep
	}
	return &Funnel{cfg: cfg}, nil
}

// Credentials are what a client presented.
type Credentials struct {
	Authzid  string // SASL authorization identity; "" when none
	Username string // "apikey"; the HTTP API passes account.Username
	Password string // the API key; never logged
	ClientIP netip.Addr
	// Session is the way in's id for the connection or request, logged
	// with every line the funnel writes about it.
	Session string
	// Listener names the way in for the metrics: the SMTP listener's
	// mode ("submission", "submissions", "mx"); "" is the HTTP API.
	Listener string
	// AnyScope admits a valid key whatever its scopes (the management
	// API, which checks each endpoint's scope); otherwise the key must
	// hold mail.send. Lockout, pacing, suspension and IP rules apply
	// either way.
	AnyScope bool
}

// Client is an authenticated client: the key, whom it acts for, and where
// it connects from.
type Client struct {
	Principal account.Principal
	IP        netip.Addr
	Session   string
}

// Key is the client's API key record (never the secret).
func (c *Client) Key() store.APIKey { return c.Principal.Key }

// Authenticate checks the credentials: lockout first, then the key
// (constant-time, internal/account), then suspension and IP access. A
// failure is a *Refusal, answered AuthFailureDelay after the call began;
// wrong credentials count toward the client's lockout, a valid key refused
// by policy does not. Other errors are internal.
func (f *Funnel) Authenticate(ctx context.Context, cr Credentials) (*Client, error) {
	// Lockout and pacing run on the wall clock, not the injected one.
	start := time.Now()
	log := f.cfg.Logger.With("session", cr.Session, "ip", cr.ClientIP.String())
	logUser := cr.Username
	if logUser != account.Username {
		logUser = "<other>" // a username may be a misplaced secret
	}
	keyID, _ := account.ParseKey(cr.Password)
	if locked, until := f.cfg.Lockout.Check(cr.ClientIP, keyID, start); locked {
		log.Info("auth failed", "user", logUser, "key_id", keyID, "reason", "locked out", "until", until.UTC().Format(time.RFC3339))
		f.cfg.Metrics.AuthFailure(listenerOf(cr))
		f.pace(start)
		r := deferred(ReasonLockedOut, "Too many failed authentications from your address; try again after "+until.UTC().Format(time.RFC3339), until)
		return nil, r
	}
	c, r, counted, detail, err := f.authenticate(ctx, cr)
	if err != nil {
		return nil, err
	}
	if r == nil {
		log.Info("auth ok", "key_id", c.Key().ID, "user", c.Key().UserName)
		f.cfg.Lockout.Succeed(cr.ClientIP, c.Key().ID, time.Now())
		return c, nil
	}
	// One line per failure, with the client address first among the
	// fields that vary, for fail2ban; never the password. The detail is
	// the operator's, never the client's (a revoked key).
	fields := []any{"user", logUser, "key_id", keyID, "reason", string(r.Reason)}
	if detail != "" {
		fields = append(fields, "detail", detail)
	}
	log.Info("auth failed", fields...)
	f.cfg.Metrics.AuthFailure(listenerOf(cr))
	if counted {
		if locked, until := f.cfg.Lockout.Fail(cr.ClientIP, keyID, time.Now()); locked {
			log.Warn("auth lockout", "until", until.UTC().Format(time.RFC3339))
			f.cfg.Metrics.AuthLockout()
		}
	}
	f.pace(start)
	return nil, r
}

// pace delays a failure so that every failed authentication takes the
// same time from its start, whatever the cause.
func (f *Funnel) pace(start time.Time) {
	if d := lockout.Pace(start, f.cfg.AuthFailureDelay); d > 0 {
		f.cfg.Sleep(d)
	}
}

const (
	textBadCredentials = "Authentication failed: use the username apikey and an API key as the password"
	textNoScope        = "Authentication failed: this API key lacks the mail.send scope"
	textAuthzid        = "Authentication failed: the authorization identity must be empty or equal the username"
)

// authenticate returns the client, or the refusal, whether it counts
// toward a lockout and a detail for the log alone ("" for none), or an
// internal error.
func (f *Funnel) authenticate(ctx context.Context, cr Credentials) (*Client, *Refusal, bool, string, error) {
	if cr.Authzid != "" && cr.Authzid != cr.Username {
		return nil, refuse(ReasonAuthzid, textAuthzid), true, "", nil
	}
	scope := account.ScopeMailSend
	if cr.AnyScope {
		scope = ""
	}
	key, err := f.cfg.Accounts.AuthenticateFor(ctx, cr.Username, cr.Password, scope)
	switch {
	case err == nil:
	case errors.Is(err, account.ErrScope):
		return nil, refuse(ReasonNoScope, textNoScope), false, "", nil
	case errors.Is(err, account.ErrRevoked):
		// The client is told what a wrong key tells it; the log tells
		// the operator why a client that used to work stopped.
		return nil, refuse(ReasonBadCredentials, textBadCredentials), true, "revoked", nil
	case errors.Is(err, account.ErrUsername), errors.Is(err, account.ErrInvalidKey):
		return nil, refuse(ReasonBadCredentials, textBadCredentials), true, "", nil
	default:
		return nil, nil, false, "", fmt.Errorf("submit: authenticate: %w", err)
	}
	p, err := f.cfg.Accounts.Admit(ctx, key, cr.ClientIP)
	if err != nil {
		if r := admitRefusal(err, "Authentication refused: ", cr.ClientIP); r != nil {
			return nil, r, false, "", nil
		}
		return nil, nil, false, "", fmt.Errorf("submit: admit: %w", err)
	}
	return &Client{Principal: p, IP: cr.ClientIP, Session: cr.Session}, nil, false, "", nil
}

// admitRefusal is the refusal for a key that is valid but may not be used
// now, or nil when err is not such a refusal.
func admitRefusal(err error, prefix string, ip netip.Addr) *Refusal {
	switch {
	case errors.Is(err, account.ErrSuspended):
		return refuse(ReasonSuspended, prefix+"this account is suspended; contact the operator")
	case errors.Is(err, account.ErrIPNotAllowed):
		return refuse(ReasonIPNotAllowed, prefix+"your client address "+ip.String()+" is not allowed to use this API key")
	}
	return nil
}

// recheck reloads the client's key and admits it again: a key revoked,
// stripped of mail.send, suspended or moved out of its IP rules since
// Authenticate starts nothing more.
func (f *Funnel) recheck(ctx context.Context, c *Client) error {
	key, err := f.cfg.Accounts.Recheck(ctx, c.Key().ID)
	switch {
	case errors.Is(err, account.ErrRevoked):
		return refuse(ReasonRevoked, "The API key of this session has been revoked")
	case errors.Is(err, account.ErrScope):
		return refuse(ReasonNoScope, "This API key lacks the mail.send scope")
	case err != nil:
		return fmt.Errorf("submit: recheck key: %w", err)
	}
	p, err := f.cfg.Accounts.Admit(ctx, key, c.IP)
	if err != nil {
		if r := admitRefusal(err, "", c.IP); r != nil {
			return r
		}
		return fmt.Errorf("submit: admit key: %w", err)
	}
	c.Principal = p
	return nil
}
