package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP is the address of the client that sent r: the TCP peer, unless
// the peer is one of c.TrustedProxies, in which case it is the right-most
// address of X-Forwarded-For that is not a trusted proxy. Each trusted
// proxy appends the address it received from, so the entries right of
// that one were written by proxies and the ones left of it by the client,
// who may forge them. When every entry is a trusted proxy the left-most
// is the client; an entry that does not parse stops the walk at the
// trusted hop that wrote it. The zero Addr means the peer address did not
// parse (never the case for a real connection).
func (c Config) ClientIP(r *http.Request) netip.Addr {
	peer := parseHop(r.RemoteAddr)
	if !peer.IsValid() || !trusted(peer, c.TrustedProxies) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHop(hops[i])
		if !a.IsValid() {
			return client
		}
		client = a
		if !trusted(a, c.TrustedProxies) {
			return a
		}
	}
	return client
}

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop parses an address with or without a port ("192.0.2.1",
// "192.0.2.1:443", "[2001:db8::1]:443", "[2001:db8::1]"), without zone,
// IPv4-mapped IPv6 as IPv4; the zero Addr when it is none of these.
func parseHop(s string) netip.Addr {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		if ap, err2 := netip.ParseAddrPort(s); err2 == nil {
			a, err = ap.Addr(), nil
		} else if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			a, err = netip.ParseAddr(s[1 : len(s)-1])
		}
	}
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// NeedsTLS reports whether a listener on listenAddr ("host:port") must
// serve HTTPS: API keys travel on it, so plain HTTP is only for a
// loopback address or "localhost". An empty host (all interfaces) and
// any other name need TLS.
func NeedsTLS(listenAddr string) bool {
	host, _, err := net.SplitHostPort(listenAddr)
	if err != nil {
		host = strings.TrimSuffix(strings.TrimPrefix(listenAddr, "["), "]")
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err != nil || !a.Unmap().IsLoopback()
}
