package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/web"
	"github.com/postern/postern/internal/web/manageapi"
	"github.com/postern/postern/internal/web/sendapi"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// startHTTP binds http.listen and returns the HTTP server for it, not yet
// serving: the caller runs srv.Serve(ln) and, to stop, srv.Shutdown. API
// keys travel on this listener, so unless it is bound to loopback ln is a
// TLS listener with tlsConf (tlsconf.Server of the [tls] certificate);
// plain HTTP is only for loopback. proxies are the trusted reverse
// proxies whose X-Forwarded-For names the client.
func (a *App) startHTTP(funnel *submit.Funnel, unsubs web.Unsubscriber, tlsConf *tls.Config, proxies []netip.Prefix) (*http.Server, net.Listener, error) {
	listen := a.Config.HTTP.Listen
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, nil, fmt.Errorf("http.listen: %w", err)
	}
	// The bound address decides too: "localhost" that resolved elsewhere
	// still gets TLS.
	useTLS := web.NeedsTLS(listen) || web.NeedsTLS(ln.Addr().String())
	if useTLS {
		if tlsConf == nil {
			ln.Close()
			return nil, nil, errors.New("http.listen: a listener that is not on loopback needs the [tls] certificate")
		}
		conf := tlsConf.Clone()
		conf.NextProtos = []string{"h2", "http/1.1"}
		ln = tls.NewListener(ln, conf)
	}
	log := a.Log.With("component", "http")
	wc := web.Config{Senders: a.Store, TrustedProxies: proxies, Log: log, Now: time.Now, Unsubscribe: unsubs,
		Metrics: promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{
			ErrorHandling: promhttp.ContinueOnError, // a store error loses its gauge, not the scrape
			ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}),
		MetricsToken: a.Config.HTTP.MetricsToken}
	send, err := sendapi.New(sendapi.Config{Funnel: funnel, ClientIP: wc.ClientIP, Log: log, Now: time.Now, TLS: useTLS})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	wc.Send = send
	manage, err := manageapi.New(manageapi.Config{Funnel: funnel, Admin: a.Admin,
		ClientIP: wc.ClientIP, Log: log})
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	wc.Manage = manage
	h, err := web.New(wc)
	if err != nil {
		ln.Close()
		return nil, nil, err
	}
	return web.NewServer(h, log), ln, nil
}
