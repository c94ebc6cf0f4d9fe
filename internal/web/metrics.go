package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// metrics serves GET /metrics (Config.Metrics) to those allowed: with
// Config.MetricsToken set, whoever sends it as a bearer token, from
// anywhere, and nobody without it (loopback included); without a token,
// loopback clients only, as ClientIP sees them (behind a trusted proxy,
// the client it names). A refusal is a bare 401 or 403: nothing says
// what would have passed.
func (h *handler) metrics(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Metrics == nil {
		h.notFound(w, r)
		return
	}
	if want := h.cfg.MetricsToken; want != "" {
		got, ok := Bearer(r.Header.Get("Authorization"))
		if !ok || !sameToken(got, want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			bare(w, http.StatusUnauthorized)
			return
		}
	} else if ip := h.cfg.ClientIP(r); !ip.IsLoopback() {
		bare(w, http.StatusForbidden)
		return
	}
	h.cfg.Metrics.ServeHTTP(w, r)
}

// sameToken compares in constant time, lengths included: both sides are
// hashed first.
func sameToken(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// bare answers with the status and its text alone.
func bare(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(http.StatusText(status) + "\n"))
}
