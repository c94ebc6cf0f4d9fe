// Package app wires Postern together: it opens the store, builds the
// account service, the queue and the SMTP server from a config, and owns
// start-up and graceful shutdown. It is the only package that knows all
// the others.
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/delivery"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/lockout"
	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/quota"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/postgres"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/tlsconf"
	"github.com/postern/postern/internal/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// App is an opened Postern: config, store and accounts.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	Store    store.Store
	Accounts *account.Service
	// Admin is every management operation (the CLI's and, with the
	// running queue as its Queue, the API's).
	Admin *admin.Service
	// Webhooks is the event webhook dispatcher: Start runs it; the test
	// POSTs of Admin (the CLI's and the API's) go through it either way.
	Webhooks *webhook.Dispatcher
	// Registry holds every metric, served at /metrics; Metrics are
	// Postern's own on it, MailLog the mail log on Log's handler.
	Registry *prometheus.Registry
	Metrics  *observe.Metrics
	MailLog  *observe.MailLog
}

// Open validates cfg and opens the store.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := CheckData(cfg); errors.Is(err, ErrNoData) {
		log.Warn("no data yet: starting a new installation", "db", cfg.DatabasePath(), "reason", err.Error())
	}
	var st store.Store
	switch cfg.Store.Driver {
	case "sqlite":
		var err error
		st, err = sqlite.Open(ctx, cfg.DatabasePath())
		if err != nil {
			return nil, err
		}
	case config.DriverPostgres:
		var err error
		st, err = postgres.Open(ctx, cfg.Store.DSN, postgres.Options{})
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("store.driver %q is not known", cfg.Store.Driver)
	}
	reg, metrics := newMetrics(st)
	client, err := dnsres.New(cfg.DNS.Resolver, dnsres.Options{})
	if err != nil {
		st.Close()
		return nil, err
	}
	res := dnsres.Counted{Resolver: client, Counter: metrics}
	hooks, err := webhook.New(webhook.Config{
		Metrics:              metrics,
		Store:                st,
		Now:                  time.Now,
		Rand:                 rand.Reader,
		Log:                  log.With("component", "webhooks"),
		AllowPrivateNetworks: cfg.Webhooks.AllowPrivateNetworks,
		Concurrency:          cfg.Webhooks.Concurrency,
		BatchSize:            cfg.Webhooks.BatchSize,
		RetryFor:             cfg.Webhooks.RetryFor.Duration,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	accts := &account.Service{Store: st, Rand: rand.Reader, Now: time.Now}
	return &App{
		Config:   cfg,
		Log:      log,
		Store:    st,
		Accounts: accts,
		Admin: &admin.Service{Store: st, Accounts: accts, Config: cfg, Resolver: res,
			Queue: queue.Direct{Store: st}, WebhookTester: hooks, Now: time.Now, Rand: rand.Reader},
		Webhooks: hooks,
		Registry: reg,
		Metrics:  metrics,
		MailLog:  observe.NewMailLog(log),
	}, nil
}

// newMetrics returns the registry /metrics serves, with the Go and process
// collectors, the store's gauges and Postern's metrics.
func newMetrics(st store.Store) (*prometheus.Registry, *observe.Metrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		observe.Gauges{Store: st})
	return reg, observe.NewMetrics(reg)
}

// claimLease is the delivery worker's claim lease: delivery.claim_lease in
// cluster mode, none on the embedded store's one node.
func claimLease(cfg config.Config) time.Duration {
	if cfg.Store.Driver == config.DriverPostgres {
		return cfg.Delivery.ClaimLease.Duration
	}
	return 0
}

// ErrNoData is returned (wrapped) by CheckData for an installation whose
// data do not exist yet.
var ErrNoData = errors.New("no Postern data")

// CheckData reports whether cfg's data exist already: for the embedded
// store, its database file. Open creates what is missing; a caller that
// expects an existing installation (the CLI's admin commands) asks first.
// The error wraps ErrNoData and names the directory as an absolute path,
// and what is missing in it.
func CheckData(cfg config.Config) error {
	db := cfg.DatabasePath()
	if db == "" {
		return nil // a server's store: nothing on local disk to look for
	}
	_, err := os.Stat(db)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("app: data: %w", err)
	}
	abs := func(p string) string {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	if cfg.Store.DSN != "" {
		return fmt.Errorf("%w: %s does not exist", ErrNoData, abs(db))
	}
	dir := abs(cfg.DataDir)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w in %s (it does not exist)", ErrNoData, dir)
	}
	return fmt.Errorf("%w in %s (no %s there)", ErrNoData, dir, filepath.Base(db))
}

// Close closes the store.
func (a *App) Close() error { return a.Store.Close() }

// Running is a started server.
type Running struct {
	// Addrs are the bound listener addresses by mode, in config order.
	Addrs map[smtpd.Mode][]net.Addr
	// HTTPAddr is the bound address of the HTTP listener.
	HTTPAddr net.Addr

	app      *App
	smtp     *smtpd.Server
	http     *http.Server
	cancelQ  context.CancelFunc
	queueRun chan struct{}
	cancelW  context.CancelFunc
	worker   chan struct{}
	serveErr chan error
	wg       sync.WaitGroup
	once     sync.Once
	stopErr  error
}

// Start loads TLS, binds every listener, starts the queue committer and the
// SMTP server. A listener that cannot be bound fails Start as a whole.
func (a *App) Start() (*Running, error) {
	cfg := a.Config
	cert, certPath, generated, err := tlsconf.Load(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.DataDir, cfg.Hostname, time.Now())
	if err != nil {
		return nil, err
	}
	if generated {
		a.Log.Warn("generated a self-signed TLS certificate; clients must be told to trust it, or set tls.cert_file", "cert", certPath)
	} else {
		a.Log.Info("tls certificate", "cert", certPath)
	}
	client, err := dnsres.New(cfg.DNS.Resolver, dnsres.Options{})
	if err != nil {
		return nil, fmt.Errorf("dns.resolver: %w", err)
	}
	resolver := dnsres.Counted{Resolver: client, Counter: a.Metrics}
	watch := &abuse.Watch{Store: a.Store, T: abuse.Thresholds{
		SpamRejections: cfg.Abuse.SuspendSpamRejections,
		SpamWindow:     cfg.Abuse.SpamWindow.Duration,
		BounceRate:     cfg.Abuse.SuspendBounceRate,
		BounceMinimum:  cfg.Abuse.BounceMinimum,
		BounceWindow:   cfg.Abuse.BounceWindow.Duration,
	}}
	if cfg.Store.Driver == config.DriverPostgres {
		// Several nodes: the spam-rejection counts are the cluster's.
		watch.Shared = a.Store
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	secret, err := a.Store.Secret(context.Background(), bounce.SecretName, fresh)
	if err != nil {
		return nil, err
	}
	bounces := &bounce.Service{Store: a.Store, Abuse: watch, Log: a.Log.With("component", "bounces"),
		Codec:           returnpath.Codec{Key: secret, Label: cfg.Domains.ReturnPathLabel, Lifetime: cfg.Domains.ReturnPathLifetime.Duration},
		FeedbackAddress: cfg.SMTP.FeedbackAddress}
	worker := delivery.NewWorker(delivery.WorkerConfig{
		ReturnPath:     bounces,
		Abuse:          watch,
		Store:          a.Store,
		Resolver:       resolver,
		Hostname:       cfg.Hostname,
		Port:           cfg.Delivery.Port,
		TLS:            &tls.Config{MinVersion: tls.VersionTLS12},
		Concurrency:    cfg.Delivery.Concurrency,
		PerDestination: cfg.Delivery.PerDestination,
		RetryFirst:     cfg.Delivery.RetryFirst.Duration,
		ClaimLease:     claimLease(cfg),
		GiveUpAfter:    cfg.Delivery.GiveUpAfter.Duration,
		DelayNotice:    cfg.Delivery.DelayNotice.Duration,
		MaxLookups:     cfg.Delivery.MaxLookups,
		Log:            a.Log.With("component", "delivery"),
		Metrics:        a.Metrics,
		MailLog:        a.MailLog,

		AllowPrivateNetworks: cfg.Delivery.AllowPrivateNetworks,
	})
	a.countPanics("delivery", worker.Panics)
	a.countPanics("webhooks", a.Webhooks.Panics)

	// A commit records processed events, and with them webhook outbox
	// items: both the worker and the dispatcher have work.
	q := queue.New(a.Store, queue.Options{Logger: a.Log, Committed: func() {
		worker.Wake()
		a.Webhooks.Wake()
	}})
	l := cfg.Limits
	limits := quota.Defaults(ratelimit.Mode(l.Mode),
		[4]int64{l.MessagesPerMinute, l.MessagesPerHour, l.MessagesPerDay, l.MessagesPerMonth},
		[4]int64{l.RecipientsPerMinute, l.RecipientsPerHour, l.RecipientsPerDay, l.RecipientsPerMonth})
	// PostgreSQL may be shared by several nodes: count in the store, so
	// they admit each limit once. SQLite has one node: count in process.
	var quotas *quota.Service
	if cfg.Store.Driver == config.DriverPostgres {
		quotas = quota.NewShared(a.Store, limits, a.Log.With("component", "quota"))
	} else {
		quotas = quota.New(a.Store, limits)
	}
	if err := quotas.Seed(context.Background(), time.Now()); err != nil {
		return nil, err
	}
	ids := &identity.Signer{Store: a.Store}
	unsubLinks, unsubs, err := a.unsubscribe(context.Background())
	if err != nil {
		return nil, err
	}
	funnel, err := submit.New(submit.Config{
		Hostname:         cfg.Hostname,
		MaxMessageBytes:  cfg.SMTP.MaxMessageBytes,
		MaxRecipients:    cfg.SMTP.MaxRecipients,
		AuthFailureDelay: cfg.SMTP.AuthFailureDelay.Duration,
		Accounts:         a.Accounts,
		Lockout: lockout.New(lockout.Config{
			PerIP:      cfg.SMTP.LockoutFailures,
			PerKey:     cfg.SMTP.LockoutFailures,
			Window:     time.Minute,
			Backoff:    cfg.SMTP.LockoutBackoff.Duration,
			MaxBackoff: cfg.SMTP.LockoutMax.Duration,
		}),
		Identity: ids,
		Quota:    quotas,
		Scanner:  scanner(cfg, a.Log),
		Abuse:    watch,
		Signer:   ids,
		Queue:    q,
		Logger:   a.Log,
		Metrics:  a.Metrics,
		MailLog:  a.MailLog,

		ListUnsubscribe: unsubLinks,
	})
	if err != nil {
		return nil, err
	}
	// A connection budget per kind of listener: strangers on the MX port
	// cannot take the slots of the submission listeners' clients.
	submissionConns := lockout.NewConns(lockout.ConnLimits{PerIP: cfg.SMTP.MaxConnectionsPerIP,
		Per48: cfg.SMTP.MaxConnectionsPer48, Total: cfg.SMTP.MaxConnections})
	mxConns := lockout.NewConns(lockout.ConnLimits{PerIP: cfg.SMTP.MaxConnectionsPerIP,
		Per48: cfg.SMTP.MaxConnectionsPer48, Total: cfg.SMTP.MXMaxConnections})
	srv, err := smtpd.New(smtpd.Config{
		Hostname:        cfg.Hostname,
		TLS:             tlsconf.Server(cert),
		MaxMessageBytes: cfg.SMTP.MaxMessageBytes,
		MaxRecipients:   cfg.SMTP.MaxRecipients,
		ReadTimeout:     cfg.SMTP.ReadTimeout.Duration,
		WriteTimeout:    cfg.SMTP.WriteTimeout.Duration,
		MaxErrors:       cfg.SMTP.MaxErrors,

		MaxIdleCommands:         cfg.SMTP.MaxIdleCommands,
		UnauthenticatedLifetime: cfg.SMTP.UnauthenticatedLifetime.Duration,
		MXMaxMessageBytes:       cfg.SMTP.MXMaxMessageBytes,
		MaxInflightBytes:        cfg.SMTP.MaxInflightBytes,

		Funnel:  funnel,
		Logger:  a.Log,
		Metrics: a.Metrics,
		Conns:   submissionConns,
		MXConns: mxConns,
		Bounces: bounces,
	})
	if err != nil {
		return nil, err
	}
	a.countPanics("smtpd", srv.Panics)

	type bound struct {
		mode smtpd.Mode
		ln   net.Listener
	}
	var lns []bound
	closeAll := func() {
		for _, b := range lns {
			b.ln.Close()
		}
	}
	for _, group := range []struct {
		mode  smtpd.Mode
		addrs []string
	}{
		{smtpd.Submission, cfg.SMTP.Submission},
		{smtpd.Submissions, cfg.SMTP.Submissions},
		{smtpd.MX, cfg.SMTP.MX},
	} {
		for _, addr := range group.addrs {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("smtp.%s: %w", group.mode, err)
			}
			lns = append(lns, bound{group.mode, ln})
		}
	}
	httpSrv, httpLn, err := a.startHTTP(funnel, unsubs, tlsconf.Server(cert), cfg.TrustedProxyPrefixes())
	if err != nil {
		closeAll()
		return nil, err
	}

	r := &Running{
		Addrs:    make(map[smtpd.Mode][]net.Addr),
		HTTPAddr: httpLn.Addr(),
		app:      a,
		smtp:     srv,
		http:     httpSrv,
		queueRun: make(chan struct{}),
		worker:   make(chan struct{}),
		serveErr: make(chan error, len(lns)+1),
	}
	qctx, cancel := context.WithCancel(context.Background())
	r.cancelQ = cancel
	go func() {
		defer close(r.queueRun)
		q.Run(qctx)
	}()
	wctx, cancelW := context.WithCancel(context.Background())
	r.cancelW = cancelW
	go func() {
		defer close(r.worker)
		var others sync.WaitGroup
		others.Go(func() { a.runJobs(wctx, resolver) })
		others.Go(func() { a.Webhooks.Run(wctx) })
		worker.Run(wctx)
		others.Wait()
	}()
	for _, b := range lns {
		r.Addrs[b.mode] = append(r.Addrs[b.mode], b.ln.Addr())
		a.Log.Info("listening", "mode", b.mode.String(), "addr", b.ln.Addr().String())
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := srv.Serve(b.ln, b.mode); err != nil {
				r.serveErr <- fmt.Errorf("smtp.%s %s: %w", b.mode, b.ln.Addr(), err)
			}
		}()
	}
	a.Log.Info("listening", "mode", "http", "addr", httpLn.Addr().String())
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			r.serveErr <- fmt.Errorf("http %s: %w", httpLn.Addr(), err)
		}
	}()
	return r, nil
}

// Err reports a listener that failed while serving.
func (r *Running) Err() <-chan error { return r.serveErr }

// Stop shuts down gracefully: listeners stop, idle sessions close,
// transactions in progress finish and are committed, then the queue stops.
// When ctx ends first, the remaining connections are cut; nothing that was
// acknowledged is affected, since acknowledgement follows the commit.
func (r *Running) Stop(ctx context.Context) error {
	r.once.Do(func() {
		httpDone := make(chan error, 1)
		go func() { httpDone <- r.http.Shutdown(ctx) }()
		err := r.smtp.Shutdown(ctx)
		if herr := <-httpDone; herr != nil {
			r.http.Close() // ctx ended: cut the remaining HTTP connections
			if err == nil {
				err = herr
			}
		}
		r.wg.Wait()
		r.cancelQ()
		<-r.queueRun
		// Deliveries in flight are abandoned; their next attempt time was
		// saved when they were claimed, so they are retried after a restart.
		// So are webhook POSTs: their outbox items are due again when
		// their lease ends. The periodic jobs and the webhook dispatcher
		// stop with the worker, and Stop waits for all three.
		r.cancelW()
		<-r.worker
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			r.stopErr = err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			r.app.Log.Warn("shutdown timeout: cut remaining connections")
		}
		r.app.Log.Info("stopped")
	})
	return r.stopErr
}

// Logger returns the process logger: lines on stderr in cfg's log.format.
func Logger(cfg config.Config, level slog.Level) *slog.Logger {
	return observe.NewLogger(os.Stderr, observe.Format(cfg.Log.Format), level)
}

// scanner builds the spam scanner: the built-in rules, and rspamd when
// spam.rspamd_url is set.
func scanner(cfg config.Config, log *slog.Logger) spamscan.Chain {
	c := spamscan.Chain{
		Builtin:  spamscan.Builtin{Threshold: cfg.Spam.Threshold},
		FailOpen: cfg.Spam.FailOpen,
		Log:      log,
	}
	if cfg.Spam.RspamdURL != "" {
		c.Rspamd = &spamscan.Rspamd{URL: cfg.Spam.RspamdURL, Timeout: cfg.Spam.Timeout.Duration}
	}
	return c
}
