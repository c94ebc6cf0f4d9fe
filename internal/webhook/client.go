package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/netguard"
	"github.com/postern/postern/internal/tlsconf"
)

// UserAgent is the User-Agent header of every POST.
const UserAgent = "Postern-Event-Webhook/1.0"

// Limits of the HTTP client.
const (
	MaxURLLength      = 2048
	maxResponseBody   = 4 << 10
	maxResponseHeader = 16 << 10
	dialTimeout       = 10 * time.Second
	tlsTimeout        = 10 * time.Second
)

// Error is a failed POST, test or URL check. Its Text is short and safe
// to show to the webhook's owner ("HTTP 503", "connect: connection
// refused"): it never holds a response body, the URL's path or query, or
// Go's error text. Error returns Text alone.
type Error struct {
	Text string
	err  error
}

func (e *Error) Error() string { return e.Text }

// Unwrap returns the cause, for errors.Is; its text is not for showing.
func (e *Error) Unwrap() error { return e.err }

// errorText is err's text for the webhook's record.
func errorText(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Text
	}
	return "request failed"
}

// ValidateURL checks a webhook URL as the settings API takes it: http or
// https, a host, a port from 1 to 65535 if any, no user name or password,
// at most MaxURLLength bytes. The error is an *Error. It does not resolve
// the host: whether its addresses may be reached is decided at each POST
// (webhooks.allow_private_networks).
func ValidateURL(raw string) error {
	bad := func(text string) error { return &Error{Text: text} }
	if raw == "" {
		return bad("URL is empty")
	}
	if len(raw) > MaxURLLength {
		return bad(fmt.Sprintf("URL is longer than %d characters", MaxURLLength))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		return bad("URL must start with http:// or https://")
	}
	if u.User != nil {
		return bad("URL must not hold a user name or password")
	}
	if u.Hostname() == "" {
		return bad("URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("URL port must be a number from 1 to 65535")
		}
	}
	return nil
}

// newClient builds the HTTP client of every POST: the guarded dialer, no
// proxy, no redirects, the timeouts of the package comment.
func (d *Dispatcher) newClient() *http.Client {
	tr := &http.Transport{
		Proxy:       nil, // an environment proxy would connect where netguard never looked
		DialContext: d.dialContext,
		TLSClientConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			CipherSuites: tlsconf.CipherSuites,
		},
		TLSHandshakeTimeout:    tlsTimeout,
		ResponseHeaderTimeout:  d.cfg.Timeout,
		MaxResponseHeaderBytes: maxResponseHeader,
		MaxIdleConns:           4 * d.cfg.Concurrency,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   d.cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// refusal is a host none of whose addresses may be connected to.
type refusal struct {
	host    string
	refused []netip.Addr
}

func (r *refusal) Error() string {
	a := r.refused[0]
	var s string
	if a.String() == r.host {
		s = fmt.Sprintf("address %s (%s) is not allowed", a, netguard.Private(a))
	} else {
		s = fmt.Sprintf("%s resolves to %s (%s), which is not allowed", r.host, a, netguard.Private(a))
	}
	switch n := len(r.refused) - 1; {
	case n == 1:
		s += ", nor is its 1 other address"
	case n > 1:
		s += fmt.Sprintf(", nor are its %d other addresses", n)
	}
	return s + " (webhooks.allow_private_networks is off)"
}

// dialContext resolves addr's host itself and connects to its addresses
// in turn, each an IP literal, refusing those netguard.Private names
// unless AllowPrivateNetworks: no name is resolved between the check and
// the connect.
func (d *Dispatcher) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = d.cfg.Resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
	}
	dialer := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	var refused []netip.Addr
	var last error
	for _, ip := range ips {
		if !d.cfg.AllowPrivateNetworks {
			if netguard.Private(ip) != "" {
				refused = append(refused, ip)
				continue
			}
		}
		c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	switch {
	case last != nil:
		return nil, last
	case len(refused) > 0:
		return nil, &refusal{host: host, refused: refused}
	}
	return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
}

// post POSTs body to rawURL, signed by signer when it is not nil. Any
// answer but 2xx is an error; every error is an *Error.
func (d *Dispatcher) post(ctx context.Context, rawURL string, body []byte, signer *events.Signer) error {
	if err := ValidateURL(rawURL); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return &Error{Text: "not a valid URL", err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	if signer != nil {
		sig, ts, err := signer.Sign(body, d.cfg.Now(), d.cfg.Rand)
		if err != nil {
			return &Error{Text: "cannot sign the events", err: err}
		}
		req.Header.Set(events.SignatureHeader, sig)
		req.Header.Set(events.TimestampHeader, ts)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return &Error{Text: describe(err, d.cfg.Timeout), err: err}
	}
	// Read a little, so that a short answer leaves the connection
	// reusable; what it says is never looked at.
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 300 && c < 400:
		return &Error{Text: fmt.Sprintf("HTTP %d: redirect not followed", c)}
	default:
		return &Error{Text: fmt.Sprintf("HTTP %d", c)}
	}
}

// describe turns a failed request into a short text safe to show the
// webhook's owner. It never quotes err (a *url.Error holds the URL,
// whose query may be a secret; a malformed response is quoted in its
// error).
func describe(err error, timeout time.Duration) string {
	var ref *refusal
	if errors.As(err, &ref) {
		return ref.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsNotFound:
			return "lookup " + dnsErr.Name + ": no such host"
		case dnsErr.IsTimeout:
			return "lookup " + dnsErr.Name + ": timeout"
		}
		return "lookup " + dnsErr.Name + ": failed"
	}
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var invalidErr x509.CertificateInvalidError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &hostErr):
		return "TLS: the certificate is not valid for " + hostErr.Host
	case errors.As(err, &authErr):
		return "TLS: the certificate is signed by an unknown authority"
	case errors.As(err, &invalidErr) && invalidErr.Reason == x509.Expired:
		return "TLS: the certificate has expired or is not yet valid"
	case errors.As(err, &certErr):
		return "TLS: the certificate is not valid"
	case errors.As(err, &recErr), strings.Contains(err.Error(), "gave HTTP response to HTTPS client"):
		return "TLS: the receiver does not speak TLS"
	case errors.As(err, &alert):
		return "TLS: handshake failed"
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return "timeout after " + timeout.String()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return "connect: connection refused"
		case errors.Is(err, syscall.ENETUNREACH):
			return "connect: network unreachable"
		case errors.Is(err, syscall.EHOSTUNREACH):
			return "connect: host unreachable"
		}
		return "connect: failed"
	}
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the receiver"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the receiver before it answered"
	case strings.Contains(err.Error(), "malformed HTTP"):
		return "malformed HTTP response"
	}
	return "request failed"
}
