package manageapi

import (
	"net/http"

	"github.com/postern/postern/internal/admin"
)

// Global statistics (tsg_stats_v3.json), over admin's Stats:
//
//	GET /v3/stats?start_date=YYYY-MM-DD[&end_date=YYYY-MM-DD][&aggregated_by=day|week|month][&limit=N][&offset=N]
//	    stats.read  200 [{"date", "stats": [{"metrics": {…}}]}…]
//
// One element a day, week (from its Monday) or month (from its first),
// every one of the range, zeros included; the metrics are SendGrid's
// sixteen (admin.Stats says how Postern's events make them; opens and
// clicks are 0). The statistics are the acting user's: with On-Behalf-Of,
// the subuser's; an account's leave its subusers' out. A bad or missing
// date, a start after the end, a range of a year or more and an unknown
// aggregation are 400 with the parameter as field. limit and offset
// page the elements.
func (h *handler) statsRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v3/stats", scope: admin.ScopeStatsRead, do: h.getStats},
	}
}

// statsMetrics is SendGrid's metrics object.
type statsMetrics struct {
	Blocks           int64 `json:"blocks"`
	BounceDrops      int64 `json:"bounce_drops"`
	Bounces          int64 `json:"bounces"`
	Deferred         int64 `json:"deferred"`
	Delivered        int64 `json:"delivered"`
	InvalidEmails    int64 `json:"invalid_emails"`
	Processed        int64 `json:"processed"`
	Requests         int64 `json:"requests"`
	SpamReportDrops  int64 `json:"spam_report_drops"`
	SpamReports      int64 `json:"spam_reports"`
	UniqueClicks     int64 `json:"unique_clicks"`
	UniqueOpens      int64 `json:"unique_opens"`
	UnsubscribeDrops int64 `json:"unsubscribe_drops"`
	Unsubscribes     int64 `json:"unsubscribes"`
	Clicks           int64 `json:"clicks"`
	Opens            int64 `json:"opens"`
}

type statsEntry struct {
	Metrics statsMetrics `json:"metrics"`
}

type statsDay struct {
	Date  string       `json:"date"`
	Stats []statsEntry `json:"stats"`
}

func (h *handler) getStats(rq *request) error {
	q := rq.r.URL.Query()
	limit, offset, err := rq.page(admin.MaxStatsDays, admin.MaxStatsDays)
	if err != nil {
		return err
	}
	buckets, err := h.cfg.Admin.Stats(rq.r.Context(), rq.actor, admin.StatsQuery{
		Start: q.Get("start_date"), End: q.Get("end_date"), AggregatedBy: q.Get("aggregated_by"),
	})
	if err != nil {
		return err
	}
	out := []statsDay{}
	for i, b := range buckets {
		if i < offset || len(out) >= limit {
			continue
		}
		m := b.Metrics
		out = append(out, statsDay{Date: b.Date.Format(admin.DateLayout), Stats: []statsEntry{{Metrics: statsMetrics{
			Blocks: m.Blocks, BounceDrops: m.BounceDrops, Bounces: m.Bounces, Deferred: m.Deferred,
			Delivered: m.Delivered, InvalidEmails: m.InvalidEmails, Processed: m.Processed, Requests: m.Requests,
			SpamReportDrops: m.SpamReportDrops, SpamReports: m.SpamReports, UniqueClicks: m.UniqueClicks,
			UniqueOpens: m.UniqueOpens, UnsubscribeDrops: m.UnsubscribeDrops, Unsubscribes: m.Unsubscribes,
			Clicks: m.Clicks, Opens: m.Opens,
		}}}})
	}
	return rq.reply(http.StatusOK, out)
}
