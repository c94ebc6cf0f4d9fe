package manageapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/web"
)

// Config configures the handler. Funnel, Admin and ClientIP are required.
type Config struct {
	// Funnel authenticates the bearer key (internal/submit).
	Funnel *submit.Funnel
	// Admin carries out the operations.
	Admin *admin.Service
	// ClientIP is the client's address (web.ClientIP behind trusted
	// proxies).
	ClientIP func(*http.Request) netip.Addr
	Log      *slog.Logger // nil: discard
}

// MaxBodyBytes bounds a management request's body.
const MaxBodyBytes = 1 << 20

// New returns the handler of every management endpoint, to be mounted
// under /v3/.
func New(cfg Config) (http.Handler, error) {
	if cfg.Funnel == nil || cfg.Admin == nil || cfg.ClientIP == nil {
		return nil, errors.New("manageapi: Config.Funnel, Config.Admin and Config.ClientIP are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	h := &handler{cfg: cfg, mux: http.NewServeMux()}
	allow := map[string][]string{}
	for _, rt := range h.routes() {
		h.mux.Handle(rt.method+" "+rt.pattern, h.serve(rt))
		allow[rt.pattern] = append(allow[rt.pattern], rt.method)
	}
	// A path's other methods are 405, each registered on its own: a
	// pattern for every method at once would conflict in the ServeMux
	// with a wildcard's beside it (".../settings/signed" and "DELETE
	// .../settings/{id}"). A method outside these is 404.
	for pattern, methods := range allow {
		list := strings.Join(methods, ", ")
		notAllowed := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", list)
			web.WriteErrors(w, http.StatusMethodNotAllowed, web.APIError{Message: "method not allowed"})
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if !slices.Contains(methods, m) {
				h.mux.HandleFunc(m+" "+pattern, notAllowed)
			}
		}
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		web.WriteErrors(w, http.StatusNotFound, web.APIError{Message: "not found"})
	})
	return h, nil
}

type handler struct {
	cfg Config
	mux *http.ServeMux
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// route is one endpoint: its method and ServeMux pattern, the SendGrid
// scope it needs, and what it does.
type route struct {
	method, pattern string
	scope           string
	do              func(rq *request) error
}

// request is one authenticated call.
type request struct {
	h     *handler
	w     http.ResponseWriter
	r     *http.Request
	actor admin.Actor
	sess  string
}

// serve authenticates, resolves On-Behalf-Of, checks the scope and runs
// the route; every outcome is logged in one line.
func (h *handler) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ip := h.cfg.ClientIP(r)
		rq := &request{h: h, w: w, r: r, sess: "http-" + web.RequestID()}
		log := h.cfg.Log.With("session", rq.sess, "ip", ip.String(), "method", r.Method, "path", r.URL.Path)
		key, ok := web.Bearer(r.Header.Get("Authorization"))
		if !ok {
			web.WriteErrors(w, http.StatusUnauthorized, web.APIError{Message: "authorization required"})
			log.Info("manage", "status", http.StatusUnauthorized)
			return
		}
		c, err := h.cfg.Funnel.Authenticate(ctx, submit.Credentials{Username: account.Username, Password: key,
			ClientIP: ip, Session: rq.sess, AnyScope: true})
		if err != nil {
			status := authRefused(w, r, h.cfg.Log, err)
			log.Info("manage", "status", status)
			return
		}
		log = log.With("key_id", c.Key().ID)
		rq.actor, err = h.cfg.Admin.KeyActor(ctx, c.Principal, r.Header.Get("On-Behalf-Of"))
		if err == nil && rt.scope != "" && !rq.actor.Can(rt.scope) {
			err = admin.ErrForbidden
		}
		if err == nil {
			err = rt.do(rq)
		}
		if err != nil {
			status := rq.fail(err)
			log.Info("manage", "status", status, "err", err.Error())
			return
		}
		log.Info("manage", "status", http.StatusOK)
	})
}

// authRefused answers a failed authentication and returns the status.
func authRefused(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) int {
	ref := submit.AsRefusal(err)
	if ref == nil {
		web.InternalError(w, r, log, "manage: authenticate", err)
		return http.StatusInternalServerError
	}
	switch ref.Reason {
	case submit.ReasonLockedOut:
		if !ref.RetryAt.IsZero() {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(time.Until(ref.RetryAt).Seconds()+0.5))))
		}
		web.WriteErrors(w, http.StatusTooManyRequests, web.APIError{Message: ref.Text})
		return http.StatusTooManyRequests
	case submit.ReasonSuspended, submit.ReasonIPNotAllowed:
		web.WriteErrors(w, http.StatusForbidden, web.APIError{Message: ref.Text})
		return http.StatusForbidden
	}
	web.WriteErrors(w, http.StatusUnauthorized, web.APIError{Message: web.TextBadKey})
	return http.StatusUnauthorized
}

// fail answers an operation's error and returns the status: another
// tenant's object and a missing one alike are 404.
func (rq *request) fail(err error) int {
	var inv *admin.InvalidError
	switch {
	case errors.As(err, &inv):
		web.WriteErrors(rq.w, http.StatusBadRequest, web.APIError{Message: inv.Message, Field: inv.Field})
		return http.StatusBadRequest
	case errors.Is(err, admin.ErrNotFound):
		web.WriteErrors(rq.w, http.StatusNotFound, web.APIError{Message: "resource not found"})
		return http.StatusNotFound
	case errors.Is(err, admin.ErrForbidden):
		web.WriteErrors(rq.w, http.StatusForbidden, web.APIError{Message: "access forbidden"})
		return http.StatusForbidden
	case errors.Is(err, admin.ErrTooSoon):
		web.WriteErrors(rq.w, http.StatusTooManyRequests, web.APIError{Message: strings.TrimPrefix(err.Error(), "admin: too soon: ")})
		return http.StatusTooManyRequests
	case errors.Is(err, admin.ErrConflict):
		web.WriteErrors(rq.w, http.StatusBadRequest, web.APIError{Message: "already exists"})
		return http.StatusBadRequest
	case errors.Is(err, admin.ErrUnavailable):
		web.WriteErrors(rq.w, http.StatusServiceUnavailable, web.APIError{Message: "not available on this server"})
		return http.StatusServiceUnavailable
	case errors.Is(err, errBadJSON):
		web.WriteErrors(rq.w, http.StatusBadRequest, web.APIError{Message: err.Error()})
		return http.StatusBadRequest
	}
	web.InternalError(rq.w, rq.r, rq.h.cfg.Log, "manage", err)
	return http.StatusInternalServerError
}

// errBadJSON: the body is not the JSON the endpoint takes. Its text is
// for the client.
var errBadJSON = errors.New("invalid JSON in the request body")

// decode reads the JSON body into v: at most MaxBodyBytes, one value;
// unknown fields are ignored, as SendGrid does.
func (rq *request) decode(v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(rq.w, rq.r.Body, MaxBodyBytes))
	if err != nil {
		return errBadJSON
	}
	return decodeJSON(body, v)
}

// decodeJSON is decode's parser, separate for fuzzing: exactly one JSON
// value, nothing after it but white space.
func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return errBadJSON
	}
	return nil
}

// reply writes v as JSON with status.
func (rq *request) reply(status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rq.w.Header().Set("Content-Type", "application/json")
	rq.w.WriteHeader(status)
	rq.w.Write(append(b, '\n'))
	return nil
}

// noContent answers 204.
func (rq *request) noContent() error {
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// page reads SendGrid's limit and offset query parameters: limit from 1
// to max (def when absent), offset from 0.
func (rq *request) page(def, max int) (limit, offset int, err error) {
	q := rq.r.URL.Query()
	limit, offset = def, 0
	if s := q.Get("limit"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 1 || n > max {
			return 0, 0, admin.Invalid("limit", "must be a number from 1 to %d", max)
		}
		limit = n
	}
	if s := q.Get("offset"); s != "" {
		n, e := strconv.Atoi(s)
		if e != nil || n < 0 {
			return 0, 0, admin.Invalid("offset", "must be a number of 0 or more")
		}
		offset = n
	}
	return limit, offset, nil
}

// routes lists every endpoint; each resource's file adds its own.
func (h *handler) routes() []route {
	var rs []route
	for _, group := range [][]route{
		h.scopeRoutes(),
		h.keyRoutes(), h.subuserRoutes(),
		h.ipAccessRoutes(), h.suppressionRoutes(),
		h.domainRoutes(), h.senderRoutes(),
		h.webhookRoutes(), h.statsRoutes(),
		h.trackingRoutes(),
	} {
		rs = append(rs, group...)
	}
	return rs
}
