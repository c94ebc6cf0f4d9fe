package quota

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/store"
)

// giveBackTimeout bounds a Cancel in shared mode: it runs after the
// caller's request has ended, on a context of its own.
const giveBackTimeout = 10 * time.Second

// NewShared returns a service that keeps its counters in st, for a store
// several nodes share: each Reserve is one st.UpdateCounters, so every
// node sees every other's counts; a Check reads them without locking. log receives failed give-backs.
// st and log must not be nil. Seed does nothing in this mode.
func NewShared(st sharedStore, defaults []ratelimit.Limit, log *slog.Logger) *Service {
	if st == nil || log == nil {
		panic("quota: NewShared: nil store or logger")
	}
	return &Service{limitStore: st, counterStore: st, defaults: defaults, log: log}
}

// sharedStore is what shared mode needs of the store: the limit overrides
// and the counters.
type sharedStore interface {
	store.LimitStore
	store.CounterStore
}

// checkShared judges one more message at req.Now from the store's counts
// of the current windows, as the in-process Check does; it counts nothing.
func (s *Service) checkShared(ctx context.Context, req ratelimit.Request) (ratelimit.Decision, error) {
	subjects := distinct(req.Subjects)
	var d ratelimit.Decision
	// A snapshot, without the subjects' locks: Check decides nothing, and
	// Reserve decides again under them.
	cur, err := s.counterStore.Counters(ctx, texts(subjects), req.Now)
	if err != nil {
		return ratelimit.Decision{}, fmt.Errorf("quota: check: %w", err)
	}
	tab := tableOf(cur)
	usage := ratelimit.Usage{}
	for _, subj := range subjects {
		usage[subj] = map[ratelimit.Period]ratelimit.Counts{}
		for _, p := range ratelimit.Periods() {
			usage[subj][p] = tab.lookup(subj, p, req.Now)
		}
	}
	d = ratelimit.Decide(req, usage)
	return d, nil
}

// reserveShared decides on req with ratelimit.Plan over the store's live
// windows and, when the message is allowed or held, adds 1 message and its
// recipients to each distinct subject in the windows of every period that
// contain the time Plan chose, all in one transaction.
func (s *Service) reserveShared(ctx context.Context, req ratelimit.Request) (ratelimit.Decision, ratelimit.Reservation, error) {
	subjects := distinct(req.Subjects)
	names := texts(subjects)
	var d ratelimit.Decision
	var taken []store.Counter
	err := s.counterStore.UpdateCounters(ctx, names, req.Now, func(cur []store.Counter) ([]store.Counter, error) {
		var at time.Time
		d, at = ratelimit.Plan(req, req.Now, tableOf(cur).lookup)
		taken = nil
		if d.Allow {
			taken = changes(subjects, at, ratelimit.Counts{Messages: 1, Recipients: max(req.Recipients, 0)})
		}
		return taken, nil
	})
	if err != nil {
		return ratelimit.Decision{}, ratelimit.Reservation{}, fmt.Errorf("quota: reserve: %w", err)
	}
	if !d.Allow {
		return d, ratelimit.Reservation{}, nil
	}
	return d, ratelimit.ReservationFunc(func() { s.giveBack(names, req.Now, taken) }), nil
}

// giveBack subtracts what a reservation made at `at` added, in the windows
// still live then (a window deleted since is gone already). It runs on its
// own context: the request that cancels may be over.
func (s *Service) giveBack(names []string, at time.Time, taken []store.Counter) {
	ctx, cancel := context.WithTimeout(context.Background(), giveBackTimeout)
	defer cancel()
	err := s.counterStore.UpdateCounters(ctx, names, at, func(cur []store.Counter) ([]store.Counter, error) {
		live := tableOf(cur)
		var back []store.Counter
		for _, c := range taken {
			if _, ok := live[keyOf(c)]; !ok {
				continue
			}
			c.Messages, c.Recipients = -c.Messages, -c.Recipients
			back = append(back, c)
		}
		return back, nil
	})
	if err != nil {
		// Subjects are user names and public key ids; nothing secret.
		s.log.Warn("quota: give back failed; the counts stay taken until their windows end",
			"subjects", names, "err", err)
	}
}

// subjectText is how a subject is named in the store: its kind and raw
// id. Not Subject.String, which rewrites characters for a reply and could
// merge two subjects. Kinds hold no space, so the text is unambiguous.
func subjectText(s ratelimit.Subject) string { return s.Kind + " " + s.ID }

// distinct returns each subject of the request once, in order: a subject
// listed twice (a user that is its own account) counts once.
func distinct(sls []ratelimit.SubjectLimits) []ratelimit.Subject {
	seen := make(map[ratelimit.Subject]bool, len(sls))
	var out []ratelimit.Subject
	for _, sl := range sls {
		if !seen[sl.Subject] {
			seen[sl.Subject] = true
			out = append(out, sl.Subject)
		}
	}
	return out
}

func texts(subjects []ratelimit.Subject) []string {
	out := make([]string, len(subjects))
	for i, s := range subjects {
		out[i] = subjectText(s)
	}
	return out
}

// changes is one count c for each subject in the window of every period
// that contains at.
func changes(subjects []ratelimit.Subject, at time.Time, c ratelimit.Counts) []store.Counter {
	out := make([]store.Counter, 0, len(subjects)*len(ratelimit.Periods()))
	for _, subj := range subjects {
		for _, p := range ratelimit.Periods() {
			start, end := ratelimit.Window(p, at)
			out = append(out, store.Counter{Subject: subjectText(subj), Period: string(p),
				Start: start, End: end, Messages: c.Messages, Recipients: c.Recipients})
		}
	}
	return out
}

// counterKey names one stored window: subject text, period, start in Unix
// seconds (windows start on a whole minute; a time.Time is no map key).
type counterKey struct {
	subject, period string
	start           int64
}

func keyOf(c store.Counter) counterKey {
	return counterKey{subject: c.Subject, period: c.Period, start: c.Start.Unix()}
}

// table is the store's live counters of some subjects, by window.
type table map[counterKey]ratelimit.Counts

func tableOf(rows []store.Counter) table {
	t := make(table, len(rows))
	for _, r := range rows {
		k := keyOf(r)
		c := t[k]
		c.Messages += r.Messages
		c.Recipients += r.Recipients
		t[k] = c
	}
	return t
}

// lookup is ratelimit.Plan's view of the table: a subject's counts in the
// window of period p that contains at.
func (t table) lookup(s ratelimit.Subject, p ratelimit.Period, at time.Time) ratelimit.Counts {
	start, _ := ratelimit.Window(p, at)
	return t[counterKey{subject: subjectText(s), period: string(p), start: start.Unix()}]
}
