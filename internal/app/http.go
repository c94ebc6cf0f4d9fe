package app

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/postern/postern/internal/httpapi"
)

// startHTTP binds http.listen and returns the HTTP server for it, not yet
// serving: the caller runs srv.Serve(ln) and, to stop, srv.Shutdown.
func (a *App) startHTTP() (*http.Server, net.Listener, error) {
	ln, err := net.Listen("tcp", a.Config.HTTP.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("http.listen: %w", err)
	}
	log := a.Log.With("component", "http")
	h := httpapi.New(httpapi.Config{Senders: a.Store, Log: log, Now: time.Now})
	return httpapi.NewServer(h, log), ln, nil
}
