package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

// ScopeStatsRead is SendGrid's scope for reading statistics.
const ScopeStatsRead = "stats.read"

// Aggregations of StatsQuery.AggregatedBy: a bucket a day, an ISO week
// (Monday to Sunday) or a calendar month, all of them UTC.
const (
	ByDay   = "day"
	ByWeek  = "week"
	ByMonth = "month"
)

// DateLayout is how statistics' dates are written: SendGrid's
// YYYY-MM-DD.
const DateLayout = "2006-01-02"

// MaxStatsDays bounds a statistics query's range.
const MaxStatsDays = 366

// StatsQuery is SendGrid's global stats query: start and end dates
// (YYYY-MM-DD, UTC, both included; End "" is today) and the bucket size
// ("" is ByDay).
type StatsQuery struct {
	Start, End   string
	AggregatedBy string
}

// StatsMetrics are SendGrid's metrics of one bucket. Opens and clicks
// are always 0: Postern does no tracking.
type StatsMetrics struct {
	Blocks           int64
	BounceDrops      int64
	Bounces          int64
	Deferred         int64
	Delivered        int64
	InvalidEmails    int64
	Processed        int64
	Requests         int64
	SpamReportDrops  int64
	SpamReports      int64
	UniqueClicks     int64
	UniqueOpens      int64
	UnsubscribeDrops int64
	Unsubscribes     int64
	Clicks           int64
	Opens            int64
}

// StatsBucket is one day, week or month of statistics: Date is its first
// day (midnight UTC; a week's Monday, a month's first), even when the
// range begins later, as SendGrid dates its buckets; only the events in
// the range are counted.
type StatsBucket struct {
	Date    time.Time
	Metrics StatsMetrics
}

// Stats returns the statistics of the Actor's user (with On-Behalf-Of,
// the subuser's; an account's do not include its subusers'), one bucket
// for every day, week or month of the range, zeros included, counted
// from the events Postern recorded for the user's messages (Postern's own
// DSNs left out):
//
//   - requests and processed: processed events (a recipient accepted
//     into the queue);
//   - delivered, deferred: those events;
//   - blocks: bounced events that are blocks (events.Blocked: a 5.7.x
//     refusal, or delivery given up after retrying); bounces: the other
//     bounced events, so that the two never count one event twice;
//   - bounce_drops: every dropped event (suppressed, or dropped by the
//     operator): Postern does not tell the suppression list that dropped
//     it apart, so spam_report_drops, unsubscribe_drops and
//     invalid_emails stay 0;
//   - spam_reports, unsubscribes: spamreport and unsubscribe events.
func (s *Service) Stats(ctx context.Context, a Actor, q StatsQuery) ([]StatsBucket, error) {
	if err := a.need(ScopeStatsRead); err != nil {
		return nil, err
	}
	start, end, by, err := s.statsRange(q)
	if err != nil {
		return nil, err
	}
	dates, index := bucketDates(start, end, by)
	counts, err := s.Store.EventCounts(ctx, []int64{a.User.ID}, start, end.AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("admin: stats of %s: %w", a.User.Name, err)
	}
	buckets := make([]StatsBucket, len(dates))
	for i, d := range dates {
		buckets[i].Date = d
	}
	for _, c := range counts {
		if i, ok := index[c.Day.Format(DateLayout)]; ok {
			buckets[i].Metrics.add(c)
		}
	}
	return buckets, nil
}

// Scopes of the per-category and per-subuser statistics (SendGrid's).
const (
	ScopeCategoryStatsRead = "categories.stats.read"
	ScopeSubuserStatsRead  = "subusers.stats.read"
)

// MaxStatsNames is how many categories or subusers one query may name.
const MaxStatsNames = 10

// NamedStats are the metrics of one category or subuser in a bucket.
type NamedStats struct {
	Name    string
	Metrics StatsMetrics
}

// NamedBucket is one day, week or month of per-category or per-subuser
// statistics: one NamedStats for every name asked about, in the order
// asked, zeros included (Date as in StatsBucket).
type NamedBucket struct {
	Date  time.Time
	Stats []NamedStats
}

// CategoryStats returns, as Stats does, the statistics of the Actor's
// user's messages per category, for each of categories (1 to
// MaxStatsNames, distinct): the events of a message count for every one
// of its categories (compose.Meta).
func (s *Service) CategoryStats(ctx context.Context, a Actor, q StatsQuery, categories []string) ([]NamedBucket, error) {
	if err := a.need(ScopeCategoryStatsRead); err != nil {
		return nil, err
	}
	if err := checkStatsNames("categories", categories); err != nil {
		return nil, err
	}
	start, end, by, err := s.statsRange(q)
	if err != nil {
		return nil, err
	}
	counts, err := s.Store.CategoryEventCounts(ctx, a.User.ID, categories, start, end.AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("admin: category stats of %s: %w", a.User.Name, err)
	}
	return namedBuckets(start, end, by, categories, counts, func(c store.DayCount) string { return c.Category }), nil
}

// SubuserStats returns, as Stats does, the statistics of each of the
// Actor's user's subusers named (1 to MaxStatsNames, distinct); a name
// that is not one of its subusers is ErrNotFound.
func (s *Service) SubuserStats(ctx context.Context, a Actor, q StatsQuery, subusers []string) ([]NamedBucket, error) {
	if err := a.need(ScopeSubuserStatsRead); err != nil {
		return nil, err
	}
	if err := checkStatsNames("subusers", subusers); err != nil {
		return nil, err
	}
	start, end, by, err := s.statsRange(q)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(subusers))
	names := map[int64]string{}
	for i, name := range subusers {
		u, err := s.subuser(ctx, a, name)
		if err != nil {
			return nil, err
		}
		ids[i], names[u.ID] = u.ID, name
	}
	counts, err := s.Store.EventCounts(ctx, ids, start, end.AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("admin: subuser stats of %s: %w", a.User.Name, err)
	}
	return namedBuckets(start, end, by, subusers, counts, func(c store.DayCount) string { return names[c.UserID] }), nil
}

func checkStatsNames(field string, names []string) error {
	switch {
	case len(names) == 0:
		return Invalid(field, "is required")
	case len(names) > MaxStatsNames:
		return Invalid(field, "may name at most %d", MaxStatsNames)
	}
	seen := map[string]bool{}
	for _, n := range names {
		switch {
		case n == "":
			return Invalid(field, "must not be empty")
		case seen[n]:
			return Invalid(field, "names %q twice", n)
		}
		seen[n] = true
	}
	return nil
}

// namedBuckets spreads counts over the range's buckets and names, name
// giving each count's.
func namedBuckets(start, end time.Time, by string, names []string, counts []store.DayCount, name func(store.DayCount) string) []NamedBucket {
	dates, index := bucketDates(start, end, by)
	at := map[string]int{}
	for i, n := range names {
		at[n] = i
	}
	buckets := make([]NamedBucket, len(dates))
	for i, d := range dates {
		buckets[i] = NamedBucket{Date: d, Stats: make([]NamedStats, len(names))}
		for j, n := range names {
			buckets[i].Stats[j].Name = n
		}
	}
	for _, c := range counts {
		i, ok := index[c.Day.Format(DateLayout)]
		j, named := at[name(c)]
		if ok && named {
			buckets[i].Stats[j].Metrics.add(c)
		}
	}
	return buckets
}

// bucketDates are the first days of the range's buckets and, for every
// day of the range, the index of its bucket.
func bucketDates(start, end time.Time, by string) ([]time.Time, map[string]int) {
	var dates []time.Time
	index := map[string]int{} // a day → its bucket
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		first := bucketStart(d, by)
		if len(dates) == 0 || !dates[len(dates)-1].Equal(first) {
			dates = append(dates, first)
		}
		index[d.Format(DateLayout)] = len(dates) - 1
	}
	return dates, index
}

// add counts c in m (Stats says how events make metrics).
func (m *StatsMetrics) add(c store.DayCount) {
	switch c.Type {
	case store.EventProcessed:
		m.Processed += c.Count
		m.Requests += c.Count
	case store.EventDelivered:
		m.Delivered += c.Count
	case store.EventDeferred:
		m.Deferred += c.Count
	case store.EventBounced:
		if events.Blocked(c.Detail) {
			m.Blocks += c.Count
		} else {
			m.Bounces += c.Count
		}
	case store.EventDropped:
		m.BounceDrops += c.Count
	case store.EventSpamReport:
		m.SpamReports += c.Count
	case store.EventUnsubscribe:
		m.Unsubscribes += c.Count
	}
}

// statsRange validates q: its first and last days (midnight UTC) and
// aggregation.
func (s *Service) statsRange(q StatsQuery) (start, end time.Time, by string, err error) {
	by = q.AggregatedBy
	switch by {
	case "":
		by = ByDay
	case ByDay, ByWeek, ByMonth:
	default:
		return start, end, "", Invalid("aggregated_by", "must be day, week or month")
	}
	if q.Start == "" {
		return start, end, "", Invalid("start_date", "is required")
	}
	start, err = time.Parse(DateLayout, q.Start)
	if err != nil {
		return start, end, "", Invalid("start_date", "must be a date in YYYY-MM-DD format")
	}
	if q.End == "" {
		now := s.now().UTC()
		end = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	} else if end, err = time.Parse(DateLayout, q.End); err != nil {
		return start, end, "", Invalid("end_date", "must be a date in YYYY-MM-DD format")
	}
	if start.After(end) {
		return start, end, "", Invalid("start_date", "must not be after the end date")
	}
	if end.Sub(start) >= MaxStatsDays*24*time.Hour {
		return start, end, "", Invalid("end_date", "must be less than %d days after the start date", MaxStatsDays)
	}
	return start, end, by, nil
}

// bucketStart is the first day of d's bucket.
func bucketStart(d time.Time, by string) time.Time {
	switch by {
	case ByWeek:
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) // back to Monday
	case ByMonth:
		return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return d
}
