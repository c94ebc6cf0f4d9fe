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
	var buckets []StatsBucket
	index := map[string]int{} // a day → its bucket
	for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
		first := bucketStart(d, by)
		if len(buckets) == 0 || !buckets[len(buckets)-1].Date.Equal(first) {
			buckets = append(buckets, StatsBucket{Date: first})
		}
		index[d.Format(DateLayout)] = len(buckets) - 1
	}
	counts, err := s.Store.EventCounts(ctx, []int64{a.User.ID}, start, end.AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("admin: stats of %s: %w", a.User.Name, err)
	}
	for _, c := range counts {
		i, ok := index[c.Day.Format(DateLayout)]
		if !ok {
			continue
		}
		m := &buckets[i].Metrics
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
	return buckets, nil
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
