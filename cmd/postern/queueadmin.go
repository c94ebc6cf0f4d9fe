package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/store"
)

// oneID takes the single positional argument of commands like
// "queue show ID" and "user show NAME".
func oneID(cmd string, args []string) (string, error) {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return "", fmt.Errorf("%w: expected %s and one argument", errUsage, cmd)
	}
	return args[0], nil
}

func queueShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := oneID("queue show", args)
	if err != nil {
		return err
	}
	m, err := a.Store.Message(ctx, id)
	if err != nil {
		return friendly(err, "message", id)
	}
	rcpts, err := a.Store.Recipients(ctx, id)
	if err != nil {
		return err
	}
	events, err := a.Store.Events(ctx, id)
	if err != nil {
		return err
	}
	from := m.From
	if from == "" {
		from = "<>"
	}
	fmt.Fprintf(stdout, "id:       %s\nuser:     %s\nkey:      %s\nfrom:     %s\nsize:     %d\nstate:    %s\ncreated:  %s\n",
		printable(m.ID), printable(orDash(m.UserName)), printable(orDash(m.KeyID)), printable(from), m.Size, m.State, stamp(m.CreatedAt))
	if m.Meta != "" {
		// Categories and custom args (X-SMTPAPI or the send API), as stored.
		fmt.Fprintf(stdout, "meta:     %s\n", printable(m.Meta))
	}
	fmt.Fprintln(stdout, "recipients:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, r := range rcpts {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", printable(r.Address), r.State, printable(orDash(r.LastResult)))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "events:")
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", stamp(e.At), e.Type, printable(orDash(e.Recipient)), printable(e.Detail))
	}
	return tw.Flush()
}

func queueRetry(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := oneID("queue retry", args)
	if err != nil {
		return err
	}
	if err := a.Store.RetryNow(ctx, id, time.Now()); err != nil {
		return friendly(err, "queued message", id)
	}
	fmt.Fprintf(stderr, "message %s is due now\n", printable(id))
	return nil
}

func queueDrop(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := oneID("queue drop", args)
	if err != nil {
		return err
	}
	if err := a.Store.Drop(ctx, id, "dropped by the operator", time.Now()); err != nil {
		return friendly(err, "message with pending recipients", id)
	}
	fmt.Fprintf(stderr, "dropped the pending recipients of %s\n", printable(id))
	return nil
}

// suppressionFlags parses --user (required) and the positional address.
func suppressionFlags(cmd string, args []string, wantAddr bool, extra func(*flag.FlagSet)) (user, addr string, err error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	u := fs.String("user", "", "the user whose list it is (required)")
	if extra != nil {
		extra(fs)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", "", err
	}
	want, usage := 0, cmd+" --user NAME"
	if wantAddr {
		want, usage = 1, cmd+" ADDRESS --user NAME"
	}
	if err := positionals(pos, want, usage); err != nil {
		return "", "", err
	}
	if *u == "" {
		return "", "", fmt.Errorf("%w: %s needs --user NAME", errUsage, cmd)
	}
	if wantAddr {
		addr = strings.ToLower(pos[0])
		if at := strings.LastIndexByte(addr, '@'); at <= 0 || at == len(addr)-1 {
			return "", "", fmt.Errorf("%q is not an email address", pos[0])
		}
	}
	return *u, addr, nil
}

func suppressionList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, _, err := suppressionFlags("suppression list", args, false, nil)
	if err != nil {
		return err
	}
	u, err := a.Store.UserByName(ctx, user)
	if err != nil {
		return friendly(err, "user", user)
	}
	list, err := a.Store.Suppressions(ctx, u.ID)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(s.Address), stamp(s.CreatedAt), printable(s.Reason))
	}
	return tw.Flush()
}

func suppressionAdd(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	var reason *string
	user, addr, err := suppressionFlags("suppression add", args, true, func(fs *flag.FlagSet) {
		reason = fs.String("reason", "added by the operator", "why")
	})
	if err != nil {
		return err
	}
	u, err := a.Store.UserByName(ctx, user)
	if err != nil {
		return friendly(err, "user", user)
	}
	if err := a.Store.AddSuppression(ctx, store.Suppression{UserID: u.ID, Address: addr, Reason: *reason, CreatedAt: time.Now()}); err != nil {
		return friendly(err, "suppression of", addr)
	}
	fmt.Fprintf(stderr, "%s will not be sent to for %s\n", printable(addr), printable(user))
	return nil
}

func suppressionRemove(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, addr, err := suppressionFlags("suppression remove", args, true, nil)
	if err != nil {
		return err
	}
	u, err := a.Store.UserByName(ctx, user)
	if err != nil {
		return friendly(err, "user", user)
	}
	if err := a.Store.RemoveSuppression(ctx, u.ID, addr); err != nil {
		return friendly(err, "suppression of", addr)
	}
	fmt.Fprintf(stderr, "removed %s from %s's suppression list\n", printable(addr), printable(user))
	return nil
}
