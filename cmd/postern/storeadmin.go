package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/store/postgres"
	"github.com/postern/postern/internal/store/sqlite"
)

// storeCopy is "store copy --to DSN": the embedded instance's data into an
// empty PostgreSQL database, the move from one machine to a cluster.
func storeCopy(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("store copy", flag.ContinueOnError)
	to := fs.String("to", "", "the PostgreSQL database to copy into, a postgres:// URL (required; it must be empty)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 0, "store copy --to DSN"); err != nil {
		return err
	}
	if *to == "" {
		return fmt.Errorf("%w: --to DSN is required", errUsage)
	}
	src, ok := a.Store.(*sqlite.DB)
	if !ok {
		return errors.New("store copy: the configured store is not the embedded one (store.driver = \"sqlite\"); run it with the instance's own config")
	}
	dst, err := postgres.Open(ctx, *to, postgres.Options{})
	if err != nil {
		return err
	}
	defer dst.Close()
	// The writer pool: the copy reads one snapshot, and a server that
	// was not stopped cannot commit in the middle of it.
	counts, err := postgres.Copy(ctx, src.WriterPool(), dst)
	if err != nil {
		return err
	}
	for _, c := range counts {
		fmt.Fprintf(stdout, "%s\t%d\n", c.Table, c.Rows)
	}
	fmt.Fprintln(stderr, `copied. Now set store.driver = "postgres" and store.dsn in the config of each node, and start them.`)
	return nil
}
