package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postern/postern/internal/store"
)

// TestMigrationGivesDomainsAndSendersIDs: the migration that gives
// domains and single senders their ids keeps every row and column of a
// database written before it, numbers the rows in creation order, and
// leaves the new fields at their zero values.
func TestMigrationGivesDomainsAndSendersIDs(t *testing.T) {
	ctx := context.Background()
	version := 0
	for i, m := range migrations {
		if strings.Contains(m, "CREATE TABLE domains_v13") {
			version = i + 1
		}
	}
	if version == 0 {
		t.Fatal("no migration creates domains_v13")
	}
	path := filepath.Join(t.TempDir(), "old.db")
	raw := atVersion(t, path, version-1)
	for _, q := range []string{
		`INSERT INTO users (id, name, created_at) VALUES (1, 'acme', 0), (2, 'beta', 0)`,
		`INSERT INTO domains (name, user_id, state, rsa_selector, rsa_key, ed_selector, ed_key, created_at, verified_at,
			next_rsa_selector, shared, return_path)
			VALUES ('late.test', 1, 'verified', 'r', x'01', 'e', x'02', 200, 300, 'r2', 1, 1),
			       ('early.test', 2, 'pending', 'r', x'03', 'e', x'04', 100, NULL, '', 0, 0)`,
		`INSERT INTO senders (user_id, address, verified, by_operator, code_hash, expires_at, created_at, verified_at, shared)
			VALUES (1, 'b@x.test', 1, 1, x'', 0, 20, 20, 1), (2, 'a@x.test', 0, 0, x'aa', 99, 10, NULL, 0)`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	early, err := db.Domain(ctx, "early.test")
	if err != nil {
		t.Fatal(err)
	}
	late, err := db.Domain(ctx, "late.test")
	if err != nil {
		t.Fatal(err)
	}
	if early.ID != 1 || late.ID != 2 {
		t.Errorf("domain ids %d, %d; want 1, 2 (creation order)", early.ID, late.ID)
	}
	if late.UserName != "acme" || late.State != store.DomainVerified || string(late.RSAKey) != "\x01" || string(late.EdKey) != "\x02" ||
		late.NextRSASelector != "r2" || !late.Shared || !late.ReturnPath || late.VerifiedAt.IsZero() ||
		late.BroughtKey != "" || late.CompanionPublished || early.Shared || !early.VerifiedAt.IsZero() {
		t.Errorf("domains after the migration:\n%+v\n%+v", late, early)
	}
	a, err := db.SendersByAddress(ctx, "a@x.test")
	if err != nil || len(a) != 1 {
		t.Fatalf("%+v %v", a, err)
	}
	b, _ := db.SendersByAddress(ctx, "b@x.test")
	if a[0].ID != 1 || b[0].ID != 2 || !b[0].Verified || !b[0].ByOperator || !b[0].Shared || string(a[0].CodeHash) != "\xaa" ||
		a[0].UserName != "beta" || a[0].Nickname != "" {
		t.Errorf("senders after the migration:\n%+v\n%+v", a[0], b[0])
	}
	// The constraints came along: one owner per domain name, one sender
	// per user and address.
	if err := db.AddDomain(ctx, store.Domain{Name: "late.test", UserID: 2, State: store.DomainPending}); err == nil {
		t.Error("a second owner of late.test")
	}
	if err := db.AddSender(ctx, store.Sender{Address: "a@x.test", UserID: 2, CodeHash: []byte("new")}); err != nil {
		t.Fatal(err)
	}
	if again, _ := db.SendersByAddress(ctx, "a@x.test"); len(again) != 1 || again[0].ID != 1 {
		t.Errorf("a new code made a second sender: %+v", again)
	}
}
