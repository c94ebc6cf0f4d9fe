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
	"github.com/postern/postern/internal/quota"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/store"
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
	if err := lim.Validate(); err != nil {
		return err
	}
	row := store.LimitRow{Period: string(p), Messages: *messages, Recipients: *recipients, Mode: string(m)}
	if *user != "" {
		if _, err := a.Store.UserByName(ctx, *user); err != nil {
			return friendly(err, "user", *user)
		}
		row.Kind, row.Subject = ratelimit.KindUser, *user
	} else {
		if _, err := a.Store.APIKey(ctx, *key); err != nil {
			return friendly(err, "API key", *key)
		}
		row.Kind, row.Subject = ratelimit.KindKey, *key
	}
	if err := a.Store.SetLimit(ctx, row); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s %s: %s\n", row.Kind, printable(row.Subject), lim)
	return nil
}

func limitList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	if err := noArgs("limit list", args); err != nil {
		return err
	}
	rows, err := a.Store.Limits(ctx, "", "")
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
	var b strings.Builder
	for _, p := range ratelimit.Periods() {
		start, _ := ratelimit.Window(p, now)
		rows, err := a.Store.UsageSince(ctx, start)
		if err != nil {
			return "", err
		}
		c := quota.Tally(rows)[ratelimit.User(name)]
		fmt.Fprintf(&b, "  this %-6s  %d messages, %d recipients (since %s)\n", p, c.Messages, c.Recipients, stamp(start))
	}
	return b.String(), nil
}
