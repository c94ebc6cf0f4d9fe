package web

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"

	"github.com/postern/postern/internal/unsub"
)

// Unsubscriber redeems one-click unsubscribe tokens (internal/unsub.Service):
// Check changes nothing, Unsubscribe records. A token that does not
// verify is unsub.ErrInvalid.
type Unsubscriber interface {
	Check(ctx context.Context, tok string) (unsub.Token, error)
	Unsubscribe(ctx context.Context, tok string) (unsub.Outcome, error)
}

// unsubscribeForm answers GET /unsubscribe/{token}, the link a person
// clicks: a page whose button POSTs, and nothing changed (link scanners
// fetch every URL in a message).
func (h *handler) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Unsubscribe == nil {
		h.notFound(w, r)
		return
	}
	if _, err := h.cfg.Unsubscribe.Check(r.Context(), r.PathValue("token")); err != nil {
		h.unsubscribeFailed(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := unsubscribeTemplate.Execute(&buf, nil); err != nil {
		h.internalError(w, r, "unsubscribe: render", err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// unsubscribe answers POST /unsubscribe/{token}: RFC 8058 §3.1's
// one-click POST, whose body (form-urlencoded or multipart/form-data,
// §3.2) is List-Unsubscribe=One-Click, or the form's button.
func (h *handler) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Unsubscribe == nil {
		h.notFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		h.page(w, http.StatusRequestEntityTooLarge, page{Title: "Request too large", Message: "The request is larger than this page accepts."})
		return
	}
	if err != nil || !oneClick(r.Header.Get("Content-Type"), body) {
		h.page(w, http.StatusBadRequest, page{Title: "Bad request",
			Message: "An unsubscribe request carries List-Unsubscribe=One-Click (RFC 8058). Open the link from the message in a browser and press the button."})
		return
	}
	if _, err := h.cfg.Unsubscribe.Unsubscribe(r.Context(), r.PathValue("token")); err != nil {
		h.unsubscribeFailed(w, r, err)
		return
	}
	h.page(w, http.StatusOK, page{Title: "Unsubscribed", Message: "You are unsubscribed: this sender's mail will no longer be sent to your address."})
}

// oneClick reports whether body is a form whose List-Unsubscribe field
// is One-Click, and nothing else.
func oneClick(contentType string, body []byte) bool {
	var form url.Values
	mt, params, _ := mime.ParseMediaType(contentType)
	if mt == "multipart/form-data" {
		if params["boundary"] == "" {
			return false
		}
		f, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(maxFormBytes)
		if err != nil {
			return false
		}
		defer f.RemoveAll()
		if len(f.File) > 0 {
			return false
		}
		form = f.Value
	} else {
		// application/x-www-form-urlencoded, or a client that named no
		// type: the body is read as a form either way.
		var err error
		if form, err = url.ParseQuery(string(bytes.TrimSpace(body))); err != nil {
			return false
		}
	}
	v := form["List-Unsubscribe"]
	return len(form) == 1 && len(v) == 1 && v[0] == "One-Click"
}

// unsubscribeFailed answers a token that does not verify with a bare 404,
// and anything else as an internal error: never its text.
func (h *handler) unsubscribeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, unsub.ErrInvalid) {
		h.page(w, http.StatusNotFound, page{Title: "Not found", Message: "This unsubscribe link is not valid. Open the whole link from the message."})
		return
	}
	h.internalError(w, r, "unsubscribe", err)
}

var unsubscribeTemplate = template.Must(template.New("unsubscribe").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>Unsubscribe · Postern</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}button{font-size:1rem;padding:.5rem 1.5rem}</style>
</head>
<body>
<h1>Unsubscribe</h1>
<p>Press Unsubscribe to stop this sender's mail to the address this link was sent to. Nothing changes until you do.</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>
</body>
</html>
`))
