package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// BenchmarkEnqueueBatch measures group commit: one EnqueueBatch of n
// messages with 4 KiB bodies per iteration, each a synced transaction.
func BenchmarkEnqueueBatch(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			ctx := context.Background()
			db, _ := openTemp(b)
			defer db.Close()
			u, err := db.CreateUser(ctx, "bench", "")
			if err != nil {
				b.Fatal(err)
			}
			body := make([]byte, 4<<10)
			rand.Read(body)
			batch := make([]store.NewMessage, n)
			seq := 0
			b.SetBytes(int64(n * len(body)))
			for b.Loop() {
				now := time.Now()
				for i := range batch {
					seq++
					batch[i] = store.NewMessage{
						ID: fmt.Sprintf("m%09d", seq), UserID: u.ID, KeyID: "k1",
						From:       "sender@bench.example",
						Recipients: []string{"a@example.com", "b@example.org"},
						Body:       body, CreatedAt: now,
					}
				}
				if err := db.EnqueueBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
