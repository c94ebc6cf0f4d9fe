package web

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
)

// APIError is one entry of SendGrid's error body. An empty Field or Help
// is rendered as null.
type APIError struct {
	Message string // safe to show the client
	Field   string // the offending field, "from.email"; "" for none
	Help    string // a hint; "" for none
}

type apiErrorJSON struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

type errorBody struct {
	Errors []apiErrorJSON `json:"errors"`
	ID     string         `json:"id,omitempty"`
}

// genericInternal is the only message a 500 carries.
const genericInternal = "internal server error"

// WriteErrors answers with status and SendGrid's error body
// {"errors":[{"message":…,"field":…,"help":…}]}, Content-Type
// application/json. With no errs the message is the status text. A 500
// never shows the messages given: it is always the generic one (use
// InternalError, which adds a request id and logs the cause).
func WriteErrors(w http.ResponseWriter, status int, errs ...APIError) {
	if status == http.StatusInternalServerError {
		errs = []APIError{{Message: genericInternal}}
	}
	writeErrors(w, status, "", errs)
}

func writeErrors(w http.ResponseWriter, status int, id string, errs []APIError) {
	if len(errs) == 0 {
		errs = []APIError{{Message: strings.ToLower(http.StatusText(status))}}
	}
	body := errorBody{Errors: make([]apiErrorJSON, len(errs)), ID: id}
	for i, e := range errs {
		body.Errors[i] = apiErrorJSON{Message: e.Message, Field: nullable(e.Field), Help: nullable(e.Help)}
	}
	b, err := json.Marshal(body)
	if err != nil { // strings only: cannot fail
		b = []byte(`{"errors":[{"message":"` + genericInternal + `","field":null,"help":null}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// InternalError logs err with msg under a new request id and answers 500
// with SendGrid's error body holding only a generic message and that id
// (also in the body's "id"). It returns the id.
func InternalError(w http.ResponseWriter, r *http.Request, log *slog.Logger, msg string, err error, args ...any) string {
	id := RequestID()
	if log != nil {
		log.ErrorContext(r.Context(), msg, append([]any{"request_id", id, "method", r.Method, "path", r.URL.Path, "err", err}, args...)...)
	}
	writeErrors(w, http.StatusInternalServerError, id, []APIError{{Message: genericInternal + " (request id " + id + ")"}})
	return id
}

// RequestID is a random id that ties an error reply to its log line.
func RequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TextBadKey is what SendGrid answers (401) for a key it does not accept.
const TextBadKey = "The provided authorization grant is invalid, expired, or revoked"

// Bearer is the key of an "Authorization: Bearer KEY" field (RFC 6750
// §2.1; the scheme is case-insensitive, RFC 9110 §11.1).
func Bearer(v string) (string, bool) {
	scheme, key, ok := strings.Cut(strings.TrimSpace(v), " ")
	key = strings.TrimLeft(key, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" || strings.ContainsAny(key, " \t") {
		return "", false
	}
	return key, true
}
