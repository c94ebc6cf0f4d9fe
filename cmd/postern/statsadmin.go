package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/app"
)

// statsUsage is stats show's synopsis.
const statsUsage = "stats show --user NAME [--start YYYY-MM-DD] [--end YYYY-MM-DD] [--by day|week|month] [--categories C,… | --subusers NAME,…]"

// statsShow prints the user's statistics (admin.Stats, what GET /v3/stats
// answers), one bucket a line: DATE REQUESTS DELIVERED DEFERRED BOUNCES
// BLOCKS DROPS SPAM_REPORTS UNSUBSCRIBES; with --categories or
// --subusers (GET /v3/categories/stats, /v3/subusers/stats), a line per
// bucket and name, the name after the date. It is "stats show", not
// "stats": the command line's words are a group and a command, serve
// alone excepted.
func statsShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stats show", flag.ContinueOnError)
	user := fs.String("user", "", "the user whose statistics they are (required; an account's leave its subusers out)")
	start := fs.String("start", "", "the first day, YYYY-MM-DD, UTC (default: 7 days ago)")
	end := fs.String("end", "", "the last day, YYYY-MM-DD, UTC (default: today)")
	by := fs.String("by", admin.ByDay, "a line per day, week (from its Monday) or month")
	categories := fs.String("categories", "", "comma-separated categories: the user's messages of each (at most 10)")
	subusers := fs.String("subusers", "", "comma-separated subusers of the user: each one's statistics (at most 10)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 0, statsUsage); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: stats show needs --user NAME", errUsage)
	}
	if *categories != "" && *subusers != "" {
		return fmt.Errorf("%w: stats show takes --categories or --subusers, not both", errUsage)
	}
	if *start == "" {
		*start = time.Now().UTC().AddDate(0, 0, -7).Format(admin.DateLayout)
	}
	act, err := a.Admin.Operator(ctx, *user)
	if err != nil {
		return friendly(err, "user", *user)
	}
	q := admin.StatsQuery{Start: *start, End: *end, AggregatedBy: *by}
	var named []admin.NamedBucket
	switch {
	case *categories != "":
		named, err = a.Admin.CategoryStats(ctx, act, q, strings.Split(*categories, ","))
	case *subusers != "":
		named, err = a.Admin.SubuserStats(ctx, act, q, strings.Split(*subusers, ","))
	default:
		var buckets []admin.StatsBucket
		buckets, err = a.Admin.Stats(ctx, act, q)
		for _, b := range buckets {
			named = append(named, admin.NamedBucket{Date: b.Date, Stats: []admin.NamedStats{{Metrics: b.Metrics}}})
		}
	}
	var inv *admin.InvalidError
	if errors.As(err, &inv) {
		flags := map[string]string{"start_date": "--start", "end_date": "--end", "aggregated_by": "--by",
			"categories": "--categories", "subusers": "--subusers"}
		return fmt.Errorf("%s: %s", flags[inv.Field], inv.Message)
	}
	if errors.Is(err, admin.ErrNotFound) && *subusers != "" {
		return fmt.Errorf("--subusers: %s has no such subuser", *user)
	}
	if err != nil {
		return friendly(err, "user", *user)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, b := range named {
		for _, n := range b.Stats {
			m := n.Metrics
			fmt.Fprintf(tw, "%s\t", b.Date.Format(admin.DateLayout))
			if n.Name != "" || len(b.Stats) > 1 || *categories != "" || *subusers != "" {
				fmt.Fprintf(tw, "%s\t", n.Name)
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", m.Requests, m.Delivered,
				m.Deferred, m.Bounces, m.Blocks, m.BounceDrops+m.SpamReportDrops+m.UnsubscribeDrops, m.SpamReports, m.Unsubscribes)
		}
	}
	return tw.Flush()
}
