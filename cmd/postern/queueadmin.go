package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/admin"
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

// operator is the CLI's Actor for operations that act for no one user,
// such as the queue's: every scope, every tenant.
func operator() admin.Actor { return admin.Actor{Operator: true} }

// defaultQueueLimit is queue list's limit on a terminal.
const defaultQueueLimit = 50

func queueList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	var states []string
	for _, st := range admin.QueueStates() {
		states = append(states, string(st))
	}
	fs := flag.NewFlagSet("queue list", flag.ContinueOnError)
	state := fs.String("state", "", "only messages in this state: "+strings.Join(states, ", ")+
		" (deferred: queued and tried already; delivered, bounced, dropped: a recipient is)")
	user := fs.String("user", "", "only this user's messages")
	since := fs.String("since", "", "only messages created since then: a time back from now (30m, 2h, 7d) or a time (2026-12-01T09:00:00Z, 2026-12-01)")
	limit := fs.Int("limit", -1, fmt.Sprintf("at most N messages; 0: all (default %d on a terminal, all when the output goes to a pipe or file)", defaultQueueLimit))
	after := fs.String("after", "", "start after this message: the last id of the previous page")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 0, "queue list [--state STATE] [--user NAME] [--since WHEN] [--limit N] [--after ID]"); err != nil {
		return err
	}
	f := admin.QueueFilter{State: admin.QueueState(*state), User: *user, After: *after, Limit: *limit}
	if *since != "" {
		if f.Since, err = parseSince(*since, time.Now()); err != nil {
			return fmt.Errorf("%w: --since: %v", errUsage, err)
		}
	}
	given := false
	fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == "limit" })
	switch {
	case given && f.Limit < 0:
		return fmt.Errorf("%w: --limit: %d is negative (0: no limit)", errUsage, f.Limit)
	case !given && isTerminal(stdout):
		f.Limit = defaultQueueLimit
	case !given:
		f.Limit = 0
	}
	page, err := a.Admin.ListQueue(ctx, operator(), f)
	if err != nil {
		return queueError(err, "")
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, m := range page.Messages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", printable(m.ID), printable(orDash(m.UserName)), printable(orDash(m.KeyID)), printable(nullSender(m.From)),
			printable(strings.Join(m.Recipients, ",")), m.Size, m.State, stamp(m.CreatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case page.More:
		shown := fmt.Sprintf("%d messages", len(page.Messages))
		if len(page.Messages) == 1 {
			shown = "1 message"
		}
		fmt.Fprintf(stderr, "%s shown, more match: add --after %s for the next page, or --limit 0 for all\n", shown, printable(page.Next))
	case len(page.Messages) == 0 && (f.State != "" || f.User != "" || !f.Since.IsZero() || f.After != ""):
		fmt.Fprintln(stderr, "no message matches")
	case len(page.Messages) == 0:
		fmt.Fprintln(stderr, "the queue is empty")
	}
	return nil
}

// parseSince reads --since: a duration back from now (Go's, and d for
// days), an RFC 3339 time, or a date (midnight UTC).
func parseSince(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now is not negative", s)
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (30m, 2h, 7d) nor a time (2026-12-01T09:00:00Z, 2026-12-01)", s)
}

// isTerminal reports whether w is a character device, such as a
// terminal: where a person reads, rather than a pipe or a file.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func queueShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := oneID("queue show", args)
	if err != nil {
		return err
	}
	d, err := a.Admin.ShowMessage(ctx, operator(), id)
	if err != nil {
		return queueError(err, fmt.Sprintf("message %q not found", id))
	}
	m := d.Message
	fmt.Fprintf(stdout, "id:       %s\nuser:     %s\nkey:      %s\nfrom:     %s\nsize:     %d\nstate:    %s\ncreated:  %s\n",
		printable(m.ID), printable(orDash(m.UserName)), printable(orDash(m.KeyID)), printable(nullSender(m.From)), m.Size, m.State, stamp(m.CreatedAt))
	fmt.Fprintf(stdout, "attempts: %d\nnext try: %s\n", m.Attempts, nextTry(m, time.Now()))
	if r := d.LastReply; r.Type != "" {
		fmt.Fprintf(stdout, "reply:    %s (%s, %s %s)\n", printable(orDash(r.Detail)), r.Type, printable(orDash(r.Recipient)), stamp(r.At))
	} else {
		fmt.Fprintln(stdout, "reply:    - (no attempt has ended yet)")
	}
	if m.Meta != "" {
		// Categories and custom args (X-SMTPAPI or the send API), as stored.
		fmt.Fprintf(stdout, "meta:     %s\n", printable(m.Meta))
	}
	fmt.Fprintln(stdout, "recipients:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, r := range d.Recipients {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", printable(r.Address), r.State, printable(orDash(r.LastResult)))
	}
	tw.Flush()
	fmt.Fprintln(stdout, "events:")
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range d.Events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", stamp(e.At), e.Type, printable(orDash(e.Recipient)), printable(e.Detail))
	}
	return tw.Flush()
}

// nextTry says when a message is next due: "-" once it is done.
func nextTry(m store.Message, now time.Time) string {
	switch {
	case m.State != store.StateQueued || m.NextAttempt.IsZero():
		return "-"
	case !m.NextAttempt.After(now):
		return stamp(m.NextAttempt) + " (due now)"
	}
	return stamp(m.NextAttempt) + " (in " + m.NextAttempt.Sub(now).Round(time.Second).String() + ")"
}

func queueRetry(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := oneID("queue retry", args)
	if err != nil {
		return err
	}
	if err := a.Admin.RetryMessage(ctx, operator(), id); err != nil {
		return queueError(err, fmt.Sprintf("queued message %q not found", id))
	}
	fmt.Fprintf(stderr, "message %s is due now\n", printable(id))
	return nil
}

func queueDrop(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := oneID("queue drop", args)
	if err != nil {
		return err
	}
	if err := a.Admin.DropMessage(ctx, operator(), id); err != nil {
		return queueError(err, fmt.Sprintf("message with pending recipients %q not found", id))
	}
	fmt.Fprintf(stderr, "dropped the pending recipients of %s\n", printable(id))
	return nil
}

// queueError words the queue operations' errors for the operator:
// notFound for ErrNotFound ("" for the object the error names).
func queueError(err error, notFound string) error {
	var invalid *admin.InvalidError
	switch {
	case errors.As(err, &invalid):
		return fmt.Errorf("%w: --%s: %s", errUsage, invalid.Field, invalid.Message)
	case errors.Is(err, admin.ErrNotFound) && notFound != "":
		return errors.New(notFound)
	case errors.Is(err, admin.ErrNotFound):
		// "admin: not found: user "x"" → "user "x" not found"
		_, what, _ := strings.Cut(err.Error(), admin.ErrNotFound.Error()+": ")
		return fmt.Errorf("%s not found", what)
	}
	return err
}

func nullSender(from string) string {
	if from == "" {
		return "<>"
	}
	return from
}
