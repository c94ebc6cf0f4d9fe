package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/testenv"
)

// TestHTTPListener: Start binds http.listen next to the SMTP listeners,
// /healthz answers on Running.HTTPAddr, and Stop closes it.
func TestHTTPListener(t *testing.T) {
	cfg := testenv.LoopbackConfig(t)
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, err := a.Start()
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			r.Stop(ctx)
		}
	}()
	if r.HTTPAddr == nil {
		t.Fatal("no HTTPAddr")
	}
	url := "http://" + r.HTTPAddr.String() + "/healthz"
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "ok\n" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /healthz: %d %q %v", res.StatusCode, body, res.Header)
	}

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.Stop(sctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if c, err := net.DialTimeout("tcp", r.HTTPAddr.String(), time.Second); err == nil {
		c.Close()
		t.Fatal("HTTP listener still open after Stop")
	}
}

// TestHTTPListenerBusy: an http.listen that cannot be bound fails Start,
// and the SMTP listeners bound before it are released.
func TestHTTPListenerBusy(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpAddr := smtpLn.Addr().String()
	smtpLn.Close()

	cfg := testenv.LoopbackConfig(t)
	cfg.SMTP.Submission = []string{smtpAddr}
	cfg.HTTP.Listen = busy.Addr().String()
	a, err := app.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, err := a.Start()
	if err == nil {
		r.Stop(context.Background())
		t.Fatal("Start succeeded with http.listen in use")
	}
	if !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("error %q does not name http.listen", err)
	}
	ln, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		t.Fatalf("submission listener not released: %v", err)
	}
	ln.Close()
}
