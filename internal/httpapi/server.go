package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/postern/postern/internal/sendercode"
)

// Config is what the handler needs.
type Config struct {
	// Senders redeems confirmation codes; a store.Store is one. Required.
	Senders sendercode.Confirmer
	// Log receives errors and confirmations; nil discards them.
	Log *slog.Logger
	// Now is the clock for code expiry; nil means time.Now.
	Now func() time.Time
}

// maxFormBytes limits a POST body: the form holds one short field.
const maxFormBytes = 4 << 10

// securityHeaders are set on every response.
var securityHeaders = [][2]string{
	{"Cache-Control", "no-store"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"},
}

// NewServer returns an http.Server for h with the limits a listener facing
// the Internet needs; the caller runs Serve and Shutdown. Server errors go
// to log at level Warn (nil discards them).
func NewServer(h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// New returns the handler for every route. It panics if cfg.Senders is nil.
func New(cfg Config) http.Handler {
	if cfg.Senders == nil {
		panic("httpapi: Config.Senders is nil")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &handler{cfg: cfg}
}

type handler struct {
	cfg Config
}

var _ http.Handler = (*handler)(nil)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, kv := range securityHeaders {
		w.Header().Set(kv[0], kv[1])
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.internalError(w, r, "panic", errors.New("panic in handler"), "panic", v)
		}
	}()
	switch r.URL.Path {
	case "/healthz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			h.page(w, http.StatusMethodNotAllowed, page{Title: "Method not allowed", Message: "This address only answers GET."})
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	case "/verify":
		switch r.Method {
		case http.MethodGet:
			h.verifyForm(w, r)
		case http.MethodPost:
			h.verify(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			h.page(w, http.StatusMethodNotAllowed, page{Title: "Method not allowed", Message: "Open the link from the confirmation mail in a browser."})
		}
	default:
		h.page(w, http.StatusNotFound, page{Title: "Not found", Message: "There is no page at this address."})
	}
}

// verifyForm shows the Confirm button for the code in the link, and
// changes nothing: scanners fetch links in mail.
func (h *handler) verifyForm(w http.ResponseWriter, r *http.Request) {
	code := strings.TrimSpace(r.URL.Query().Get("code"))
	if code == "" {
		h.page(w, http.StatusBadRequest, missingCode)
		return
	}
	h.page(w, http.StatusOK, page{Title: "Confirm your sender address", Code: code})
}

// verify redeems the code posted by the form.
func (h *handler) verify(w http.ResponseWriter, r *http.Request) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		h.page(w, http.StatusBadRequest, badForm)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		h.page(w, http.StatusRequestEntityTooLarge, page{Title: "Request too large", Message: "The form is larger than this page accepts."})
		return
	}
	if err != nil {
		h.page(w, http.StatusBadRequest, badForm)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		h.page(w, http.StatusBadRequest, badForm)
		return
	}
	code := form.Get("code")
	if strings.TrimSpace(code) == "" {
		h.page(w, http.StatusBadRequest, missingCode)
		return
	}
	s, err := sendercode.Confirm(r.Context(), h.cfg.Senders, code, h.cfg.Now())
	if errors.Is(err, sendercode.ErrUnknownCode) {
		h.page(w, http.StatusNotFound, page{Title: "Unknown or expired code",
			Message: "Unknown or expired code; ask for a new one. A code works once, and only until it expires."})
		return
	}
	if err != nil {
		h.internalError(w, r, "verify: confirm sender", err)
		return
	}
	h.cfg.Log.Info("sender verified", "address", s.Address, "user", s.UserName, "via", "http")
	h.page(w, http.StatusOK, page{Title: "Sender verified", Address: s.Address})
}

// internalError logs err under a new request id and answers with a page
// that shows only the id.
func (h *handler) internalError(w http.ResponseWriter, r *http.Request, msg string, err error, args ...any) {
	id := requestID()
	h.cfg.Log.ErrorContext(r.Context(), msg, append([]any{"request_id", id, "method", r.Method, "path", r.URL.Path, "err", err}, args...)...)
	h.page(w, http.StatusInternalServerError, page{Title: "Internal error",
		Message: "Something went wrong on our side; try again later. If it keeps happening, give the operator this request id.", RequestID: id})
}

// requestID is a random id that ties an error page to its log line.
func requestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var (
	missingCode = page{Title: "No code", Message: "This link has no confirmation code. Open the whole link from the confirmation mail."}
	badForm     = page{Title: "Bad request", Message: "The form could not be read. Open the link from the confirmation mail again."}
)

// page is what a response page shows: Code makes it the form, Address the
// confirmation, otherwise Message (and RequestID, when set).
type page struct {
	Title     string
	Message   string
	Code      string
	Address   string
	RequestID string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{.Title}} · Postern</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}button{font-size:1rem;padding:.5rem 1.5rem}code{word-break:break-all}</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{- if .Code}}
<p>Click Confirm to verify the sender address this link was mailed to. If you did not ask to send mail through Postern, close this page.</p>
<form method="post" action="/verify">
<input type="hidden" name="code" value="{{.Code}}">
<button type="submit">Confirm</button>
</form>
{{- else if .Address}}
<p><strong>{{.Address}}</strong> is now a verified sender.</p>
{{- else}}
<p>{{.Message}}</p>
{{- end}}
{{- with .RequestID}}
<p>Request id: <code>{{.}}</code></p>
{{- end}}
</body>
</html>
`))

// page renders p with status.
func (h *handler) page(w http.ResponseWriter, status int, p page) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		h.cfg.Log.Error("render page", "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "internal error\n")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
