package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/postern/postern/internal/observe"
	"github.com/postern/postern/internal/web"
)

// metricsHandler is the listener with a real registry behind /metrics.
func metricsHandler(t *testing.T, token string, proxies ...netip.Prefix) http.Handler {
	t.Helper()
	reg := prometheus.NewRegistry()
	observe.NewMetrics(reg).SMTPSession("mx")
	h, err := web.New(web.Config{Senders: noSenders{}, Send: sendStub, Manage: manageStub,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), MetricsToken: token, TrustedProxies: proxies})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestMetricsAccess: loopback only without a token; with one, the token
// from anyone and nobody without it. Refusals say nothing more.
func TestMetricsAccess(t *testing.T) {
	const token = "0123456789abcdef0123"
	proxy := netip.MustParsePrefix("127.0.0.1/32")
	for _, tt := range []struct {
		name    string
		token   string
		method  string
		remote  string
		xff     string
		auth    string
		proxies []netip.Prefix
		want    int
	}{
		{"loopback v4", "", "GET", "127.0.0.1:40000", "", "", nil, 200},
		{"loopback v6", "", "GET", "[::1]:40000", "", "", nil, 200},
		{"remote", "", "GET", "192.0.2.7:40000", "", "", nil, 403},
		{"private", "", "GET", "10.0.0.3:40000", "", "", nil, 403},
		{"forged XFF from remote", "", "GET", "192.0.2.7:40000", "127.0.0.1", "", nil, 403},
		{"remote behind a trusted proxy", "", "GET", "127.0.0.1:40000", "192.0.2.7", "", []netip.Prefix{proxy}, 403},
		{"XFF ignored from an untrusted loopback peer", "", "GET", "127.0.0.1:40000", "192.0.2.7", "", nil, 200},
		{"token from remote", token, "GET", "192.0.2.7:40000", "", "Bearer " + token, nil, 200},
		{"token scheme case", token, "GET", "192.0.2.7:40000", "", "bearer " + token, nil, 200},
		{"loopback without token", token, "GET", "127.0.0.1:40000", "", "", nil, 401},
		{"wrong token", token, "GET", "127.0.0.1:40000", "", "Bearer " + token + "x", nil, 401},
		{"token prefix", token, "GET", "127.0.0.1:40000", "", "Bearer " + token[:10], nil, 401},
		{"basic auth", token, "GET", "127.0.0.1:40000", "", "Basic " + token, nil, 401},
		{"POST", "", "POST", "127.0.0.1:40000", "", "", nil, 405},
		{"HEAD", "", "HEAD", "127.0.0.1:40000", "", "", nil, 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := metricsHandler(t, tt.token, tt.proxies...)
			r := httptest.NewRequest(tt.method, "/metrics", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, body)
			}
			switch tt.want {
			case 200:
				if !strings.Contains(string(body), `postern_smtp_sessions_total{listener="mx"} 1`) {
					t.Errorf("body:\n%s", body)
				}
			case 401, 403:
				if got := strings.TrimSpace(string(body)); got != http.StatusText(tt.want) {
					t.Errorf("refusal body %q: more than the status", got)
				}
				if rec.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("refusal without the security headers: %v", rec.Header())
				}
			}
		})
	}
}

// TestMetricsNotConfigured: without a handler /metrics is not found.
func TestMetricsNotConfigured(t *testing.T) {
	h, err := web.New(web.Config{Senders: noSenders{}, Send: sendStub, Manage: manageStub})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusNotFound {
		t.Errorf("status %d", rec.Code)
	}
}
