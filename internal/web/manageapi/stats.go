package manageapi

import (
	"net/http"
	"net/url"

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
//
//	GET /v3/categories/stats?start_date=…&categories=A[&categories=B…][&end_date=…][&aggregated_by=…]
//	    categories.stats.read  200 [{"date", "stats": [{"type": "category", "name", "metrics"}…]}…]
//	GET /v3/subusers/stats?start_date=…&subusers=A[&subusers=B…][&end_date=…][&aggregated_by=…][&limit=N][&offset=N]
//	    subusers.stats.read    200 [{"date", "stats": [{"type": "subuser", "name", "metrics"}…]}…]
//
// The same buckets, one entry in each for every category or subuser
// asked about (1 to 10), in the order asked, zeros included. A category's
// are the events of the acting user's messages that carry it; a subuser
// must be one of the acting user's (else 404). A missing or repeated
// name is 400 with categories or subusers as field.
func (h *handler) statsRoutes() []route {
	return []route{
		{method: "GET", pattern: "/v3/stats", scope: admin.ScopeStatsRead, do: h.getStats},
		{method: "GET", pattern: "/v3/categories/stats", scope: admin.ScopeCategoryStatsRead, do: h.getCategoryStats},
		{method: "GET", pattern: "/v3/subusers/stats", scope: admin.ScopeSubuserStatsRead, do: h.getSubuserStats},
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
	Type    string       `json:"type,omitempty"` // "category", "subuser"
	Name    string       `json:"name,omitempty"`
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
	buckets, err := h.cfg.Admin.Stats(rq.r.Context(), rq.actor, statsQuery(q))
	if err != nil {
		return err
	}
	out := []statsDay{}
	for i, b := range buckets {
		if i < offset || len(out) >= limit {
			continue
		}
		out = append(out, statsDay{Date: b.Date.Format(admin.DateLayout), Stats: []statsEntry{{Metrics: metricsOf(b.Metrics)}}})
	}
	return rq.reply(http.StatusOK, out)
}

func (h *handler) getCategoryStats(rq *request) error {
	q := rq.r.URL.Query()
	buckets, err := h.cfg.Admin.CategoryStats(rq.r.Context(), rq.actor, statsQuery(q), q["categories"])
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, namedDays("category", buckets, 0, len(buckets)))
}

func (h *handler) getSubuserStats(rq *request) error {
	q := rq.r.URL.Query()
	limit, offset, err := rq.page(admin.MaxStatsDays, admin.MaxStatsDays)
	if err != nil {
		return err
	}
	buckets, err := h.cfg.Admin.SubuserStats(rq.r.Context(), rq.actor, statsQuery(q), q["subusers"])
	if err != nil {
		return err
	}
	return rq.reply(http.StatusOK, namedDays("subuser", buckets, offset, limit))
}

func statsQuery(q url.Values) admin.StatsQuery {
	return admin.StatsQuery{Start: q.Get("start_date"), End: q.Get("end_date"), AggregatedBy: q.Get("aggregated_by")}
}

// namedDays renders limit buckets from offset, their entries of typ.
func namedDays(typ string, buckets []admin.NamedBucket, offset, limit int) []statsDay {
	out := []statsDay{}
	for i, b := range buckets {
		if i < offset || len(out) >= limit {
			continue
		}
		day := statsDay{Date: b.Date.Format(admin.DateLayout), Stats: []statsEntry{}}
		for _, n := range b.Stats {
			day.Stats = append(day.Stats, statsEntry{Type: typ, Name: n.Name, Metrics: metricsOf(n.Metrics)})
		}
		out = append(out, day)
	}
	return out
}

func metricsOf(m admin.StatsMetrics) statsMetrics {
	return statsMetrics{
		Blocks: m.Blocks, BounceDrops: m.BounceDrops, Bounces: m.Bounces, Deferred: m.Deferred,
		Delivered: m.Delivered, InvalidEmails: m.InvalidEmails, Processed: m.Processed, Requests: m.Requests,
		SpamReportDrops: m.SpamReportDrops, SpamReports: m.SpamReports, UniqueClicks: m.UniqueClicks,
		UniqueOpens: m.UniqueOpens, UnsubscribeDrops: m.UnsubscribeDrops, Unsubscribes: m.Unsubscribes,
		Clicks: m.Clicks, Opens: m.Opens,
	}
}
