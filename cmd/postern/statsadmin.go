package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/app"
)

// statsShow prints the user's statistics (admin.Stats, what GET /v3/stats
// answers), one bucket a line: DATE REQUESTS DELIVERED DEFERRED BOUNCES
// BLOCKS DROPS SPAM_REPORTS UNSUBSCRIBES. It is "stats show", not
// "stats": the command line's words are a group and a command, serve
// alone excepted.
func statsShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stats show", flag.ContinueOnError)
	user := fs.String("user", "", "the user whose statistics they are (required; an account's leave its subusers out)")
	start := fs.String("start", "", "the first day, YYYY-MM-DD, UTC (default: 7 days ago)")
	end := fs.String("end", "", "the last day, YYYY-MM-DD, UTC (default: today)")
	by := fs.String("by", admin.ByDay, "a line per day, week (from its Monday) or month")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 0, "stats show --user NAME [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--by day|week|month]"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: stats show needs --user NAME", errUsage)
	}
	if *start == "" {
		*start = time.Now().UTC().AddDate(0, 0, -7).Format(admin.DateLayout)
	}
	act, err := a.Admin.Operator(ctx, *user)
	if err != nil {
		return friendly(err, "user", *user)
	}
	buckets, err := a.Admin.Stats(ctx, act, admin.StatsQuery{Start: *start, End: *end, AggregatedBy: *by})
	var inv *admin.InvalidError
	if errors.As(err, &inv) {
		flags := map[string]string{"start_date": "--start", "end_date": "--end", "aggregated_by": "--by"}
		return fmt.Errorf("%s: %s", flags[inv.Field], inv.Message)
	}
	if err != nil {
		return friendly(err, "user", *user)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, b := range buckets {
		m := b.Metrics
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", b.Date.Format(admin.DateLayout), m.Requests, m.Delivered,
			m.Deferred, m.Bounces, m.Blocks, m.BounceDrops+m.SpamReportDrops+m.UnsubscribeDrops, m.SpamReports, m.Unsubscribes)
	}
	return tw.Flush()
}
