package web

import (
	"bytes"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/postern/postern/internal/sendercode"
)

// maxFormBytes limits a POST body: the form holds one short field.
const maxFormBytes = 4 << 10

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
	id := RequestID()
	h.cfg.Log.ErrorContext(r.Context(), msg, append([]any{"request_id", id, "method", r.Method, "path", r.URL.Path, "err", err}, args...)...)
	h.page(w, http.StatusInternalServerError, page{Title: "Internal error",
		Message: "Something went wrong on our side; try again later. If it keeps happening, give the operator this request id.", RequestID: id})
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
