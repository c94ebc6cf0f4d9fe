package account

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newService returns a Service on an empty memStore, with a deterministic
// random source and a clock stopped at t0, and the account "acme".
func newService(t *testing.T) (*Service, *memStore) {
	t.Helper()
	st := newMemStore()
	s := &Service{
		Store: st,
		Rand:  rand.NewChaCha8([32]byte{3}),
		Now:   func() time.Time { return t0 },
	}
	if _, err := s.CreateUser(context.Background(), "acme", ""); err != nil {
		t.Fatal(err)
	}
	return s, st
}

func newKey(t *testing.T, s *Service, scopes ...string) (string, store.APIKey) {
	t.Helper()
	key, rec, err := s.CreateKey(context.Background(), "acme", "test", scopes)
	if err != nil {
		t.Fatal(err)
	}
	return key, rec
}

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	sub, err := s.CreateUser(ctx, "acme-news", "acme")
	if err != nil {
		t.Fatal(err)
	}
	if sub.ParentName != "acme" || sub.ParentID == 0 {
		t.Errorf("subuser = %+v, want parent acme", sub)
	}
	if _, err := s.CreateUser(ctx, "acme", ""); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate: err = %v, want store.ErrExists", err)
	}
	if _, err := s.CreateUser(ctx, "orphan", "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing parent: err = %v, want store.ErrNotFound", err)
	}
	for _, bad := range []string{"apikey", "Acme", ""} {
		if _, err := s.CreateUser(ctx, bad, ""); err == nil {
			t.Errorf("CreateUser(%q) accepted", bad)
		}
	}
	if _, err := s.CreateUser(ctx, "ok", "Bad Parent"); err == nil {
		t.Error("CreateUser accepted an invalid parent name")
	}
}

func TestCreateKey(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t)
	key, rec, err := s.CreateKey(ctx, "acme", "billing app", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != id || rec.UserName != "acme" || rec.UserID == 0 || rec.Name != "billing app" ||
		!rec.CreatedAt.Equal(t0) || rec.Revoked() {
		t.Errorf("record = %+v", rec)
	}
	if !slices.Equal(rec.Scopes, []string{ScopeMailSend}) {
		t.Errorf("default scopes = %q, want [mail.send]", rec.Scopes)
	}
	stored, err := st.APIKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stored.Hash, HashKey(key)) {
		t.Error("stored hash is not HashKey(key)")
	}
	if bytes.Contains(stored.Hash, []byte(key[21:])) {
		t.Error("stored record contains the secret")
	}

	_, rec, err = s.CreateKey(ctx, "acme", "", []string{"stats.read", "mail.send", "stats.read"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Scopes, []string{"stats.read", "mail.send"}) {
		t.Errorf("scopes = %q", rec.Scopes)
	}

	if _, _, err := s.CreateKey(ctx, "nobody", "", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: err = %v, want store.ErrNotFound", err)
	}
	if _, _, err := s.CreateKey(ctx, "acme", "", []string{"mail.everything"}); err == nil {
		t.Error("unknown scope accepted")
	}
	for _, label := range []string{strings.Repeat("x", 101), "a\nb", "bad\xff"} {
		if _, _, err := s.CreateKey(ctx, "acme", label, nil); err == nil {
			t.Errorf("label %q accepted", label)
		}
	}
}

// TestCreateKeyIDCollision: a fresh id that already exists is retried.
func TestCreateKeyIDCollision(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	zeros := make([]byte, 30)
	s.Rand = bytes.NewReader(slices.Concat(zeros, zeros, bytes.Repeat([]byte{1}, 30)))
	first, _, err := s.CreateKey(ctx, "acme", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := s.CreateKey(ctx, "acme", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first[:20] == second[:20] {
		t.Errorf("ids collide: %q, %q", first[:20], second[:20])
	}

	s.Rand = bytes.NewReader(slices.Concat(zeros, zeros, zeros))
	if _, _, err := s.CreateKey(ctx, "acme", "", nil); !errors.Is(err, store.ErrExists) {
		t.Errorf("err = %v, want store.ErrExists after repeated collisions", err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t)
	good, goodRec := newKey(t, s)
	noSend, _ := newKey(t, s, "stats.read")
	revoked, revokedRec := newKey(t, s)
	if err := s.Revoke(ctx, revokedRec.ID); err != nil {
		t.Fatal(err)
	}
	unknown, _, err := GenerateKey(rand.NewChaCha8([32]byte{99}))
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := good[:21] + strings.Repeat("a", 32)

	tests := []struct {
		name     string
		user     string
		pass     string
		want     error
		wantLook bool // whether the store is asked
	}{
		{"good key", "apikey", good, nil, true},
		{"wrong username", "acme", good, ErrUsername, false},
		{"empty username", "", good, ErrUsername, false},
		{"username case", "APIKEY", good, ErrUsername, false},
		{"malformed key", "apikey", good + " ", ErrInvalidKey, false},
		{"empty key", "apikey", "", ErrInvalidKey, false},
		{"unknown id", "apikey", unknown, ErrInvalidKey, true},
		{"right id wrong secret", "apikey", wrongSecret, ErrInvalidKey, true},
		{"revoked", "apikey", revoked, ErrRevoked, true},
		{"no mail.send scope", "apikey", noSend, ErrScope, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := st.lookups
			k, err := s.Authenticate(ctx, tt.user, tt.pass)
			if looked := st.lookups > before; looked != tt.wantLook {
				t.Errorf("store lookup = %v, want %v", looked, tt.wantLook)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if k.ID != goodRec.ID || k.UserName != "acme" {
					t.Errorf("key = %+v, want %s of acme", k, goodRec.ID)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if k.ID != "" {
				t.Errorf("key %q returned with an error", k.ID)
			}
			if tt.want == ErrInvalidKey && err != ErrInvalidKey {
				t.Errorf("err = %q, want the bare ErrInvalidKey", err)
			}
			if len(tt.pass) > 21 && strings.Contains(err.Error(), tt.pass[21:]) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

// TestAuthenticateStoreError: a store failure is not an authentication
// failure, so the server answers with a temporary error.
func TestAuthenticateStoreError(t *testing.T) {
	s, _ := newService(t)
	key, _ := newKey(t, s)
	boom := errors.New("disk on fire")
	s.Store = failingStore{s.Store, boom}
	_, err := s.Authenticate(context.Background(), Username, key)
	if !errors.Is(err, boom) || errors.Is(err, ErrInvalidKey) {
		t.Errorf("err = %v, want the store error", err)
	}
	if strings.Contains(err.Error(), key[21:]) {
		t.Errorf("error %q contains the secret", err)
	}
}

type failingStore struct {
	accountStore
	err error
}

func (f failingStore) APIKey(context.Context, string) (store.APIKey, error) {
	return store.APIKey{}, f.err
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t)
	_, rec := newKey(t, s)
	if err := s.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	k, _ := st.APIKey(ctx, rec.ID)
	if !k.RevokedAt.Equal(t0) {
		t.Errorf("RevokedAt = %v, want %v", k.RevokedAt, t0)
	}
	if err := s.Revoke(ctx, rec.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if err := s.Revoke(ctx, "zzzzzzzzzzzzzzzz"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: err = %v, want store.ErrNotFound", err)
	}
	// A whole key pasted instead of its id is refused without echoing it.
	key, _ := newKey(t, s)
	err := s.Revoke(ctx, key)
	if err == nil || strings.Contains(err.Error(), key[21:]) {
		t.Errorf("Revoke(key) = %v", err)
	}
}

func TestRecheck(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t)
	key, rec := newKey(t, s)

	// A session authenticates, then the key is revoked before its next MAIL.
	if _, err := s.Authenticate(ctx, Username, key); err != nil {
		t.Fatal(err)
	}
	if k, err := s.Recheck(ctx, rec.ID); err != nil || k.ID != rec.ID {
		t.Fatalf("Recheck before revoke = %+v, %v", k, err)
	}
	if err := s.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recheck(ctx, rec.ID); !errors.Is(err, ErrRevoked) {
		t.Errorf("Recheck after revoke: err = %v, want ErrRevoked", err)
	}
	if _, err := s.Authenticate(ctx, Username, key); !errors.Is(err, ErrRevoked) {
		t.Errorf("Authenticate after revoke: err = %v, want ErrRevoked", err)
	}

	// mail.send taken away mid-session.
	_, rec2 := newKey(t, s)
	st.setScopes(rec2.ID, []string{"stats.read"})
	if _, err := s.Recheck(ctx, rec2.ID); !errors.Is(err, ErrScope) {
		t.Errorf("Recheck without mail.send: err = %v, want ErrScope", err)
	}

	// A key that vanished counts as revoked.
	_, err := s.Recheck(ctx, "zzzzzzzzzzzzzzzz")
	if !errors.Is(err, ErrRevoked) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Recheck of unknown key: err = %v, want ErrRevoked and store.ErrNotFound", err)
	}
}

// TestServiceConcurrent exercises the Service from many goroutines, for the
// race detector.
func TestServiceConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	s.Rand = nil // crypto/rand: a ChaCha8 reader is not safe for concurrent use
	key, rec := newKey(t, s)
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			switch i % 3 {
			case 0:
				_, err = s.Authenticate(ctx, Username, key)
			case 1:
				_, err = s.Recheck(ctx, rec.ID)
			case 2:
				_, _, err = s.CreateKey(ctx, "acme", "", nil)
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
