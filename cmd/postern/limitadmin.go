package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/ratelimit"
)

func limitSet(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("limit set", flag.ContinueOnError)
	user := fs.String("user", "", "the user the limit applies to")
	key := fs.String("key", "", "the API key id the limit applies to")
	per := fs.String("per", "", "minute, hour, day or month (required)")
	messages := fs.Int64("messages", 0, "messages per period (0: unlimited)")
	recipients := fs.Int64("recipients", 0, "recipients per period (0: unlimited)")
	mode := fs.String("mode", "reject", "reject (451 until the window opens) or hold (accept, deliver later)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	usage := "limit set (--user NAME | --key ID) --per minute|hour|day|month [--messages N] [--recipients N] [--mode reject|hold]"
	if err := positionals(pos, 0, usage); err != nil {
		return err
	}
	if (*user == "") == (*key == "") {
		return fmt.Errorf("%w: give exactly one of --user and --key", errUsage)
	}
	p, err := ratelimit.ParsePeriod(*per)
	if err != nil {
		return fmt.Errorf("%w: --per: %v", errUsage, err)
	}
	m, err := ratelimit.ParseMode(*mode)
	if err != nil {
		return fmt.Errorf("%w: --mode: %v", errUsage, err)
	}
	lim := ratelimit.Limit{Period: p, Messages: *messages, Recipients: *recipients, Mode: m}
	row, err := a.Admin.SetLimit(ctx, admin.Actor{Operator: true}, admin.LimitTarget{User: *user, Key: *key}, lim)
	if err != nil {
		what, name := "user", *user
		if *user == "" {
			what, name = "API key", *key
		}
		return friendly(err, what, name)
	}
	fmt.Fprintf(stderr, "%s %s: %s\n", row.Kind, printable(row.Subject), lim)
	return nil
}

func limitList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	if err := noArgs("limit list", args); err != nil {
		return err
	}
	rows, err := a.Admin.ListLimits(ctx, admin.Actor{Operator: true})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	l := a.Config.Limits
	for i, p := range ratelimit.Periods() {
		m := [4]int64{l.MessagesPerMinute, l.MessagesPerHour, l.MessagesPerDay, l.MessagesPerMonth}[i]
		r := [4]int64{l.RecipientsPerMinute, l.RecipientsPerHour, l.RecipientsPerDay, l.RecipientsPerMonth}[i]
		if m > 0 || r > 0 {
			fmt.Fprintf(tw, "default\t*\t%s\t%s\t%s\t%s\n", p, count(m), count(r), l.Mode)
		}
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(r.Kind), printable(r.Subject), printable(r.Period), count(r.Messages), count(r.Recipients), printable(r.Mode))
	}
	return tw.Flush()
}

func count(n int64) string {
	if n <= 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

// usageLines reports a user's messages and recipients in each current
// window, counted from the queue as the server counts them at start.
func usageLines(ctx context.Context, a *app.App, name string, now time.Time) (string, error) {
	usage, err := a.Admin.UserUsage(ctx, admin.Actor{Operator: true}, name, now)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, u := range usage {
		fmt.Fprintf(&b, "  this %-6s  %d messages, %d recipients (since %s)\n", u.Period, u.Messages, u.Recipients, stamp(u.Since))
	}
	return b.String(), nil
}
