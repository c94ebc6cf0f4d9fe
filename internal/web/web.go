package web

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/postern/postern/internal/sendercode"
)

// Config is what the listener needs.
type Config struct {
	// Senders redeems confirmation codes; a store.SenderStore is one. Required.
	Senders sendercode.Confirmer
	// Send serves POST /v3/mail/send (sendapi.New). Required.
	Send http.Handler
	// Manage serves the rest of /v3/ (manageapi.New). Required.
	Manage http.Handler
	// TrustedProxies are the reverse proxies whose X-Forwarded-For
	// ClientIP believes; empty trusts none. List only the proxies: a
	// client inside one of these prefixes could name any address.
	TrustedProxies []netip.Prefix
	// Metrics serves GET /metrics (promhttp.HandlerFor the registry);
	// nil: /metrics is not found. MetricsToken, when set, is the bearer
	// token it requires of every client; empty, it answers loopback
	// clients only (metrics.go).
	Metrics      http.Handler
	MetricsToken string
	// Unsubscribe redeems one-click unsubscribe URLs at
	// /unsubscribe/{token} (unsubscribe.go); nil: they are not found.
	Unsubscribe Unsubscriber
	// Log receives errors and confirmations; nil discards them.
	Log *slog.Logger
	// Now is the clock for code expiry; nil means time.Now.
	Now func() time.Time
}

// securityHeaders are set on every response.
var securityHeaders = [][2]string{
	{"Cache-Control", "no-store"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"},
}

// NewServer returns an http.Server for h with the limits a listener facing
// the Internet needs; the caller runs Serve and Shutdown. The read timeout
// lets a client on a slow line send a full 30 MB API request; the write
// timeout, which net/http counts from the end of the request header,
// covers that read and the reply. Server errors go to log at level Warn
// (nil discards them).
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      3 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// New returns the handler for every route.
func New(cfg Config) (http.Handler, error) {
	if cfg.Senders == nil || cfg.Send == nil || cfg.Manage == nil {
		return nil, errors.New("web: Config.Senders, Config.Send and Config.Manage are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handler{cfg: cfg, mux: http.NewServeMux()}
	for _, rt := range h.routes() {
		if err := h.mount(rt); err != nil {
			return nil, err
		}
	}
	h.mux.Handle("/v3/", cfg.Manage)
	h.mux.HandleFunc("/", h.notFound)
	return h, nil
}

type handler struct {
	cfg Config
	mux *http.ServeMux
}

var _ http.Handler = (*handler)(nil)

// route is one path and the handler of each method it answers. A method
// is matched exactly: GET does not imply HEAD.
type route struct {
	path    string
	methods []method
	api     bool   // errors are SendGrid's JSON, not a page
	wrong   string // what the 405 page says
}

type method struct {
	name string
	h    http.HandlerFunc
}

func (h *handler) routes() []route {
	return []route{
		{path: "/healthz", methods: []method{{"GET", h.healthz}, {"HEAD", h.healthz}},
			wrong: "This address only answers GET."},
		{path: "/verify", methods: []method{{"GET", h.verifyForm}, {"POST", h.verify}},
			wrong: "Open the link from the confirmation mail in a browser."},
		{path: "/v3/mail/send", methods: []method{{"POST", h.cfg.Send.ServeHTTP}}, api: true},
		{path: "/metrics", methods: []method{{"GET", h.metrics}}, wrong: "This address only answers GET."},
		{path: "/unsubscribe/{token}", methods: []method{{"GET", h.unsubscribeForm}, {"POST", h.unsubscribe}},
			wrong: "Open the unsubscribe link from the message in a browser."},
	}
}

// mount registers rt's methods and, for every other method on its path,
// a 405 with Allow (RFC 9110 §15.5.6).
func (h *handler) mount(rt route) (err error) {
	defer func() {
		if v := recover(); v != nil { // ServeMux panics on a conflicting pattern
			err = fmt.Errorf("web: route %s: %v", rt.path, v)
		}
	}()
	var allow []string
	hasHead := false
	for _, m := range rt.methods {
		h.mux.Handle(m.name+" "+rt.path, m.h)
		allow = append(allow, m.name)
		hasHead = hasHead || m.name == http.MethodHead
	}
	wrong := h.methodNotAllowed(rt, strings.Join(allow, ", "))
	if !hasHead {
		h.mux.Handle("HEAD "+rt.path, wrong) // else GET would answer it
	}
	h.mux.Handle(rt.path, wrong)
	return nil
}

func (h *handler) methodNotAllowed(rt route, allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		if rt.api {
			WriteErrors(w, http.StatusMethodNotAllowed, APIError{Message: "method not allowed"})
			return
		}
		h.page(w, http.StatusMethodNotAllowed, page{Title: "Method not allowed", Message: rt.wrong})
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, kv := range securityHeaders {
		w.Header().Set(kv[0], kv[1])
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := errors.New("panic in handler")
			if isAPI(r.URL.Path) {
				InternalError(w, r, h.cfg.Log, "panic", err, "panic", v)
				return
			}
			h.internalError(w, r, "panic", err, "panic", v)
		}
	}()
	// A path that is not in canonical form is not found here, rather
	// than redirected by ServeMux.
	if p := r.URL.Path; p == "" || p[0] != '/' || cleanPath(p) != p {
		h.notFound(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// cleanPath is p with . and .. resolved and slashes collapsed, keeping a
// trailing slash, as ServeMux cleans it.
func cleanPath(p string) string {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// isAPI reports whether p is under the v3 API, whose errors are JSON.
func isAPI(p string) bool { return p == "/v3" || strings.HasPrefix(p, "/v3/") }

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	if isAPI(r.URL.Path) {
		WriteErrors(w, http.StatusNotFound, APIError{Message: "not found"})
		return
	}
	h.page(w, http.StatusNotFound, page{Title: "Not found", Message: "There is no page at this address."})
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}
