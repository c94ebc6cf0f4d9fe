package account

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/postern/postern/internal/store"
)

// memStore is an in-memory accountStore for tests: maps under a mutex,
// honouring store.ErrNotFound and store.ErrExists.
type memStore struct {
	// AllowedIPs is not kept (Admit is tested on SQLite): calling it on
	// the fake panics on the nil interface.
	store.AbuseStore

	mu     sync.Mutex
	nextID int64
	users  map[string]store.User
	keys   map[string]store.APIKey
	// lookups counts APIKey calls, so tests can see a lookup happened.
	lookups int
}

var _ accountStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{users: map[string]store.User{}, keys: map[string]store.APIKey{}}
}

func (m *memStore) CreateUser(_ context.Context, name, parent string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; ok {
		return store.User{}, store.ErrExists
	}
	u := store.User{Name: name, CreatedAt: time.Unix(0, 0)}
	if parent != "" {
		p, ok := m.users[parent]
		if !ok {
			return store.User{}, store.ErrNotFound
		}
		if p.ParentID != 0 {
			return store.User{}, errors.New("memStore: subusers cannot have subusers")
		}
		u.ParentID, u.ParentName = p.ID, p.Name
	}
	m.nextID++
	u.ID = m.nextID
	m.users[name] = u
	return u, nil
}

func (m *memStore) UserByName(_ context.Context, name string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func (m *memStore) Users(context.Context) ([]store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.User
	for _, u := range m.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func copyKey(k store.APIKey) store.APIKey {
	k.Scopes = slices.Clone(k.Scopes)
	k.Hash = slices.Clone(k.Hash)
	return k
}

func (m *memStore) CreateAPIKey(_ context.Context, k store.APIKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.ID]; ok {
		return store.ErrExists
	}
	found := false
	for _, u := range m.users {
		found = found || u.ID == k.UserID
	}
	if !found {
		return store.ErrNotFound
	}
	m.keys[k.ID] = copyKey(k)
	return nil
}

func (m *memStore) APIKey(_ context.Context, id string) (store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	k, ok := m.keys[id]
	if !ok {
		return store.APIKey{}, store.ErrNotFound
	}
	return copyKey(k), nil
}

func (m *memStore) APIKeys(_ context.Context, userName string) ([]store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.APIKey
	for _, k := range m.keys {
		if userName == "" || k.UserName == userName {
			out = append(out, copyKey(k))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) RevokeAPIKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return store.ErrNotFound
	}
	if !k.Revoked() {
		k.RevokedAt = at
		m.keys[id] = k
	}
	return nil
}

// setScopes changes a stored key's scopes, as a later admin command might.
func (m *memStore) setScopes(id string, scopes []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := m.keys[id]
	k.Scopes = slices.Clone(scopes)
	m.keys[id] = k
}
