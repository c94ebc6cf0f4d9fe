package abuse_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/abuse"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/postgres"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/testenv"
)

// TestSharedSpamCountsAcrossNodes: two nodes' Watches on one database add
// to one spam-rejection count, so the user is suspended after the
// threshold in all, not per node; after a resume the count starts again.
func TestSharedSpamCountsAcrossNodes(t *testing.T) {
	ctx := context.Background()
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			var nodes []store.Store
			switch driver {
			case "sqlite":
				path := filepath.Join(t.TempDir(), "postern.db")
				for range 2 {
					db, err := sqlite.Open(ctx, path)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					nodes = append(nodes, db)
				}
			case "postgres":
				dsn := testenv.PostgresDSN(t)
				for range 2 {
					db, err := postgres.Open(ctx, dsn, postgres.Options{})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Close() })
					nodes = append(nodes, db)
				}
			}
			if _, err := nodes[0].CreateUser(ctx, "acme", ""); err != nil {
				t.Fatal(err)
			}
			th := abuse.Thresholds{SpamRejections: 10, SpamWindow: time.Hour}
			watches := []*abuse.Watch{{T: th, Store: nodes[0], Shared: nodes[0]}, {T: th, Store: nodes[1], Shared: nodes[1]}}
			now := time.Date(2026, 12, 3, 12, 10, 0, 0, time.UTC)
			var (
				mu      sync.Mutex
				reasons []string
				wg      sync.WaitGroup
			)
			for i := range 9 {
				wg.Go(func() {
					r, err := watches[i%2].SpamRejected(ctx, "acme", now)
					if err != nil {
						t.Error(err)
					}
					if r != "" {
						mu.Lock()
						reasons = append(reasons, r)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if u, _ := nodes[1].UserByName(ctx, "acme"); u.Suspended() || len(reasons) > 0 {
				t.Fatalf("suspended after 9 rejections over two nodes (threshold 10): %v", reasons)
			}
			// The tenth, in the next window, still counts the previous one.
			r, err := watches[1].SpamRejected(ctx, "acme", now.Add(time.Hour))
			if err != nil || r == "" {
				t.Fatalf("tenth rejection: reason %q, err %v; want a suspension", r, err)
			}
			if u, _ := nodes[0].UserByName(ctx, "acme"); !u.Suspended() {
				t.Fatal("user not suspended after the threshold")
			}
			if err := nodes[0].SetSuspended(ctx, "acme", time.Time{}, ""); err != nil {
				t.Fatal(err)
			}
			if r, err := watches[0].SpamRejected(ctx, "acme", now.Add(time.Hour)); err != nil || r != "" {
				t.Fatalf("first rejection after the resume: %q, %v; want the count started again", r, err)
			}
		})
	}
}
