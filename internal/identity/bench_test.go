package identity_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

// BenchmarkSign measures what identity costs a message at Commit: the
// From identity (CheckHeaders) and both DKIM signatures (Sign), with
// their domain lookups, over a real SQLite store. "check" is
// CheckHeaders alone; "sign" both, as Commit runs them.
func BenchmarkSign(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/i.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(ctx, "acme", "")
	if err != nil {
		b.Fatal(err)
	}
	// Fixed keys, so that runs of different lengths differ only by their
	// iterations (instruction counts: valgrind --tool=callgrind).
	rp, err := os.ReadFile("testdata/bench-rsa2048.pem")
	if err != nil {
		b.Fatal(err)
	}
	ep, err := domain.MarshalPrivateKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.AddDomain(ctx, store.Domain{Name: "acme.test", UserID: u.ID, State: store.DomainVerified,
		RSASelector: "r1", RSAKey: rp, EdSelector: "e1", EdKey: ep, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	p := account.Principal{User: u, Account: u}
	msg := []byte("From: App <app@acme.test>\r\nTo: x@example.org\r\nSubject: s\r\n\r\nbody\r\n")
	h, err := message.ParseHeader(msg)
	if err != nil {
		b.Fatal(err)
	}
	s := &identity.Signer{Store: st}
	b.Run("check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.CheckHeaders(ctx, p, h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.CheckHeaders(ctx, p, h); err != nil {
				b.Fatal(err)
			}
			if _, dom, err := s.Sign(ctx, p, msg, h); err != nil || dom != "acme.test" {
				b.Fatal(dom, err)
			}
		}
	})
}
