package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/observe"
)

// serve runs until SIGTERM or SIGINT, then shuts down gracefully within
// smtp.shutdown_timeout.
func serve(ctx context.Context, cfg config.Config, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	debug := fs.Bool("debug", false, "log at debug level")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 0, "no arguments"); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := observe.NewLogger(stderr, observe.Format(cfg.Log.Format), level)

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	log.Info("starting", "hostname", cfg.Hostname, "data_dir", cfg.DataDir, "store", cfg.Store.Driver)
	r, err := a.Start()
	if err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("signal received, shutting down", "timeout", cfg.SMTP.ShutdownTimeout.String())
	case serveErr = <-r.Err():
		log.Error("listener failed, shutting down", "err", serveErr)
	}
	stop() // a second signal kills at once
	sctx, cancel := context.WithTimeout(context.Background(), cfg.SMTP.ShutdownTimeout.Duration)
	defer cancel()
	if err := r.Stop(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return serveErr
}
