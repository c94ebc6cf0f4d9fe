package sendapi

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/compose"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/web"
)

// Config is what the handler needs.
type Config struct {
	// Funnel is the submission path every message takes. Required.
	Funnel *submit.Funnel
	// ClientIP names the client of a request (web.Config.ClientIP).
	// Required.
	ClientIP func(*http.Request) netip.Addr
	// Log receives one line per request and internal errors; nil
	// discards them.
	Log *slog.Logger
	// Now is the request time for compose (send_at, Date) and for
	// Retry-After; nil means time.Now.
	Now func() time.Time
	// TLS says the listener serves HTTPS: the Received field says "with
	// HTTPS", else "with HTTP".
	TLS bool
	// MaxBodyBytes limits a request body, after gzip decoding too; 0
	// means compose.MaxRequestBytes (30 MB, as SendGrid).
	MaxBodyBytes int64
}

// New returns the handler of POST /v3/mail/send.
func New(cfg Config) (http.Handler, error) {
	if cfg.Funnel == nil || cfg.ClientIP == nil {
		return nil, errors.New("sendapi: Config.Funnel and Config.ClientIP are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = compose.MaxRequestBytes
	}
	return &handler{cfg: cfg}, nil
}

type handler struct {
	cfg Config
}

var _ http.Handler = (*handler)(nil)

// exchange is one request and what its log line reports.
type exchange struct {
	h      *handler
	w      http.ResponseWriter
	r      *http.Request
	ip     netip.Addr
	now    time.Time
	status int
	keyID  string
	ids    []string
	reason submit.Reason
	reqID  string // of a 500: the id the client was shown
	sess   string // this request's id in the funnel's log lines
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{h: h, w: w, r: r, ip: h.cfg.ClientIP(r), now: h.cfg.Now(), sess: "http-" + web.RequestID()}
	x.serve()
	args := []any{"session", x.sess, "status", x.status, "ip", x.ip.String()}
	if x.keyID != "" {
		args = append(args, "key_id", x.keyID)
	}
	if len(x.ids) > 0 {
		args = append(args, "msg_ids", strings.Join(x.ids, ","))
	}
	if x.reason != "" {
		args = append(args, "reason", string(x.reason))
	}
	if x.reqID != "" {
		args = append(args, "request_id", x.reqID)
	}
	h.cfg.Log.InfoContext(r.Context(), "mail send", args...)
}

func (x *exchange) serve() {
	f := x.h.cfg.Funnel
	ctx := x.r.Context()
	key, ok := web.Bearer(x.r.Header.Get("Authorization"))
	if !ok {
		x.fail(http.StatusUnauthorized, web.APIError{Message: "authorization required"})
		return
	}
	c, err := f.Authenticate(ctx, submit.Credentials{Username: account.Username, Password: key, ClientIP: x.ip, Session: x.sess})
	if err != nil {
		x.refused(err, at{n: -1, fromPath: fieldFrom})
		return
	}
	x.keyID = c.Key().ID
	if x.r.Header.Get("On-Behalf-Of") != "" {
		x.fail(http.StatusBadRequest, web.APIError{Message: "On-Behalf-Of is not supported: use an API key of the subuser"})
		return
	}
	body, ok := x.body()
	if !ok {
		return
	}
	req, err := compose.Decode(body)
	if err != nil {
		x.composeError(err)
		return
	}
	msgs, err := compose.Build(req, compose.Options{Now: x.now})
	if err != nil {
		x.composeError(err)
		return
	}
	if len(msgs) == 0 {
		x.fail(http.StatusBadRequest, web.APIError{Message: "at least one personalization is required", Field: "personalizations"})
		return
	}
	x.send(ctx, c, req, msgs)
}

// send runs every message's envelope through the funnel before
// committing any, so that an envelope refusal refuses the whole request;
// then commits them in order.
func (x *exchange) send(ctx context.Context, c *submit.Client, req *compose.Request, msgs []compose.Message) {
	f := x.h.cfg.Funnel
	origin := submit.Origin{With: "HTTP"}
	if x.h.cfg.TLS {
		origin.With = "HTTPS"
	}
	if st := x.r.TLS; st != nil {
		origin.TLS = tlsString(st)
	}
	where := func(i, queued int) at {
		a := at{n: i, multi: len(msgs) > 1, fromPath: fieldFrom, queued: queued}
		if i < len(req.Personalizations) && req.Personalizations[i].From != nil && req.Personalizations[i].From.Email != "" {
			a.fromPath = fmt.Sprintf("personalizations.%d.from.email", i)
		}
		return a
	}
	txs := make([]*submit.Tx, 0, len(msgs))
	defer func() {
		for _, tx := range txs {
			tx.Abort() // safe after Commit
		}
	}()
	for i, m := range msgs {
		tx, err := f.Begin(ctx, c, m.From, int64(len(m.Body)), origin)
		if err != nil {
			x.refused(err, where(i, 0))
			return
		}
		txs = append(txs, tx)
		for _, rcpt := range m.Recipients {
			if err := tx.AddRecipient(ctx, rcpt); err != nil {
				x.refused(err, where(i, 0))
				return
			}
		}
	}
	// Once the first message is queued the request runs to its end even
	// if the client goes away, so that what was queued is what the log
	// says.
	cctx := context.WithoutCancel(ctx)
	sandbox := true
	queued := 0
	for i, tx := range txs {
		m := msgs[i]
		sandbox = sandbox && m.Sandbox
		rc, err := tx.Commit(cctx, m.Body, submit.CommitOptions{Meta: m.Meta, DryRun: m.Sandbox})
		if err != nil {
			if queued > 0 {
				x.w.Header().Set("X-Message-Id", x.ids[0])
			}
			x.refused(err, where(i, queued))
			return
		}
		x.ids = append(x.ids, rc.ID)
		if !m.Sandbox {
			queued++
		}
	}
	if sandbox {
		x.ids = nil // nothing was queued under these ids
		x.status = http.StatusOK
		x.w.WriteHeader(http.StatusOK)
		return
	}
	x.w.Header().Set("X-Message-Id", x.ids[0])
	x.status = http.StatusAccepted
	x.w.WriteHeader(http.StatusAccepted)
}

// body reads the request body: JSON, at most MaxBodyBytes, gzip allowed.
// It answers the client itself when it returns false.
func (x *exchange) body() ([]byte, bool) {
	max := x.h.cfg.MaxBodyBytes
	mt, _, err := mime.ParseMediaType(x.r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		x.fail(http.StatusBadRequest, web.APIError{Message: "the request body must be JSON, with Content-Type: application/json"})
		return nil, false
	}
	tooBig := web.APIError{Message: fmt.Sprintf("content too large: the request body is over %d bytes", max)}
	if x.r.ContentLength > max {
		x.fail(http.StatusRequestEntityTooLarge, tooBig)
		return nil, false
	}
	var rd io.Reader = http.MaxBytesReader(x.w, x.r.Body, max)
	switch enc := strings.ToLower(strings.TrimSpace(x.r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			if isTooBig(err) {
				x.fail(http.StatusRequestEntityTooLarge, tooBig)
			} else {
				x.fail(http.StatusBadRequest, web.APIError{Message: "the request body is not valid gzip"})
			}
			return nil, false
		}
		defer zr.Close()
		rd = io.LimitReader(zr, max+1)
	default:
		x.fail(http.StatusBadRequest, web.APIError{Message: "Content-Encoding must be gzip or absent"})
		return nil, false
	}
	b, err := io.ReadAll(rd)
	switch {
	case isTooBig(err) || int64(len(b)) > max:
		x.fail(http.StatusRequestEntityTooLarge, tooBig)
		return nil, false
	case err != nil:
		x.fail(http.StatusBadRequest, web.APIError{Message: "the request body could not be read"})
		return nil, false
	}
	return b, true
}

func isTooBig(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// composeError answers compose's errors: every FieldError of a request
// the client must fix, else an internal error.
func (x *exchange) composeError(err error) {
	var fe compose.Errors
	var pfe *compose.Errors
	switch {
	case errors.As(err, &pfe) && pfe != nil:
		fe = *pfe
	case errors.As(err, &fe):
	default:
		x.internal("compose", err)
		return
	}
	out := make([]web.APIError, 0, len(fe))
	for _, e := range fe {
		out = append(out, web.APIError{Message: e.Message, Field: e.Field, Help: e.Help})
	}
	x.fail(http.StatusBadRequest, out...)
}

// refused answers a funnel error: its refusal, else an internal error.
func (x *exchange) refused(err error, where at) {
	ref := submit.AsRefusal(err)
	if ref == nil {
		x.internal("submit", err)
		return
	}
	x.reason = ref.Reason
	x.status = writeRefusal(x.w, ref, where, x.h.cfg.Now())
}

func (x *exchange) fail(status int, errs ...web.APIError) {
	x.status = status
	web.WriteErrors(x.w, status, errs...)
}

func (x *exchange) internal(msg string, err error) {
	x.status = http.StatusInternalServerError
	x.reqID = web.InternalError(x.w, x.r, x.h.cfg.Log, "mail send: "+msg, err, "ip", x.ip.String(), "key_id", x.keyID)
}

// tlsString describes a TLS connection for the Received field, as smtpd
// does: "TLS1.3 TLS_AES_128_GCM_SHA256".
func tlsString(st *tls.ConnectionState) string {
	return strings.ReplaceAll(tls.VersionName(st.Version), " ", "") + " " + tls.CipherSuiteName(st.CipherSuite)
}
