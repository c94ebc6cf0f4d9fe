package identity_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/mailauth"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

// keyEnv is a store with domains, each with the one RSA key of testdata
// (selector r1: RSA keys are slow to make) and an Ed25519 key of its own,
// and the DKIM records of every key made so far, by selector and domain,
// for mailauth's verifier.
type keyEnv struct {
	t      *testing.T
	st     store.Store
	user   store.User
	rsa    []byte // PEM
	rsaRec string
	mu     sync.Mutex
	txt    map[string]string // "sel._domainkey.domain" → record
}

func newKeyEnv(t *testing.T) *keyEnv {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/k.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := st.CreateUser(context.Background(), "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	rp, err := os.ReadFile("testdata/bench-rsa2048.pem")
	if err != nil {
		t.Fatal(err)
	}
	rk, err := domain.ParsePrivateKey(rp)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := mailauth.PublicKeyRecord(rk.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &keyEnv{t: t, st: st, user: u, rsa: rp, rsaRec: rec, txt: map[string]string{}}
}

// key makes an Ed25519 key published at sel._domainkey.name and returns
// its PEM.
func (e *keyEnv) key(name, sel string) []byte {
	e.t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	pem, err := domain.MarshalPrivateKey(priv)
	if err != nil {
		e.t.Fatal(err)
	}
	rec, err := mailauth.PublicKeyRecord(pub)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.txt[sel+"._domainkey."+name] = rec
	e.mu.Unlock()
	return pem
}

func (e *keyEnv) add(name string) {
	e.t.Helper()
	e.mu.Lock()
	e.txt["r1._domainkey."+name] = e.rsaRec
	e.mu.Unlock()
	if err := e.st.AddDomain(context.Background(), store.Domain{Name: name, UserID: e.user.ID, State: store.DomainVerified,
		RSASelector: "r1", RSAKey: e.rsa, EdSelector: "e1", EdKey: e.key(name, "e1"), CreatedAt: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

// rotate makes a new Ed25519 key under sel (the RSA key stays) the
// domain's current key.
func (e *keyEnv) rotate(name, sel string) error {
	ctx := context.Background()
	if err := e.st.SetNextKeys(ctx, name, "r1", e.rsa, sel, e.key(name, sel)); err != nil {
		return err
	}
	return e.st.PromoteNextKeys(ctx, name, time.Now())
}

// sign signs a message from name and returns the selectors whose
// signatures verify, and the domain signed for.
func (e *keyEnv) sign(s *identity.Signer, name string) ([]string, string) {
	e.t.Helper()
	msg := []byte("From: a@" + name + "\r\nSubject: s\r\n\r\nbody\r\n")
	h, err := message.ParseHeader(msg)
	if err != nil {
		e.t.Fatal(err)
	}
	out, dom, err := s.Sign(context.Background(), account.Principal{User: e.user, Account: e.user}, msg, h)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := mailauth.Verify(context.Background(), out, func(_ context.Context, n string) ([]string, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if r, ok := e.txt[n]; ok {
			return []string{r}, nil
		}
		return nil, fmt.Errorf("no record %s", n)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var ok []string
	for _, r := range res {
		if !r.OK {
			e.t.Errorf("signature by %s._domainkey.%s does not verify: %v", r.Selector, r.Domain, r.Err)
			continue
		}
		ok = append(ok, r.Selector)
	}
	return ok, dom
}

// A key that changes under the same selector (a key brought again, a
// rotation done elsewhere, another node's change) signs the very next
// message: the cached key is used only while the store holds its bytes.
func TestSignCachedKeyFollowsTheStore(t *testing.T) {
	e := newKeyEnv(t)
	e.add("acme.test")
	s := &identity.Signer{Store: e.st}
	for range 2 { // the second from the cache
		if sels, dom := e.sign(s, "acme.test"); dom != "acme.test" || strings.Join(sels, ",") != "r1,e1" {
			t.Fatalf("signed for %q by %v", dom, sels)
		}
	}
	// Same selector, new key: the record now holds the new key only, so
	// a signature by the old, cached one would fail to verify.
	if err := e.rotate("acme.test", "e1"); err != nil {
		t.Fatal(err)
	}
	if sels, dom := e.sign(s, "acme.test"); dom != "acme.test" || strings.Join(sels, ",") != "r1,e1" {
		t.Fatalf("after the key changed: signed for %q by %v", dom, sels)
	}
	// A rotation to a new selector.
	if err := e.rotate("acme.test", "e2"); err != nil {
		t.Fatal(err)
	}
	if sels, _ := e.sign(s, "acme.test"); strings.Join(sels, ",") != "r1,e2" {
		t.Fatalf("after the rotation: signed by %v, want r1,e2", sels)
	}
}

// A domain deleted, or no longer verified, is not signed for, although
// its keys are cached.
func TestSignCachedKeyNotUsedForAGoneDomain(t *testing.T) {
	ctx := context.Background()
	e := newKeyEnv(t)
	e.add("gone.test")
	e.add("lapsed.test")
	s := &identity.Signer{Store: e.st}
	for _, n := range []string{"gone.test", "lapsed.test"} {
		if _, dom := e.sign(s, n); dom != n {
			t.Fatalf("%s: signed for %q", n, dom)
		}
	}
	if err := e.st.DeleteDomain(ctx, "gone.test"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetDomainState(ctx, "lapsed.test", store.DomainPending, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"gone.test", "lapsed.test"} {
		if sels, dom := e.sign(s, n); dom != "" || len(sels) != 0 {
			t.Errorf("%s: signed for %q by %v after it went", n, dom, sels)
		}
	}
}

// Messages of several domains signed at once, while one domain's key
// changes, all verify (go test -race checks the cache's locking).
func TestSignConcurrent(t *testing.T) {
	e := newKeyEnv(t)
	names := []string{"a.test", "b.test", "c.test"}
	for _, n := range names {
		e.add(n)
	}
	s := &identity.Signer{Store: e.st, MaxCachedKeys: 2} // smaller than the domains: evictions too
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 20 {
				n := names[(g+i)%len(names)]
				if _, dom := e.sign(s, n); dom != n {
					t.Errorf("%s: signed for %q", n, dom)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 5 {
			sel := fmt.Sprintf("x%d", i)
			if err := e.rotate("a.test", sel); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
}
