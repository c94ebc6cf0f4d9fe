package manageapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/postern/postern/internal/events"
	"github.com/postern/postern/internal/store"
)

// seedStats records, through the store as the queue and delivery do, a
// history for acme (m1 on Nov 30, m2 on Dec 2, a DSN) and shop (m3 on
// Dec 2); beta has none.
func seedStats(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	day := func(d, h int) time.Time {
		return time.Date(2026, 11, 30, h, 0, 0, 0, time.UTC).AddDate(0, 0, d)
	}
	user := func(name string) store.User {
		u, err := e.store.UserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	acme, shop := user("acme"), user("shop")
	rcpts := []string{"r1@example.com", "r2@example.com"}
	for _, m := range []struct {
		id, from string
		meta     string
		u        store.User
		at       time.Time
		evs      []store.Event // at the message's time + 1h
	}{
		{"m1", "a@acme.example", `{"categories":["news"]}`, acme, day(0, 8), []store.Event{
			{Recipient: rcpts[0], Type: store.EventDelivered, Detail: "250 2.0.0 ok"},
			{Recipient: rcpts[1], Type: store.EventDeferred, Detail: "451 4.7.1 later"},
		}},
		{"m2", "a@acme.example", `{"categories":["promo","news"],"custom_args":{"a":"b"}}`, acme, day(2, 8), []store.Event{
			{Recipient: rcpts[0], Type: store.EventBounced, Detail: "550 5.1.1 no such user"},
			{Recipient: rcpts[1], Type: store.EventBounced, Detail: "gave up after 5 days: 451 4.4.1 timeout"},
			{Recipient: rcpts[1], Type: store.EventSpamReport},
		}},
		{"m3", "s@acme.example", `{"categories":["news"]}`, shop, day(2, 9), []store.Event{
			{Recipient: rcpts[0], Type: store.EventDelivered, Detail: "250 ok"},
			{Recipient: rcpts[1], Type: store.EventDropped, Detail: "suppressed: bounce"},
		}},
		{"d1", "", `{"categories":["news"]}`, acme, day(2, 10), []store.Event{
			{Recipient: rcpts[0], Type: store.EventDelivered, Detail: "250 ok"},
		}},
	} {
		if err := e.store.EnqueueBatch(ctx, []store.NewMessage{{ID: m.id, UserID: m.u.ID, KeyID: "k1", From: m.from,
			Recipients: rcpts, Body: []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: m.at, Meta: m.meta}}); err != nil {
			t.Fatal(err)
		}
		at := m.at.Add(time.Hour)
		for i := range m.evs {
			m.evs[i].MessageID, m.evs[i].At = m.id, at
		}
		if err := e.store.RecordAttempt(ctx, store.Attempt{MessageID: m.id, At: at, Events: m.evs}); err != nil {
			t.Fatal(err)
		}
	}
}

var metricNames = []string{"blocks", "bounce_drops", "bounces", "deferred", "delivered", "invalid_emails", "processed",
	"requests", "spam_report_drops", "spam_reports", "unique_clicks", "unique_opens", "unsubscribe_drops",
	"unsubscribes", "clicks", "opens"}

// statsOf runs GET /v3/stats as c says and returns the metrics of each
// element by its date, checking SendGrid's shape on the way.
func (e *env) statsOf(t *testing.T, c call) ([]string, []map[string]float64) {
	t.Helper()
	dates, named := e.namedStatsOf(t, c, "", 1)
	var metrics []map[string]float64
	for _, n := range named {
		metrics = append(metrics, n[""])
	}
	return dates, metrics
}

// namedStatsOf runs a GET of statistics of typ ("" for the global ones,
// "category", "subuser") and returns each element's date and metrics by
// name, checking that each element has n entries of SendGrid's shape.
func (e *env) namedStatsOf(t *testing.T, c call, typ string, n int) ([]string, []map[string]map[string]float64) {
	t.Helper()
	c.method = "GET"
	body := e.want(c, http.StatusOK)
	list, ok := body.([]any)
	if !ok {
		t.Fatalf("not a JSON array: %#v", body)
	}
	var dates []string
	var metrics []map[string]map[string]float64
	for _, el := range list {
		o := obj(t, el)
		date, _ := o["date"].(string)
		stats, _ := o["stats"].([]any)
		if len(o) != 2 || date == "" || len(stats) != n {
			t.Fatalf("element %v: want {date, stats: [%d]}", o, n)
		}
		byName := map[string]map[string]float64{}
		for _, st := range stats {
			so := obj(t, st)
			name, _ := so["name"].(string)
			if got, _ := so["type"].(string); got != typ || (typ != "" && (name == "" || len(so) != 3)) {
				t.Fatalf("entry %v: want type %q and a name", so, typ)
			}
			mo, _ := so["metrics"].(map[string]any)
			if len(mo) != len(metricNames) {
				t.Fatalf("metrics %v: want the %d of SendGrid", mo, len(metricNames))
			}
			m := map[string]float64{}
			for _, name := range metricNames {
				v, ok := mo[name].(float64)
				if !ok {
					t.Fatalf("metric %s missing or not a number: %v", name, mo)
				}
				m[name] = v
			}
			byName[name] = m
		}
		dates, metrics = append(dates, date), append(metrics, byName)
	}
	return dates, metrics
}

// TestStatsAPI (issue 15): every day of the range, zeros included, in
// SendGrid's shape; by week and month; the refusals.
func TestStatsAPI(t *testing.T) {
	e := newEnv(t)
	seedStats(t, e)
	dates, ms := e.statsOf(t, call{path: "/v3/stats?start_date=2026-11-29&end_date=2026-12-02", as: "acme"})
	if want := []string{"2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"}; len(dates) != 4 || dates[0] != want[0] || dates[3] != want[3] {
		t.Fatalf("dates %v, want %v", dates, want)
	}
	for i, want := range []map[string]float64{
		{},
		{"processed": 2, "requests": 2, "delivered": 1, "deferred": 1},
		{},
		{"processed": 2, "requests": 2, "bounces": 1, "blocks": 1, "spam_reports": 1},
	} {
		for _, name := range metricNames {
			if ms[i][name] != want[name] {
				t.Errorf("%s %s = %v, want %v", dates[i], name, ms[i][name], want[name])
			}
		}
	}
	dates, ms = e.statsOf(t, call{path: "/v3/stats?start_date=2026-11-29&end_date=2026-12-02&aggregated_by=week", as: "acme"})
	if len(dates) != 2 || dates[0] != "2026-11-23" || dates[1] != "2026-11-30" || ms[0]["processed"] != 0 || ms[1]["processed"] != 4 {
		t.Errorf("by week: %v %v", dates, ms)
	}
	dates, ms = e.statsOf(t, call{path: "/v3/stats?start_date=2026-11-29&end_date=2026-12-02&aggregated_by=month", as: "acme"})
	if len(dates) != 2 || dates[0] != "2026-11-01" || dates[1] != "2026-12-01" || ms[0]["delivered"] != 1 || ms[1]["blocks"] != 1 {
		t.Errorf("by month: %v %v", dates, ms)
	}
	dates, _ = e.statsOf(t, call{path: "/v3/stats?start_date=2026-11-29&end_date=2026-12-02&limit=2&offset=1", as: "acme"})
	if len(dates) != 2 || dates[0] != "2026-11-30" {
		t.Errorf("limit 2 offset 1: %v", dates)
	}
	today := time.Now().UTC().Format("2006-01-02")
	if dates, _ := e.statsOf(t, call{path: "/v3/stats?start_date=" + today, as: "acme"}); len(dates) != 1 || dates[0] != today {
		t.Errorf("end_date defaults to today: %v", dates)
	}
	for _, tc := range []struct{ name, query, field string }{
		{"no start_date", "", "start_date"},
		{"bad start_date", "?start_date=2026-11-31", "start_date"},
		{"bad end_date", "?start_date=2026-11-01&end_date=tomorrow", "end_date"},
		{"start after end", "?start_date=2026-12-02&end_date=2026-12-01", "start_date"},
		{"bad aggregation", "?start_date=2026-12-01&aggregated_by=hour", "aggregated_by"},
		{"bad limit", "?start_date=2026-12-01&limit=0", "limit"},
	} {
		e.wantRefusal(t, tc.name, call{method: "GET", path: "/v3/stats" + tc.query, as: "acme"}, http.StatusBadRequest, tc.field)
	}
	if st, _ := e.do(call{method: "POST", path: "/v3/stats", as: "acme"}); st != http.StatusMethodNotAllowed {
		t.Errorf("POST /v3/stats: %d", st)
	}
	// SendGrid's own client reads it.
	st, body := e.sgCall(e.keys["acme"], "GET", "/v3/stats?start_date=2026-12-02&end_date=2026-12-02", "", nil)
	if list, _ := body.([]any); st != http.StatusOK || len(list) != 1 {
		t.Errorf("sendgrid-go: %d %v", st, body)
	}
}

// /v3/stats agrees with the events: the totals over the range are what
// the events of the user's messages (store.Events) add up to.
func TestStatsAgreeWithEvents(t *testing.T) {
	e := newEnv(t)
	seedStats(t, e)
	ctx := context.Background()
	msgs, err := e.store.Messages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"acme", "shop", "beta"} {
		want := map[string]float64{}
		for _, m := range msgs {
			if m.UserName != user || m.From == "" {
				continue
			}
			evs, err := e.store.Events(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				switch ev.Type {
				case store.EventProcessed:
					want["processed"]++
					want["requests"]++
				case store.EventDelivered:
					want["delivered"]++
				case store.EventDeferred:
					want["deferred"]++
				case store.EventBounced:
					if events.Blocked(ev.Detail) {
						want["blocks"]++
					} else {
						want["bounces"]++
					}
				case store.EventDropped:
					want["bounce_drops"]++
				case store.EventSpamReport:
					want["spam_reports"]++
				case store.EventUnsubscribe:
					want["unsubscribes"]++
				}
			}
		}
		_, ms := e.statsOf(t, call{path: "/v3/stats?start_date=2026-11-01&end_date=2026-12-31&aggregated_by=month", as: user})
		got := map[string]float64{}
		for _, m := range ms {
			for k, v := range m {
				got[k] += v
			}
		}
		for _, name := range metricNames {
			if got[name] != want[name] {
				t.Errorf("%s: %s = %v over the range, the events say %v", user, name, got[name], want[name])
			}
		}
	}
}

// TestCategoryStatsAPI (issue 15): a message's events count for each of
// its categories, another user's never; every name asked about in every
// bucket.
func TestCategoryStatsAPI(t *testing.T) {
	e := newEnv(t)
	seedStats(t, e)
	dates, ms := e.namedStatsOf(t, call{method: "GET", as: "acme",
		path: "/v3/categories/stats?start_date=2026-11-30&end_date=2026-12-02&categories=news&categories=promo&categories=none"}, "category", 3)
	if len(dates) != 3 || dates[0] != "2026-11-30" || dates[2] != "2026-12-02" {
		t.Fatalf("dates %v", dates)
	}
	for _, tc := range []struct {
		day         int
		name, field string
		want        float64
	}{
		{0, "news", "delivered", 1}, {0, "news", "processed", 2}, {0, "promo", "processed", 0},
		{2, "news", "processed", 2}, {2, "promo", "processed", 2}, {2, "news", "bounces", 1}, {2, "promo", "blocks", 1},
		{2, "promo", "spam_reports", 1}, {2, "news", "delivered", 0}, // shop's and the DSN's are not acme's
		{1, "news", "processed", 0}, {2, "none", "processed", 0},
	} {
		if got := ms[tc.day][tc.name][tc.field]; got != tc.want {
			t.Errorf("%s %s %s = %v, want %v", dates[tc.day], tc.name, tc.field, got, tc.want)
		}
	}
	_, ms = e.namedStatsOf(t, call{method: "GET", as: "acme", obo: "shop",
		path: "/v3/categories/stats?start_date=2026-11-01&end_date=2026-12-31&aggregated_by=month&categories=news"}, "category", 1)
	if ms[1]["news"]["delivered"] != 1 || ms[1]["news"]["bounce_drops"] != 1 || ms[0]["news"]["processed"] != 0 {
		t.Errorf("shop's news by month: %v", ms)
	}
	for _, tc := range []struct{ name, query, field string }{
		{"no categories", "?start_date=2026-12-01", "categories"},
		{"empty category", "?start_date=2026-12-01&categories=", "categories"},
		{"twice", "?start_date=2026-12-01&categories=a&categories=a", "categories"},
		{"eleven", "?start_date=2026-12-01&categories=1&categories=2&categories=3&categories=4&categories=5&categories=6" +
			"&categories=7&categories=8&categories=9&categories=10&categories=11", "categories"},
		{"no start_date", "?categories=news", "start_date"},
	} {
		e.wantRefusal(t, tc.name, call{method: "GET", path: "/v3/categories/stats" + tc.query, as: "acme"}, http.StatusBadRequest, tc.field)
	}
}

// TestSubuserStatsAPI (issue 15): an account reads each of its subusers'
// statistics; anyone else's subuser, or an account, is 404.
func TestSubuserStatsAPI(t *testing.T) {
	e := newEnv(t)
	seedStats(t, e)
	dates, ms := e.namedStatsOf(t, call{method: "GET", as: "acme",
		path: "/v3/subusers/stats?start_date=2026-11-30&end_date=2026-12-02&subusers=shop"}, "subuser", 1)
	if len(dates) != 3 || ms[2]["shop"]["delivered"] != 1 || ms[2]["shop"]["bounce_drops"] != 1 || ms[2]["shop"]["processed"] != 2 || ms[0]["shop"]["processed"] != 0 {
		t.Errorf("shop: %v %v", dates, ms)
	}
	dates, _ = e.namedStatsOf(t, call{method: "GET", as: "acme",
		path: "/v3/subusers/stats?start_date=2026-11-30&end_date=2026-12-02&subusers=shop&limit=1&offset=2"}, "subuser", 1)
	if len(dates) != 1 || dates[0] != "2026-12-02" {
		t.Errorf("limit 1 offset 2: %v", dates)
	}
	for _, tc := range []struct{ as, subuser string }{{"beta", "shop"}, {"acme", "acme"}, {"acme", "beta"}, {"acme", "nobody"}} {
		if st, body := e.do(call{method: "GET", as: tc.as, path: "/v3/subusers/stats?start_date=2026-12-01&subusers=" + tc.subuser}); st != http.StatusNotFound {
			t.Errorf("%s asking for %s: %d %v, want 404", tc.as, tc.subuser, st, body)
		}
	}
	e.wantRefusal(t, "no subusers", call{method: "GET", path: "/v3/subusers/stats?start_date=2026-12-01", as: "acme"}, http.StatusBadRequest, "subusers")
}

func TestStatsScopes(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []scopeCase{
		{"stats.read", "GET", "/v3/stats?start_date=2026-12-01&end_date=2026-12-02", nil, http.StatusOK},
		{"categories.stats.read", "GET", "/v3/categories/stats?start_date=2026-12-01&categories=news", nil, http.StatusOK},
		{"subusers.stats.read", "GET", "/v3/subusers/stats?start_date=2026-12-01&subusers=shop", nil, http.StatusOK},
	} {
		without, with := e.scopeKeys(t, "acme", tc.scope)
		if st, body := e.do(call{method: tc.method, path: tc.path, as: "key:" + without}); !forbidden(st, body) {
			t.Errorf("%s %s without %s: %d %v", tc.method, tc.path, tc.scope, st, body)
		}
		if st, body := e.do(call{method: tc.method, path: tc.path, as: "key:" + with}); st != tc.status {
			t.Errorf("%s %s with %s: %d %v, want %d", tc.method, tc.path, tc.scope, st, body, tc.status)
		}
	}
	if st, body := e.do(call{method: "GET", path: "/v3/stats?start_date=2026-12-01", as: "key:" + e.sendOnly}); !forbidden(st, body) {
		t.Errorf("mail.send key: %d %v", st, body)
	}
}

// Tenant isolation: each actor sees its own user's statistics only (an
// account's without its subusers'); B on behalf of A's subuser is 404.
func TestStatsTenantIsolation(t *testing.T) {
	e := newEnv(t)
	seedStats(t, e)
	const path = "/v3/stats?start_date=2026-11-01&end_date=2026-12-31&aggregated_by=month"
	for _, tc := range []struct {
		as, obo            string
		processed, bounces float64
	}{
		{"acme", "", 4, 1},
		{"shop", "", 2, 0},
		{"acme", "shop", 2, 0},
		{"beta", "", 0, 0},
		{"bsub", "", 0, 0},
	} {
		_, ms := e.statsOf(t, call{path: path, as: tc.as, obo: tc.obo})
		var processed, bounces float64
		for _, m := range ms {
			processed, bounces = processed+m["processed"], bounces+m["bounces"]
		}
		if processed != tc.processed || bounces != tc.bounces {
			t.Errorf("%s obo %q: processed %v bounces %v, want %v %v", tc.as, tc.obo, processed, bounces, tc.processed, tc.bounces)
		}
	}
	for _, c := range []call{{as: "beta", obo: "shop"}, {as: "shop", obo: "acme"}, {as: "acme", obo: "bsub"}} {
		c.method, c.path = "GET", path
		e.want(c, http.StatusNotFound)
	}
}
