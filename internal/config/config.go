package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// EnvConfigFile is the environment variable that names the config file. It
// is read by the command line, not by Load, which ignores it.
const EnvConfigFile = "POSTERN_CONFIG"

// Store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Limits that Validate enforces.
const (
	MaxMessageBytesLimit = 1 << 30 // 1 GiB
	MaxRecipientsLimit   = 100000
)

// Config is the whole configuration. The toml tags are the file's keys and,
// upper-cased under POSTERN_, the environment's names.
type Config struct {
	// Hostname is the name in the SMTP banner, EHLO, Received and DSNs.
	Hostname string `toml:"hostname"`
	// DataDir holds the SQLite database, the spool and generated keys.
	DataDir  string   `toml:"data_dir"`
	Store    Store    `toml:"store"`
	TLS      TLS      `toml:"tls"`
	SMTP     SMTP     `toml:"smtp"`
	HTTP     HTTP     `toml:"http"`
	DNS      DNS      `toml:"dns"`
	Delivery Delivery `toml:"delivery"`
	Queue    Queue    `toml:"queue"`
	Spam     Spam     `toml:"spam"`
	Limits   Limits   `toml:"limits"`
	Abuse    Abuse    `toml:"abuse"`
	Domains  Domains  `toml:"domains"`
	Webhooks Webhooks `toml:"webhooks"`
	Log      Log      `toml:"log"`
}

// Store chooses the storage back end.
type Store struct {
	// Driver is DriverSQLite (embedded) or DriverPostgres (cluster mode).
	Driver string `toml:"driver"`
	// DSN is the PostgreSQL connection string, or for SQLite an optional
	// database path overriding data_dir/postern.db. It may hold a password:
	// it never appears in an error.
	DSN string `toml:"dsn"`
}

// TLS names the certificate for every TLS listener. Both empty: a
// self-signed certificate is generated in data_dir.
type TLS struct {
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

// SMTP configures the SMTP listeners and the limits of their sessions.
type SMTP struct {
	// Submission listeners: STARTTLS, AUTH required.
	Submission []string `toml:"submission"`
	// Submissions listeners: implicit TLS, AUTH required.
	Submissions []string `toml:"submissions"`
	// MX listeners: inbound mail for hosted domains.
	MX []string `toml:"mx"`
	// FeedbackAddress is the address given to feedback loops that send
	// spam complaints (ARF reports, RFC 5965) to a fixed address instead
	// of the return path (Microsoft JMRP, Yahoo CFL): the MX listeners
	// accept it, and a complaint there counts for the recipient whose
	// return path the reported message carries. "": none.
	FeedbackAddress string `toml:"feedback_address"`

	MaxMessageBytes int64    `toml:"max_message_bytes"`
	MaxRecipients   int      `toml:"max_recipients"`
	ReadTimeout     Duration `toml:"read_timeout"`
	WriteTimeout    Duration `toml:"write_timeout"`
	// MaxErrors is how many failed commands end a session.
	MaxErrors int `toml:"max_errors"`
	// ShutdownTimeout bounds how long a graceful stop waits for sessions.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// MaxConnections bounds the submission listeners' connections in all
	// (submission and submissions together); MXMaxConnections the MX
	// listeners', a budget of their own, so strangers on the public port
	// cannot take the slots of paying tenants. MaxConnectionsPerIP bounds
	// those from one IPv4 address or IPv6 /64 on each kind of listener,
	// MaxConnectionsPer48 those from one IPv6 /48.
	MaxConnections      int `toml:"max_connections"`
	MXMaxConnections    int `toml:"mx_max_connections"`
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	MaxConnectionsPer48 int `toml:"max_connections_per_48"`
	// UnauthenticatedLifetime is how long a session may stay open without
	// a successful AUTH; MaxIdleCommands how many commands that move no
	// mail (NOOP, RSET, VRFY, HELP, a repeated EHLO) a session may send.
	UnauthenticatedLifetime Duration `toml:"unauthenticated_lifetime"`
	MaxIdleCommands         int      `toml:"max_idle_commands"`
	// MXMaxMessageBytes bounds mail to return paths (DSNs, ARF reports),
	// which needs far less than a submission; never more than
	// MaxMessageBytes.
	MXMaxMessageBytes int64 `toml:"mx_max_message_bytes"`
	// MaxInflightBytes bounds the message bytes all sessions together hold
	// in memory while reading DATA; past it a DATA is refused with 452. It
	// is never less than MaxMessageBytes, or a largest message could never
	// pass.
	MaxInflightBytes int64 `toml:"max_inflight_bytes"`
	// LockoutFailures failed AUTHs per minute from one client (or against
	// one key id) lock that client out for LockoutBackoff, doubling on
	// repetition up to LockoutMax.
	LockoutFailures int      `toml:"lockout_failures"`
	LockoutBackoff  Duration `toml:"lockout_backoff"`
	LockoutMax      Duration `toml:"lockout_max"`
	// AuthFailureDelay: every failed AUTH is answered this long after it
	// began, whatever the cause, so timing tells a guesser nothing.
	AuthFailureDelay Duration `toml:"auth_failure_delay"`
}

// Limits are the default rate limits of every user (0: unlimited);
// `postern limit set` overrides them per user or per key.
type Limits struct {
	MessagesPerMinute   int64  `toml:"messages_per_minute"`
	MessagesPerHour     int64  `toml:"messages_per_hour"`
	MessagesPerDay      int64  `toml:"messages_per_day"`
	MessagesPerMonth    int64  `toml:"messages_per_month"`
	RecipientsPerMinute int64  `toml:"recipients_per_minute"`
	RecipientsPerHour   int64  `toml:"recipients_per_hour"`
	RecipientsPerDay    int64  `toml:"recipients_per_day"`
	RecipientsPerMonth  int64  `toml:"recipients_per_month"`
	Mode                string `toml:"mode"` // "reject" or "hold"
}

// Domains configures sending-domain authentication.
type Domains struct {
	// Recheck is how often verified domains are checked again in DNS.
	Recheck Duration `toml:"recheck"`
	// RotationOverlap is how long the old DKIM selectors should stay
	// published after a rotation (advice printed by the CLI).
	RotationOverlap Duration `toml:"rotation_overlap"`
	// SPFInclude is the domain customers include in their SPF record
	// ("include:" mechanism); SPFIPs are Postern's sending addresses, as
	// ip4:/ip6: mechanisms. Both empty: no SPF record is advised.
	SPFInclude string   `toml:"spf_include"`
	SPFIPs     []string `toml:"spf_ips"`
	// ReturnPathHost is the MX host of every domain's return-path
	// subdomain, where bounces come back ("": hostname). ReturnPathLabel
	// is that subdomain's label.
	ReturnPathHost  string `toml:"return_path_host"`
	ReturnPathLabel string `toml:"return_path_label"`
	// ReturnPathLifetime is how long a return-path address stays valid
	// after the delivery attempt that used it: its date is in its MAC.
	ReturnPathLifetime Duration `toml:"return_path_lifetime"`
	// SenderResendInterval is how soon an API key may have a pending
	// single sender's confirmation mailed again ("0s": no bound); the
	// operator's CLI is not bound by it.
	SenderResendInterval Duration `toml:"sender_resend_interval"`
}

// Queue configures what the queue keeps.
type Queue struct {
	// Retention is how long a finished message keeps its body and its
	// per-recipient rows; after it they are removed, and the message's
	// record (size, recipient count, events) stays for usage and history.
	Retention Duration `toml:"retention"`
}

// Abuse configures automatic suspension; zero disables a rule.
type Abuse struct {
	SuspendSpamRejections int      `toml:"suspend_spam_rejections"`
	SpamWindow            Duration `toml:"spam_window"`
	SuspendBounceRate     float64  `toml:"suspend_bounce_rate"`
	BounceMinimum         int      `toml:"bounce_minimum"`
	BounceWindow          Duration `toml:"bounce_window"`
}

// Spam configures outbound spam scanning.
type Spam struct {
	// RspamdURL, when set, is asked about every message (its /checkv2).
	RspamdURL string `toml:"rspamd_url"`
	// Timeout bounds each rspamd request.
	Timeout Duration `toml:"timeout"`
	// FailOpen: when rspamd is down or slow, accept on the built-in
	// verdict (true) or refuse temporarily (false).
	FailOpen bool `toml:"fail_open"`
	// Threshold of the built-in scanner's score for rejection.
	Threshold float64 `toml:"threshold"`
}

// HTTP configures the HTTP listener (API, console, /metrics, /healthz).
type HTTP struct {
	Listen string `toml:"listen"`
	// PublicURL is how people reach the listener, for the links in
	// confirmation mails and one-click List-Unsubscribe URLs ("":
	// "http://" + listen).
	PublicURL string `toml:"public_url"`
	// TrustedProxies are the reverse proxies (CIDR prefixes) whose
	// X-Forwarded-For names the client; from anyone else it is ignored.
	TrustedProxies []string `toml:"trusted_proxies"`
	// MetricsToken, when set, is the bearer token GET /metrics requires
	// of every client; empty, /metrics answers loopback clients only. A
	// secret: it never appears in an error or a log.
	MetricsToken string `toml:"metrics_token"`
}

// Log configures the process log, which the mail log shares.
type Log struct {
	// Format is LogText (logfmt lines) or LogJSON (a JSON object a line).
	Format string `toml:"format"`
}

// The log formats.
const (
	LogText = "text"
	LogJSON = "json"
)

// DNS configures name resolution.
type DNS struct {
	// Resolver is the host:port of the (validating) resolver; empty means
	// the system resolver.
	Resolver string `toml:"resolver"`
}

// Delivery configures outbound delivery.
type Delivery struct {
	// Port is the destination port for MX delivery.
	Port int `toml:"port"`
	// Concurrency bounds connections to all destinations together.
	Concurrency int `toml:"concurrency"`
	// PerDestination bounds connections to one recipient domain.
	PerDestination int `toml:"per_destination"`
	// RetryFirst is the wait after the first failed attempt; the second
	// wait is five times it, and from the third on waits are at least 30
	// minutes (RFC 5321 §4.5.4.1), doubling up to 4 hours.
	RetryFirst Duration `toml:"retry_first"`
	// ClaimLease, in cluster mode (store.driver = "postgres"), is how long
	// a message claimed for delivery stays with the node that claimed it:
	// another node takes it over after that when the node died. An attempt
	// longer than it may be taken over while it runs (and delivered twice).
	// One node (SQLite) never claims what it has in flight, and retries
	// after the backoff alone.
	ClaimLease Duration `toml:"claim_lease"`
	// GiveUpAfter is how long a message is retried before it bounces.
	GiveUpAfter Duration `toml:"give_up_after"`
	// DelayNotice is the age at which the sender is told of a delay.
	DelayNotice Duration `toml:"delay_notice"`
	// MaxLookups bounds the DNS route lookups (MX and addresses) running
	// at once, over all destinations.
	MaxLookups int `toml:"max_lookups"`
	// AllowPrivateNetworks lets delivery connect to loopback, private
	// (RFC 1918, RFC 4193) and link-local addresses. Off, a recipient
	// domain whose MX points there fails permanently: a tenant's DNS must
	// not aim Postern at internal services. Tests set it.
	AllowPrivateNetworks bool `toml:"allow_private_networks"`
}

// Webhooks configures the event webhook dispatcher (internal/webhook).
type Webhooks struct {
	// AllowPrivateNetworks lets webhooks POST to loopback, private
	// (RFC 1918, RFC 4193), link-local and the other addresses that are
	// not the public internet. Off, a webhook whose host resolves there
	// is refused before anything connects: a tenant's URL must not aim
	// Postern at internal services. Tests set it.
	AllowPrivateNetworks bool `toml:"allow_private_networks"`
	// Concurrency bounds the webhooks POSTed to at once, on this node.
	Concurrency int `toml:"concurrency"`
	// BatchSize bounds the events of one POST.
	BatchSize int `toml:"batch_size"`
	// RetryFor is how long an event is retried before it is given up
	// on; at least 24h.
	RetryFor Duration `toml:"retry_for"`
}

// Duration is a time.Duration written as text: "30s", "5m", "1h30m".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q (write it like \"30s\", \"5m\" or \"1h30m\")", text)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.Duration.String()), nil
}

// Default returns the embedded default configuration: data in
// ./postern-data, every listener on 127.0.0.1 at an unprivileged port.
// Each call returns fresh slices.
func Default() Config {
	return Config{
		Hostname: "localhost",
		DataDir:  "./postern-data",
		Store:    Store{Driver: DriverSQLite},
		SMTP: SMTP{
			Submission:      []string{"127.0.0.1:2525"},
			Submissions:     []string{"127.0.0.1:2465"},
			MX:              []string{"127.0.0.1:2025"},
			MaxMessageBytes: 30 << 20,
			MaxRecipients:   1000,
			ReadTimeout:     Duration{5 * time.Minute},
			WriteTimeout:    Duration{time.Minute},
			MaxErrors:       10,
			ShutdownTimeout: Duration{30 * time.Second},

			MaxConnections:          1000,
			MXMaxConnections:        500,
			MaxConnectionsPerIP:     20,
			MaxConnectionsPer48:     100,
			UnauthenticatedLifetime: Duration{5 * time.Minute},
			MaxIdleCommands:         20,
			MXMaxMessageBytes:       1 << 20,
			MaxInflightBytes:        256 << 20,
			LockoutFailures:         10,
			LockoutBackoff:          Duration{time.Minute},
			LockoutMax:              Duration{time.Hour},
			AuthFailureDelay:        Duration{500 * time.Millisecond},
		},
		Limits: Limits{Mode: "reject"},
		Queue:  Queue{Retention: Duration{30 * 24 * time.Hour}},
		Domains: Domains{Recheck: Duration{6 * time.Hour}, RotationOverlap: Duration{7 * 24 * time.Hour},
			SPFIPs: []string{}, ReturnPathLabel: "pst-bounces", ReturnPathLifetime: Duration{30 * 24 * time.Hour},
			SenderResendInterval: Duration{10 * time.Minute}},
		Abuse: Abuse{SuspendSpamRejections: 10, SpamWindow: Duration{time.Hour},
			SuspendBounceRate: 0.2, BounceMinimum: 100, BounceWindow: Duration{24 * time.Hour}},
		Spam: Spam{Timeout: Duration{10 * time.Second}, FailOpen: true, Threshold: 5},
		HTTP: HTTP{Listen: "127.0.0.1:8025", TrustedProxies: []string{}},
		Delivery: Delivery{
			Port:           25,
			Concurrency:    20,
			PerDestination: 3,
			RetryFirst:     Duration{time.Minute},
			ClaimLease:     Duration{15 * time.Minute},
			GiveUpAfter:    Duration{5 * 24 * time.Hour},
			DelayNotice:    Duration{4 * time.Hour},
			MaxLookups:     16,
		},
		Webhooks: Webhooks{Concurrency: 4, BatchSize: 100, RetryFor: Duration{72 * time.Hour}},
		Log:      Log{Format: LogText},
	}
}

// Load returns Default(), overlaid with the TOML file at path (none when
// path is ""), overlaid with the POSTERN_* variables of env (entries
// "NAME=value", as os.Environ returns them; a later entry wins). Every
// error names the file or the variable. Load does not call Validate.
func Load(path string, env []string) (Config, error) {
	cfg := Default()
	if path != "" {
		if err := decodeFile(&cfg, path); err != nil {
			return Config{}, err
		}
	}
	if err := applyEnv(&cfg, env); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func decodeFile(cfg *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	undecoded := md.Undecoded()
	var errs []error
	for _, k := range undecoded {
		if hasUndecodedParent(k, undecoded) {
			continue // reported once, as its table
		}
		errs = append(errs, fmt.Errorf("config: %s: unknown key %q", path, k.String()))
	}
	return errors.Join(errs...)
}

// hasUndecodedParent reports whether a proper prefix of k is in keys: a
// whole unknown table is one error, not one per key.
func hasUndecodedParent(k toml.Key, keys []toml.Key) bool {
	for _, p := range keys {
		if len(p) < len(k) && p.String() == k[:len(p)].String() {
			return true
		}
	}
	return false
}

// ReturnPathHost is the MX host of the return-path subdomains:
// domains.return_path_host, or hostname.
func (c Config) ReturnPathHost() string {
	if c.Domains.ReturnPathHost != "" {
		return strings.TrimSuffix(c.Domains.ReturnPathHost, ".")
	}
	return c.Hostname
}

// TrustedProxyPrefixes is http.trusted_proxies parsed; a plain address is
// its own /32 or /128. Validate has refused the entries that do not parse.
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range c.HTTP.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			ps = append(ps, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return ps
}

// PublicURL is the HTTP listener's base URL for links people follow,
// without a trailing slash: http.public_url, or "http://" + http.listen.
func (c Config) PublicURL() string {
	if c.HTTP.PublicURL != "" {
		return strings.TrimSuffix(c.HTTP.PublicURL, "/")
	}
	return "http://" + c.HTTP.Listen
}

// DatabasePath is the SQLite database file: store.dsn when set, else
// postern.db in data_dir. It is "" for any other driver.
func (c Config) DatabasePath() string {
	if c.Store.Driver != DriverSQLite {
		return ""
	}
	if c.Store.DSN != "" {
		return c.Store.DSN
	}
	return filepath.Join(c.DataDir, "postern.db")
}

// Validate reports every problem at once, joined with errors.Join; each
// names its key as written in the file, e.g.
// `smtp.submission[1]: "foo": missing port`.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}

	switch {
	case c.Hostname == "":
		bad("hostname", "must be set, to the fully qualified name of this host")
	default:
		if msg := checkHostname(c.Hostname); msg != "" {
			bad("hostname", "%q: %s", c.Hostname, msg)
		}
	}
	if c.DataDir == "" {
		bad("data_dir", "must be set")
	}

	switch c.Store.Driver {
	case DriverSQLite:
	case DriverPostgres:
		if c.Store.DSN == "" {
			bad("store.dsn", "required when store.driver is %q", DriverPostgres)
		}
	default:
		bad("store.driver", "%q: must be %q or %q", c.Store.Driver, DriverSQLite, DriverPostgres)
	}

	if c.TLS.CertFile != "" && c.TLS.KeyFile == "" {
		bad("tls.key_file", "required when tls.cert_file is set")
	}
	if c.TLS.KeyFile != "" && c.TLS.CertFile == "" {
		bad("tls.cert_file", "required when tls.key_file is set")
	}

	for _, l := range []struct {
		key   string
		addrs []string
	}{
		{"smtp.submission", c.SMTP.Submission},
		{"smtp.submissions", c.SMTP.Submissions},
		{"smtp.mx", c.SMTP.MX},
	} {
		for i, a := range l.addrs {
			if msg := checkHostPort(a, 0, true); msg != "" {
				bad(fmt.Sprintf("%s[%d]", l.key, i), "%q: %s", a, msg)
			}
		}
	}
	if len(c.SMTP.Submission) == 0 && len(c.SMTP.Submissions) == 0 {
		bad("smtp.submission", "empty, and so is smtp.submissions: at least one submission listener is required")
	}
	if n := c.SMTP.MaxMessageBytes; n <= 0 || n > MaxMessageBytesLimit {
		bad("smtp.max_message_bytes", "%d: must be between 1 and %d (1 GiB)", n, MaxMessageBytesLimit)
	}
	if n := c.SMTP.MaxRecipients; n < 1 || n > MaxRecipientsLimit {
		bad("smtp.max_recipients", "%d: must be between 1 and %d", n, MaxRecipientsLimit)
	}
	for _, d := range []struct {
		key string
		d   Duration
	}{
		{"smtp.read_timeout", c.SMTP.ReadTimeout},
		{"smtp.write_timeout", c.SMTP.WriteTimeout},
		{"smtp.shutdown_timeout", c.SMTP.ShutdownTimeout},
		{"delivery.retry_first", c.Delivery.RetryFirst},
		{"smtp.lockout_backoff", c.SMTP.LockoutBackoff},
		{"smtp.lockout_max", c.SMTP.LockoutMax},
		{"spam.timeout", c.Spam.Timeout},
		{"abuse.spam_window", c.Abuse.SpamWindow},
		{"abuse.bounce_window", c.Abuse.BounceWindow},
		{"domains.recheck", c.Domains.Recheck},
		{"domains.rotation_overlap", c.Domains.RotationOverlap},
		{"delivery.give_up_after", c.Delivery.GiveUpAfter},
		{"delivery.delay_notice", c.Delivery.DelayNotice},
		{"smtp.unauthenticated_lifetime", c.SMTP.UnauthenticatedLifetime},
		{"domains.return_path_lifetime", c.Domains.ReturnPathLifetime},
		{"queue.retention", c.Queue.Retention},
		{"delivery.claim_lease", c.Delivery.ClaimLease},
	} {
		if d.d.Duration <= 0 {
			bad(d.key, "%s: must be greater than zero", d.d)
		}
	}
	if c.SMTP.MaxErrors < 1 {
		bad("smtp.max_errors", "%d: must be at least 1", c.SMTP.MaxErrors)
	}

	if c.HTTP.Listen == "" {
		bad("http.listen", "must be set")
	} else if msg := checkHostPort(c.HTTP.Listen, 0, true); msg != "" {
		bad("http.listen", "%q: %s", c.HTTP.Listen, msg)
	}
	for i, p := range c.HTTP.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad(fmt.Sprintf("http.trusted_proxies[%d]", i), "%q: not an address or CIDR prefix", p)
			}
		}
	}
	if c.DNS.Resolver != "" {
		if msg := checkHostPort(c.DNS.Resolver, 1, false); msg != "" {
			bad("dns.resolver", "%q: %s", c.DNS.Resolver, msg)
		}
	}
	if p := c.Delivery.Port; p < 1 || p > 65535 {
		bad("delivery.port", "%d: must be between 1 and 65535", p)
	}
	if n := c.SMTP.MaxConnections; n < 1 {
		bad("smtp.max_connections", "%d: must be at least 1", n)
	}
	if n := c.SMTP.MXMaxConnections; n < 1 {
		bad("smtp.mx_max_connections", "%d: must be at least 1", n)
	}
	if n := c.SMTP.MaxConnectionsPerIP; n < 1 || n > c.SMTP.MaxConnections {
		bad("smtp.max_connections_per_ip", "%d: must be between 1 and smtp.max_connections", n)
	}
	if n := c.SMTP.MaxConnectionsPer48; n < c.SMTP.MaxConnectionsPerIP {
		bad("smtp.max_connections_per_48", "%d: must be at least smtp.max_connections_per_ip", n)
	}
	if c.SMTP.MaxIdleCommands < 1 {
		bad("smtp.max_idle_commands", "%d: must be at least 1", c.SMTP.MaxIdleCommands)
	}
	// Neither needs to agree with max_message_bytes: the server holds the
	// return-path limit to it and the budget to at least it.
	if n := c.SMTP.MXMaxMessageBytes; n < 1 {
		bad("smtp.mx_max_message_bytes", "%d: must be at least 1", n)
	}
	if n := c.SMTP.MaxInflightBytes; n < 1 {
		bad("smtp.max_inflight_bytes", "%d: must be at least 1", n)
	}
	if c.Domains.SenderResendInterval.Duration < 0 {
		bad("domains.sender_resend_interval", "%s: must not be negative", c.Domains.SenderResendInterval)
	}
	if c.Delivery.MaxLookups < 1 {
		bad("delivery.max_lookups", "%d: must be at least 1", c.Delivery.MaxLookups)
	}
	if c.SMTP.LockoutFailures < 1 {
		bad("smtp.lockout_failures", "%d: must be at least 1", c.SMTP.LockoutFailures)
	}
	if d := c.SMTP.AuthFailureDelay.Duration; d < 0 || d > 10*time.Second {
		bad("smtp.auth_failure_delay", "%s: must be between 0 and 10s", c.SMTP.AuthFailureDelay)
	}
	if c.Spam.RspamdURL != "" && !strings.HasPrefix(c.Spam.RspamdURL, "http://") && !strings.HasPrefix(c.Spam.RspamdURL, "https://") {
		bad("spam.rspamd_url", "%q: must be an http:// or https:// URL", c.Spam.RspamdURL)
	}
	if m := c.Limits.Mode; m != "reject" && m != "hold" {
		bad("limits.mode", "%q: must be reject or hold", m)
	}
	for key, v := range map[string]int64{
		"limits.messages_per_minute": c.Limits.MessagesPerMinute, "limits.messages_per_hour": c.Limits.MessagesPerHour,
		"limits.messages_per_day": c.Limits.MessagesPerDay, "limits.messages_per_month": c.Limits.MessagesPerMonth,
		"limits.recipients_per_minute": c.Limits.RecipientsPerMinute, "limits.recipients_per_hour": c.Limits.RecipientsPerHour,
		"limits.recipients_per_day": c.Limits.RecipientsPerDay, "limits.recipients_per_month": c.Limits.RecipientsPerMonth,
	} {
		if v < 0 {
			bad(key, "%d: must not be negative (0 is unlimited)", v)
		}
	}
	if r := c.Abuse.SuspendBounceRate; r < 0 || r > 1 {
		bad("abuse.suspend_bounce_rate", "%v: must be between 0 (off) and 1", r)
	}
	if c.Abuse.SuspendSpamRejections < 0 || c.Abuse.BounceMinimum < 0 {
		bad("abuse", "counts must not be negative")
	}
	if c.Spam.Threshold <= 0 {
		bad("spam.threshold", "%v: must be greater than zero", c.Spam.Threshold)
	}
	if inc := c.Domains.SPFInclude; inc != "" && !isDNSName(strings.ReplaceAll(strings.TrimSuffix(inc, "."), "_", "x")) {
		// A domain name, not a host name: "_spf.example.com" is usual.
		bad("domains.spf_include", "%q: not a domain name", inc)
	}
	for i, ip := range c.Domains.SPFIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			bad(fmt.Sprintf("domains.spf_ips[%d]", i), "%q: not an IP address", ip)
		}
	}
	if h := c.Domains.ReturnPathHost; h != "" && !isDNSName(strings.TrimSuffix(h, ".")) {
		bad("domains.return_path_host", "%q: not a host name", h)
	}
	if l := c.Domains.ReturnPathLabel; l == "" || strings.Contains(l, ".") || !isDNSName(l) {
		bad("domains.return_path_label", "%q: must be one DNS label, such as pst-bounces", l)
	}
	if a := c.SMTP.FeedbackAddress; a != "" && !isMailbox(a) {
		bad("smtp.feedback_address", "%q: must be a plain address, local-part@domain", a)
	}
	if u := c.HTTP.PublicURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		bad("http.public_url", "%q: must be an http:// or https:// URL", u)
	}
	if n := c.Delivery.Concurrency; n < 1 || n > 10000 {
		bad("delivery.concurrency", "%d: must be between 1 and 10000", n)
	}
	if n := c.Delivery.PerDestination; n < 1 || n > c.Delivery.Concurrency {
		bad("delivery.per_destination", "%d: must be between 1 and delivery.concurrency", n)
	}
	if n := c.Webhooks.Concurrency; n < 1 || n > 1000 {
		bad("webhooks.concurrency", "%d: must be between 1 and 1000", n)
	}
	if n := c.Webhooks.BatchSize; n < 1 || n > 1000 {
		bad("webhooks.batch_size", "%d: must be between 1 and 1000", n)
	}
	if d := c.Webhooks.RetryFor; d.Duration < 24*time.Hour {
		bad("webhooks.retry_for", "%s: must be at least 24h (events are retried for at least a day)", d)
	}
	// The token itself is never quoted: it is a secret.
	if t := c.HTTP.MetricsToken; t != "" && (len(t) < 16 || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f })) {
		bad("http.metrics_token", "must be at least 16 characters, without spaces or control characters")
	}
	if f := c.Log.Format; f != LogText && f != LogJSON {
		bad("log.format", "%q: must be %q or %q", f, LogText, LogJSON)
	}
	return errors.Join(errs...)
}

// checkHostPort returns what is wrong with a host:port address, or "". The
// host must be explicit (an IP address, IPv6 in brackets, or a name) and
// the port numeric, minPort to 65535.
func checkHostPort(addr string, minPort int, listener bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			msg := strings.TrimSuffix(ae.Err, " in address")
			if msg == "too many colons" {
				msg += " (write an IPv6 address in brackets: [::1]:25)"
			}
			return msg
		}
		return err.Error()
	}
	if host == "" {
		if listener {
			return "missing host (write 0.0.0.0 or [::] to listen on every address)"
		}
		return "missing host"
	}
	if port == "" {
		return "missing port"
	}
	if strings.HasPrefix(addr, "[") {
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is6() || ip.Is4In6() {
			return "brackets are only for IPv6 addresses"
		}
	} else if _, err := netip.ParseAddr(host); err != nil && !isDNSName(host) {
		return fmt.Sprintf("host %q is neither an IP address nor a host name", host)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || int(n) < minPort {
		return fmt.Sprintf("port %q: must be a number from %d to 65535", port, minPort)
	}
	return ""
}

// checkHostname returns what is wrong with the server's host name, or "".
func checkHostname(name string) string {
	if strings.EqualFold(name, "localhost") {
		return ""
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "must be a host name, not an IP address"
	}
	if !isDNSName(name) {
		return "not a valid host name (letters, digits and hyphens, in dot-separated labels of 1 to 63 characters)"
	}
	if !strings.Contains(name, ".") {
		return `must be fully qualified, such as "mail.example.com" (or "localhost")`
	}
	labels := strings.Split(name, ".")
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "must be a host name, not an IP address"
	}
	return ""
}

// isDNSName reports whether s is a host name by RFC 1123 §2.1: labels of
// letters, digits and hyphens, 1 to 63 octets, neither starting nor ending
// with a hyphen; at most 253 octets; no trailing dot.
// isMailbox reports whether s is an RFC 5321 §4.1.2 Mailbox with a
// dot-string local part and a domain name, at most 254 octets: an
// address an MTA can be given without quoting.
func isMailbox(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if len(s) > 254 || at <= 0 || at > 64 || !isDNSName(s[at+1:]) {
		return false
	}
	for atom := range strings.SplitSeq(s[:at], ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			c := atom[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
				return false
			}
		}
	}
	return true
}

func isDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
