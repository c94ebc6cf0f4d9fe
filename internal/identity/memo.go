package identity

import (
	"context"
	"errors"
	"sync"

	"github.com/postern/postern/internal/store"
)

// memoKey is the context key of a memo.
type memoKey struct{}

// memo remembers the domains one message's checks and signature looked
// up: found ones and ErrNotFound, never another error.
type memo struct {
	mu      sync.Mutex
	domains map[string]memoEntry
}

type memoEntry struct {
	d     store.Domain
	found bool
}

// ForMessage returns ctx carrying a memo of the domains looked up under
// it, for the identity checks and the signature of one message
// (submit.Commit): its From domain is then asked of the store once, not
// once by CheckHeaders and again by Sign, and both see the same state of
// it. A domain changed after the first look is seen by the next message;
// the memo is not shared between messages, nor kept after ctx.
func ForMessage(ctx context.Context) context.Context {
	return context.WithValue(ctx, memoKey{}, &memo{domains: map[string]memoEntry{}})
}

// lookupDomain returns the domain called name from g, or from ctx's memo
// when it has the answer.
func lookupDomain(ctx context.Context, g domainGetter, name string) (store.Domain, error) {
	m, _ := ctx.Value(memoKey{}).(*memo)
	if m == nil {
		return g.Domain(ctx, name)
	}
	m.mu.Lock()
	e, ok := m.domains[name]
	m.mu.Unlock()
	if ok {
		if !e.found {
			return store.Domain{}, store.ErrNotFound
		}
		return e.d, nil
	}
	d, err := g.Domain(ctx, name)
	switch {
	case err == nil:
		e = memoEntry{d: d, found: true}
	case errors.Is(err, store.ErrNotFound):
		e = memoEntry{}
	default:
		return d, err
	}
	m.mu.Lock()
	m.domains[name] = e
	m.mu.Unlock()
	return d, err
}
