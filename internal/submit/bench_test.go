//go:build unix

package submit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/quota"
	"github.com/postern/postern/internal/ratelimit"
	"github.com/postern/postern/internal/spamscan"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
	"github.com/postern/postern/internal/submit"
	"github.com/postern/postern/internal/submit/submittest"
	"github.com/postern/postern/internal/testenv"
)

// BenchmarkCommit measures the funnel's share of one message, without a
// way in: Begin (key recheck, envelope identity, limits), one recipient,
// Commit of a 4 KiB message (header checks, stamping, From identity,
// quota reserve, the built-in spam scan, both DKIM signatures, the synced
// group commit), over a real SQLite store, one message at a time. The
// wall time is mostly fsync; cpu-µs/op (getrusage, the whole process:
// the queue's committer and SQLite included) and allocs/op are the
// measures that do not depend on the machine's other load.
func BenchmarkCommit(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/b.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	accts := &account.Service{Store: st, Rand: rand.Reader, Now: time.Now}
	u, err := accts.CreateUser(ctx, "acme", "")
	if err != nil {
		b.Fatal(err)
	}
	key, _, err := accts.CreateKey(ctx, "acme", "t", []string{account.ScopeMailSend})
	if err != nil {
		b.Fatal(err)
	}
	// Fixed keys, so that runs of different lengths differ only by their
	// messages (instruction counts: valgrind --tool=callgrind).
	rp, err := os.ReadFile("testdata/bench-rsa2048.pem")
	if err != nil {
		b.Fatal(err)
	}
	ep, err := domain.MarshalPrivateKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.AddDomain(ctx, store.Domain{Name: "example.test", UserID: u.ID, State: store.DomainVerified,
		RSASelector: "r1", RSAKey: rp, EdSelector: "e1", EdKey: ep, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	q := queue.New(st, queue.Options{})
	qctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); q.Run(qctx) }()
	b.Cleanup(func() { cancel(); <-done })
	quotas := quota.New(st, quota.Defaults(ratelimit.ModeReject, [4]int64{0, 0, 0, 1 << 40}, [4]int64{}))
	ids := &identity.Signer{Store: st}
	cfg := submittest.Config(accts, q)
	cfg.Identity, cfg.Signer = ids, ids
	cfg.Quota = quotas
	cfg.Scanner = spamscan.Chain{Builtin: spamscan.Builtin{Threshold: 5}}
	f, err := submit.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	c, err := f.Authenticate(ctx, submit.Credentials{Username: account.Username, Password: key, ClientIP: clientIP})
	if err != nil {
		b.Fatal(err)
	}
	line := strings.Repeat("All work and no play makes a dull message. ", 2) + "\r\n" // 88 bytes
	body := []byte("From: App <app@example.test>\r\nTo: user@example.test\r\nSubject: bench\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat(line, 4096/len(line)))
	n := 0
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	defer testenv.CPUPerOp(b)()
	for b.Loop() {
		n++
		tx, err := f.Begin(ctx, c, "app@example.test", int64(len(body)), submit.Origin{Helo: "client.test", With: "ESMTPSA"})
		if err != nil {
			b.Fatal(err)
		}
		if err := tx.AddRecipient(ctx, fmt.Sprintf("u%d@example.org", n%50)); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Commit(ctx, body, submit.CommitOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
