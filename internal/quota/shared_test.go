package quota_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/quota"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/postgres"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/testenv"
)

// twoNodes opens two handles on one fresh database, as two `postern serve`
// nodes would: a pool each, nothing shared but the database.
type twoNodes func(t *testing.T) (a, b store.Store)

func postgresNodes(t *testing.T) (store.Store, store.Store) {
	dsn := testenv.PostgresDSN(t)
	open := func() store.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return open(), open()
}

func sqliteNodes(t *testing.T) (store.Store, store.Store) {
	path := t.TempDir() + "/q.db"
	open := func() store.Store {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return open(), open()
}

// sharedPair is a shared-mode service on each node, and the principal
// (key k1 of user acme) they serve, with a user limit set in the store.
func sharedPair(t *testing.T, nodes twoNodes, lim store.LimitRow) (a, b store.Store, qs [2]*quota.Service, p account.Principal) {
	t.Helper()
	ctx := context.Background()
	a, b = nodes(t)
	acme, err := a.CreateUser(ctx, "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	lim.Kind, lim.Subject = "user", "acme"
	if err := a.SetLimit(ctx, lim); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	qs = [2]*quota.Service{quota.NewShared(a, nil, log), quota.NewShared(b, nil, log)}
	for _, q := range qs {
		if err := q.Seed(ctx, time.Now()); err != nil { // a no-op in shared mode
			t.Fatal(err)
		}
	}
	return a, b, qs, account.Principal{Key: store.APIKey{ID: "k1", UserID: acme.ID}, User: acme, Account: acme}
}

// counters reads the live counter rows of subjects, as every node sees
// them, by subject, period and window start ("user acme hour 10:00").
func counters(t *testing.T, st store.Store, now time.Time, subjects ...string) map[string]store.Counter {
	t.Helper()
	out := map[string]store.Counter{}
	err := st.UpdateCounters(context.Background(), subjects, now, func(cur []store.Counter) ([]store.Counter, error) {
		for _, c := range cur {
			out[rowName(c.Subject, c.Period, c.Start)] = c
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rowName(subject, period string, start time.Time) string {
	return subject + " " + period + " " + start.UTC().Format("2006-01-02T15:04")
}

// TestSharedExactAcrossNodes (issue 13): 60 sessions, split across two
// nodes on one database, race for a user's 20 messages an hour; exactly 20
// are admitted, and the store's counters say 20, not 2×20.
func TestSharedExactAcrossNodes(t *testing.T) {
	for name, nodes := range map[string]twoNodes{"postgres": postgresNodes, "sqlite": sqliteNodes} {
		t.Run(name, func(t *testing.T) {
			const sessions, limit = 60, 20
			now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
			a, _, qs, p := sharedPair(t, nodes, store.LimitRow{Period: "hour", Messages: limit, Mode: "reject"})
			ctx := context.Background()
			var mu sync.Mutex
			allowed, refused := 0, 0
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range sessions {
				wg.Go(func() {
					<-start
					d, _, err := qs[i%2].Reserve(ctx, p, 2, now)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					switch {
					case d.Allow && !d.Hold:
						allowed++
					case !d.Allow && !d.Permanent && d.RetryAfter == 30*time.Minute &&
						strings.Contains(d.Reason, "user acme: 20 messages per hour reached"):
						refused++
					default:
						t.Errorf("unexpected decision %+v", d)
					}
				})
			}
			close(start)
			wg.Wait()
			if allowed != limit || refused != sessions-limit {
				t.Fatalf("allowed %d, refused %d; want exactly %d and %d", allowed, refused, limit, sessions-limit)
			}
			got := counters(t, a, now, "user acme", "key k1")
			for _, subj := range []string{"user acme", "key k1"} {
				for _, per := range ratelimit.Periods() {
					start, end := ratelimit.Window(per, now)
					c := got[rowName(subj, string(per), start)]
					if c.Messages != limit || c.Recipients != 2*limit || !c.Start.Equal(start) || !c.End.Equal(end) {
						t.Errorf("%s %s counter = %+v, want %d messages, %d recipients in [%v, %v)",
							subj, per, c, limit, 2*limit, start, end)
					}
				}
			}
			if len(got) != 8 {
				t.Errorf("%d counter rows, want 8 (2 subjects × 4 periods): %v", len(got), got)
			}
		})
	}
}

// TestSharedCancelGivesBack: counts given back on one node are free for
// either node; a second Cancel gives nothing more.
func TestSharedCancelGivesBack(t *testing.T) {
	for name, nodes := range map[string]twoNodes{"postgres": postgresNodes, "sqlite": sqliteNodes} {
		t.Run(name, func(t *testing.T) {
			now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
			_, b, qs, p := sharedPair(t, nodes, store.LimitRow{Period: "hour", Messages: 20, Mode: "reject"})
			ctx := context.Background()
			reserve := func(i int) (ratelimit.Decision, ratelimit.Reservation) {
				t.Helper()
				d, res, err := qs[i%2].Reserve(ctx, p, 1, now)
				if err != nil {
					t.Fatal(err)
				}
				return d, res
			}
			var kept []ratelimit.Reservation
			for i := range 20 {
				if d, res := reserve(i); !d.Allow {
					t.Fatalf("message %d refused: %+v", i, d)
				} else {
					kept = append(kept, res)
				}
			}
			if d, res := reserve(20); d.Allow || res != (ratelimit.Reservation{}) {
				t.Fatalf("21st: %+v, want refused with no reservation", d)
			}
			for _, res := range kept[:5] { // both nodes' reservations
				res.Cancel()
				res.Cancel()
			}
			hour, _ := ratelimit.Window(ratelimit.Hour, now)
			if c := counters(t, b, now, "user acme")[rowName("user acme", "hour", hour)]; c.Messages != 15 || c.Recipients != 15 {
				t.Fatalf("after 5 cancels: %+v, want 15", c)
			}
			for i := range 5 {
				if d, _ := reserve(i + 1); !d.Allow {
					t.Fatalf("after the give-back, message %d refused: %+v", i, d)
				}
			}
			if d, _ := reserve(0); d.Allow {
				t.Fatalf("past the limit again: %+v, want refused", d)
			}
			d, err := qs[1].Check(ctx, p, now)
			if err != nil || d.Allow {
				t.Fatalf("Check at the limit: %+v %v, want refused", d, err)
			}
		})
	}
}

// TestSharedHoldAsInProcess: over a hold-mode limit a message is held until
// the next window, not refused; held mail cannot burst a reject limit of
// the window it is released into; and shared mode over two nodes decides
// the sequence exactly as the in-process service does.
func TestSharedHoldAsInProcess(t *testing.T) {
	for name, nodes := range map[string]twoNodes{"postgres": postgresNodes, "sqlite": sqliteNodes} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			at := func(h, m, s int) time.Time { return time.Date(2026, 11, 23, h, m, s, 0, time.UTC) }
			// The user: 3 messages an hour, then held. The key: 2 a minute, refused.
			a, _, qs, p := sharedPair(t, nodes, store.LimitRow{Period: "hour", Messages: 3, Mode: "hold"})
			if err := a.SetLimit(ctx, store.LimitRow{Kind: "key", Subject: "k1", Period: "minute", Messages: 2, Mode: "reject"}); err != nil {
				t.Fatal(err)
			}
			local := quota.New(a, nil)
			if err := local.Seed(ctx, at(10, 58, 0)); err != nil {
				t.Fatal(err)
			}
			const allow, hold, refuse = "allow", "hold", "refuse"
			steps := []struct {
				now   time.Time
				rcpts int
				want  string
				until time.Time     // hold: the release time
				retry time.Duration // refuse
			}{
				{now: at(10, 58, 0), rcpts: 1, want: allow},
				{now: at(10, 58, 0), rcpts: 2, want: allow},
				{now: at(10, 58, 10), rcpts: 1, want: refuse, retry: 50 * time.Second}, // the key's minute
				{now: at(10, 59, 1), rcpts: 1, want: allow},                            // the hour's third
				{now: at(10, 59, 2), rcpts: 3, want: hold, until: at(11, 0, 0)},
				{now: at(10, 59, 3), rcpts: 1, want: hold, until: at(11, 0, 0)},
				// 11:00's minute already has the key's 2 held messages:
				// refused until that minute ends.
				{now: at(10, 59, 10), rcpts: 1, want: refuse, retry: time.Minute + 50*time.Second},
				{now: at(11, 0, 0), rcpts: 1, want: refuse, retry: time.Minute},
				{now: at(11, 1, 0), rcpts: 2, want: allow}, // 11:00's hour: 2 held + this one
				{now: at(11, 1, 0), rcpts: 1, want: hold, until: at(12, 0, 0)},
				{now: at(11, 2, 0), rcpts: 1, want: hold, until: at(12, 0, 0)},
				{now: at(11, 2, 0), rcpts: 1, want: refuse, retry: 59 * time.Minute}, // 12:00's minute is full
			}
			for i, s := range steps {
				node := qs[i%2]
				cw, err := local.Check(ctx, p, s.now)
				if err != nil {
					t.Fatal(err)
				}
				cg, err := qs[(i+1)%2].Check(ctx, p, s.now)
				if err != nil {
					t.Fatal(err)
				}
				if !sameDecision(cg, cw) {
					t.Errorf("step %d Check at %v: shared %+v, in process %+v", i, s.now, cg, cw)
				}
				want, _, err := local.Reserve(ctx, p, s.rcpts, s.now)
				if err != nil {
					t.Fatal(err)
				}
				d, _, err := node.Reserve(ctx, p, s.rcpts, s.now)
				if err != nil {
					t.Fatal(err)
				}
				if !sameDecision(d, want) {
					t.Errorf("step %d Reserve at %v: shared %+v, in process %+v", i, s.now, d, want)
				}
				switch s.want {
				case allow:
					if !d.Allow || d.Hold {
						t.Errorf("step %d at %v: %+v, want allowed", i, s.now, d)
					}
				case hold:
					if !d.Allow || !d.Hold || !d.HoldUntil.Equal(s.until) ||
						!strings.Contains(d.Reason, "message held until "+s.until.Format("2006-01-02 15:04 UTC")) {
						t.Errorf("step %d at %v: %+v, want held until %v", i, s.now, d, s.until)
					}
				case refuse:
					if d.Allow || d.Permanent || d.RetryAfter != s.retry {
						t.Errorf("step %d at %v: %+v, want refused for %v", i, s.now, d, s.retry)
					}
				}
			}
			// Held mail is counted in the windows it is released into.
			rows := counters(t, a, at(10, 59, 59), "user acme", "key k1") // 11:00's minute still ahead
			for _, w := range []struct {
				subject, period string
				start           time.Time
				msgs, rcpts     int64
			}{
				{"user acme", "hour", at(11, 0, 0), 3, 6},
				{"user acme", "hour", at(12, 0, 0), 2, 2},
				{"key k1", "minute", at(11, 0, 0), 2, 4},
				{"key k1", "minute", at(12, 0, 0), 2, 2},
				{"key k1", "day", at(0, 0, 0), 8, 12},
			} {
				c := rows[rowName(w.subject, w.period, w.start)]
				if c.Messages != w.msgs || c.Recipients != w.rcpts {
					t.Errorf("%s %s %v: %+v, want %d messages, %d recipients", w.subject, w.period, w.start, c, w.msgs, w.rcpts)
				}
			}
		})
	}
}

func sameDecision(a, b ratelimit.Decision) bool {
	if (a.Blocking == nil) != (b.Blocking == nil) || (a.Blocking != nil && *a.Blocking != *b.Blocking) {
		return false
	}
	return a.Allow == b.Allow && a.Hold == b.Hold && a.HoldUntil.Equal(b.HoldUntil) &&
		a.RetryAfter == b.RetryAfter && a.Permanent == b.Permanent &&
		a.BlockingSubject == b.BlockingSubject && a.Reason == b.Reason
}
