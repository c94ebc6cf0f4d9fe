// Package storetest is the conformance suite for store.Store: every driver
// (store/sqlite, store/postgres) runs it from its own tests with
//
//	storetest.Run(t, func(t *testing.T) store.Store { ... })
//	storetest.RunShared(t, func(t *testing.T, n int) []store.Store { ... })
//
// and so behaves the same for the packages above it. RunShared's cases
// open several handles on one database, as the nodes of a cluster do.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/postern/postern/internal/store"
)

// Run runs the suite. open must return a new, empty store each time it is
// called; Run closes it when the subtest that opened it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Empty", testEmpty},
		{"CreateAccountAndSubuser", testCreateAccountAndSubuser},
		{"SubuserOfSubuser", testSubuserOfSubuser},
		{"UnknownParent", testUnknownParent},
		{"DuplicateUser", testDuplicateUser},
		{"UsersOrderedByName", testUsersOrdered},
		{"APIKeyRoundTrip", testAPIKeyRoundTrip},
		{"APIKeyList", testAPIKeyList},
		{"APIKeyRevoke", testAPIKeyRevoke},
		{"APIKeyDuplicate", testAPIKeyDuplicate},
		{"APIKeyUnknownUser", testAPIKeyUnknownUser},
		{"UserProfile", testUserProfile},
		{"DeleteUser", testDeleteUser},
		{"UserSettings", testUserSettings},
		{"APIKeyUpdate", testAPIKeyUpdate},
		{"Enqueue", testEnqueue},
		{"EnqueueEmptyBatch", testEnqueueEmptyBatch},
		{"EnqueueDuplicateInBatch", testEnqueueDuplicateInBatch},
		{"EnqueueDuplicateOfStored", testEnqueueDuplicateOfStored},
		{"EnqueueUnknownUser", testEnqueueUnknownUser},
		{"EnqueueLargeBody", testEnqueueLargeBody},
		{"EnqueueConcurrent", testEnqueueConcurrent},
		{"ClaimDue", testClaimDue},
		{"RecordAttempt", testRecordAttempt},
		{"RecordAttemptNextAttempt", testRecordAttemptNextAttempt},
		{"RecordAttempts", testRecordAttempts},
		{"RetryAndDrop", testRetryAndDrop},
		{"ListMessages", testListMessages},
		{"Suppressions", testSuppressions},
		{"SuppressionKinds", testSuppressionKinds},
		{"SuspendAndPrivacy", testSuspendAndPrivacy},
		{"AllowedIPs", testAllowedIPs},
		{"IPRules", testIPRules},
		{"LimitsAndUsage", testLimitsAndUsage},
		{"Domains", testDomains},
		{"Senders", testSenders},
		{"DomainSharingAndEvents", testDomainSharingAndEvents},
		{"Secret", testSecret},
		{"Counters", testCounters},
		{"Leases", testLeases},
		{"PurgeFinished", testPurgeFinished},
		{"Webhooks", testWebhooks},
		{"EventCounts", testEventCounts},
		{"CategoryEventCounts", testCategoryEventCounts},
		{"Gauges", testGauges},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, fresh(t))
		})
	}
}

// base is a time with nanoseconds and a zone other than UTC, so the suite
// sees that stores truncate to microseconds and return UTC.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))

// stored is t as a store returns it.
func stored(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

func mustCreateUser(t *testing.T, s store.Store, name, parent string) store.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), name, parent)
	if err != nil {
		t.Fatalf("CreateUser(%q, %q): %v", name, parent, err)
	}
	return u
}

func checkUser(t *testing.T, got, want store.User) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.ParentID != want.ParentID || got.ParentName != want.ParentName {
		t.Errorf("user = %+v, want %+v", got, want)
	}
	checkTime(t, "user "+want.Name+" CreatedAt", got.CreatedAt, want.CreatedAt)
}

func testEmpty(t *testing.T, s store.Store) {
	ctx := context.Background()
	if users, err := s.Users(ctx); err != nil || len(users) != 0 {
		t.Errorf("Users = %v, %v; want none", users, err)
	}
	if keys, err := s.APIKeys(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("APIKeys = %v, %v; want none", keys, err)
	}
	if msgs, err := s.Messages(ctx); err != nil || len(msgs) != 0 {
		t.Errorf("Messages = %v, %v; want none", msgs, err)
	}
	if _, err := s.UserByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByName(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.APIKey(ctx, "nokey"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("APIKey(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.Message(ctx, "nomsg"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Message(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.MessageBody(ctx, "nomsg"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MessageBody(unknown) error = %v, want ErrNotFound", err)
	}
}

func testCreateAccountAndSubuser(t *testing.T, s store.Store) {
	ctx := context.Background()
	before := time.Now()
	acme := mustCreateUser(t, s, "acme", "")
	after := time.Now()
	if acme.ID == 0 || acme.Name != "acme" || acme.ParentID != 0 || acme.ParentName != "" {
		t.Errorf("account = %+v", acme)
	}
	// The store stamps CreatedAt itself; allow for a coarse or stepped clock.
	if acme.CreatedAt.Before(before.Add(-time.Minute)) || acme.CreatedAt.After(after.Add(time.Minute)) {
		t.Errorf("account CreatedAt = %v, want about %v", acme.CreatedAt, before)
	}
	checkTime(t, "account CreatedAt", acme.CreatedAt, stored(acme.CreatedAt))

	sub := mustCreateUser(t, s, "acme-marketing", "acme")
	if sub.ID == 0 || sub.ID == acme.ID || sub.Name != "acme-marketing" ||
		sub.ParentID != acme.ID || sub.ParentName != "acme" {
		t.Errorf("subuser = %+v, want parent %d acme", sub, acme.ID)
	}
	checkTime(t, "subuser CreatedAt", sub.CreatedAt, stored(sub.CreatedAt))

	for _, want := range []store.User{acme, sub} {
		got, err := s.UserByName(ctx, want.Name)
		if err != nil {
			t.Fatalf("UserByName(%q): %v", want.Name, err)
		}
		checkUser(t, got, want)
	}
}

func testSubuserOfSubuser(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateUser(t, s, "acme", "")
	mustCreateUser(t, s, "acme-sub", "acme")
	_, err := s.CreateUser(ctx, "acme-sub-sub", "acme-sub")
	if err == nil {
		t.Fatal("CreateUser under a subuser succeeded, want an error")
	}
	if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateUser under a subuser error = %v, want neither ErrExists nor ErrNotFound", err)
	}
	if _, err := s.UserByName(ctx, "acme-sub-sub"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused user: UserByName error = %v, want ErrNotFound", err)
	}
}

func testUnknownParent(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.CreateUser(ctx, "orphan", "nobody")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateUser under unknown parent error = %v, want ErrNotFound", err)
	}
	if _, err := s.UserByName(ctx, "orphan"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused user: UserByName error = %v, want ErrNotFound", err)
	}
}

func testDuplicateUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	acme := mustCreateUser(t, s, "acme", "")
	other := mustCreateUser(t, s, "other", "")
	sub := mustCreateUser(t, s, "acme-sub", "acme")
	for _, tc := range []struct{ name, parent string }{
		{"acme", ""},
		{"acme", "other"},
		{"acme-sub", "acme"},
		{"acme-sub", ""},
	} {
		_, err := s.CreateUser(ctx, tc.name, tc.parent)
		if !errors.Is(err, store.ErrExists) {
			t.Errorf("CreateUser(%q, %q) again: error = %v, want ErrExists", tc.name, tc.parent, err)
		}
	}
	users, err := s.Users(ctx)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	if len(users) != 3 {
		t.Fatalf("Users = %+v, want the 3 created", users)
	}
	for i, want := range []store.User{acme, sub, other} {
		checkUser(t, users[i], want)
	}
}

func testUsersOrdered(t *testing.T, s store.Store) {
	ctx := context.Background()
	// Lowercase ASCII names: byte order and any locale's order agree.
	created := map[string]store.User{}
	for _, n := range []string{"zeta", "acme", "mike", "beta"} {
		created[n] = mustCreateUser(t, s, n, "")
	}
	for _, n := range []string{"zeta-b", "acme-x", "zeta-a"} {
		created[n] = mustCreateUser(t, s, n, n[:4])
	}
	users, err := s.Users(ctx)
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name)
	}
	want := []string{"acme", "acme-x", "beta", "mike", "zeta", "zeta-a", "zeta-b"}
	if !slices.Equal(names, want) {
		t.Fatalf("Users names = %q, want %q", names, want)
	}
	for _, u := range users {
		checkUser(t, u, created[u.Name])
	}
}

func checkKey(t *testing.T, got, want store.APIKey) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.UserName != want.UserName || got.Name != want.Name {
		t.Errorf("key = {ID:%s UserID:%d UserName:%q Name:%q}, want {ID:%s UserID:%d UserName:%q Name:%q}",
			got.ID, got.UserID, got.UserName, got.Name, want.ID, want.UserID, want.UserName, want.Name)
	}
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("key %s Scopes = %q, want %q", want.ID, got.Scopes, want.Scopes)
	}
	if !bytes.Equal(got.Hash, want.Hash) {
		t.Errorf("key %s Hash = %x, want %x", want.ID, got.Hash, want.Hash)
	}
	checkTime(t, "key "+want.ID+" CreatedAt", got.CreatedAt, stored(want.CreatedAt))
	checkTime(t, "key "+want.ID+" RevokedAt", got.RevokedAt, stored(want.RevokedAt))
	if got.Revoked() != want.Revoked() {
		t.Errorf("key %s Revoked() = %v, want %v", want.ID, got.Revoked(), want.Revoked())
	}
}

func mustCreateKey(t *testing.T, s store.Store, k store.APIKey) {
	t.Helper()
	if err := s.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatalf("CreateAPIKey(%s): %v", k.ID, err)
	}
}

// binaryHash is every byte value, so a driver that treats hashes as text
// shows it.
func binaryHash() []byte {
	h := make([]byte, 256)
	for i := range h {
		h[i] = byte(i)
	}
	return h
}

func testAPIKeyRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	keys := []store.APIKey{{
		ID:        "k1",
		UserID:    u.ID,
		UserName:  u.Name,
		Name:      "production mailer",
		Scopes:    []string{"mail.send", "stats.read", "keys.admin"}, // not sorted: order kept
		Hash:      binaryHash(),
		CreatedAt: base,
	}, {
		ID:        "k2",
		UserID:    u.ID,
		UserName:  u.Name,
		Name:      "",
		Scopes:    nil,
		Hash:      []byte{0x00, 0x00, 0xff, 0x0d, 0x0a, 0x00},
		CreatedAt: base.Add(time.Second),
	}}
	for _, k := range keys {
		mustCreateKey(t, s, k)
	}
	for _, want := range keys {
		got, err := s.APIKey(ctx, want.ID)
		if err != nil {
			t.Fatalf("APIKey(%s): %v", want.ID, err)
		}
		checkKey(t, got, want)
		if want.Scopes == nil && len(got.Scopes) != 0 {
			t.Errorf("key %s Scopes = %q, want none", want.ID, got.Scopes)
		}
	}
}

func testAPIKeyList(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, "acme", "")
	b := mustCreateUser(t, s, "acme-sub", "acme")
	mustCreateUser(t, s, "idle", "")
	key := func(id string, u store.User, at time.Time) store.APIKey {
		return store.APIKey{ID: id, UserID: u.ID, UserName: u.Name, Name: "key " + id,
			Scopes: []string{"mail.send"}, Hash: []byte(id), CreatedAt: at}
	}
	t1, t2, t3 := base, base.Add(time.Microsecond), base.Add(time.Hour)
	// Created out of order: the listing order is CreatedAt, then ID.
	ks := map[string]store.APIKey{}
	for _, k := range []store.APIKey{
		key("k-e", a, t3),
		key("k-d", b, t1),
		key("k-a", a, t2),
		key("k-c", a, t1),
		key("k-b", b, t2),
	} {
		mustCreateKey(t, s, k)
		ks[k.ID] = k
	}
	for _, tc := range []struct {
		user string
		want []string
	}{
		{"", []string{"k-c", "k-d", "k-a", "k-b", "k-e"}},
		{"acme", []string{"k-c", "k-a", "k-e"}},
		{"acme-sub", []string{"k-d", "k-b"}},
		{"idle", nil},
	} {
		got, err := s.APIKeys(ctx, tc.user)
		if err != nil {
			t.Fatalf("APIKeys(%q): %v", tc.user, err)
		}
		var ids []string
		for _, k := range got {
			ids = append(ids, k.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("APIKeys(%q) = %q, want %q", tc.user, ids, tc.want)
			continue
		}
		for _, k := range got {
			checkKey(t, k, ks[k.ID])
		}
	}
	if _, err := s.APIKeys(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("APIKeys(unknown user) error = %v, want ErrNotFound", err)
	}
}

func testAPIKeyRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	k := store.APIKey{ID: "k1", UserID: u.ID, UserName: u.Name, Name: "x",
		Scopes: []string{"mail.send"}, Hash: []byte{1, 2, 3}, CreatedAt: base}
	other := k
	other.ID = "k2"
	mustCreateKey(t, s, k)
	mustCreateKey(t, s, other)

	at := base.Add(36 * time.Hour)
	if err := s.RevokeAPIKey(ctx, "k1", at); err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	k.RevokedAt = at
	got, err := s.APIKey(ctx, "k1")
	if err != nil {
		t.Fatalf("APIKey after revoke: %v", err)
	}
	checkKey(t, got, k)

	// Twice: no error, and the first time stays.
	if err := s.RevokeAPIKey(ctx, "k1", at.Add(time.Hour)); err != nil {
		t.Errorf("RevokeAPIKey again: %v", err)
	}
	got, err = s.APIKey(ctx, "k1")
	if err != nil {
		t.Fatalf("APIKey after second revoke: %v", err)
	}
	checkKey(t, got, k)

	// The other key is untouched, in every view.
	got, err = s.APIKey(ctx, "k2")
	if err != nil {
		t.Fatalf("APIKey(k2): %v", err)
	}
	checkKey(t, got, other)
	list, err := s.APIKeys(ctx, "acme")
	if err != nil || len(list) != 2 {
		t.Fatalf("APIKeys = %v, %v; want 2 keys", list, err)
	}
	checkKey(t, list[0], k)
	checkKey(t, list[1], other)

	if err := s.RevokeAPIKey(ctx, "nokey", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RevokeAPIKey(unknown) error = %v, want ErrNotFound", err)
	}
}

func testAPIKeyDuplicate(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, "acme", "")
	b := mustCreateUser(t, s, "other", "")
	k := store.APIKey{ID: "k1", UserID: a.ID, UserName: a.Name, Name: "first",
		Scopes: []string{"mail.send"}, Hash: []byte{1}, CreatedAt: base}
	mustCreateKey(t, s, k)
	dup := store.APIKey{ID: "k1", UserID: b.ID, UserName: b.Name, Name: "second",
		Scopes: []string{"stats.read"}, Hash: []byte{2}, CreatedAt: base.Add(time.Hour)}
	if err := s.CreateAPIKey(ctx, dup); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateAPIKey(duplicate id) error = %v, want ErrExists", err)
	}
	got, err := s.APIKey(ctx, "k1")
	if err != nil {
		t.Fatalf("APIKey: %v", err)
	}
	checkKey(t, got, k)
}

func testAPIKeyUnknownUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	k := store.APIKey{ID: "k1", UserID: u.ID + 1000, Name: "x",
		Scopes: []string{"mail.send"}, Hash: []byte{1}, CreatedAt: base}
	if err := s.CreateAPIKey(ctx, k); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateAPIKey(unknown user) error = %v, want ErrNotFound", err)
	}
	if _, err := s.APIKey(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused key: APIKey error = %v, want ErrNotFound", err)
	}
}

// binaryBody is a message body holding every byte value, bare CR and LF as
// well as CRLF, and a NUL right at the end.
func binaryBody(tag string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Subject: %s\r\n\r\n", tag)
	for i := range 256 {
		b.WriteByte(byte(i))
	}
	b.WriteString("\r\n.\r\n\r\n\n\r\x00")
	return b.Bytes()
}

// expected is the Message a store should return for m.
func expected(m store.NewMessage, userName string) store.Message {
	return store.Message{
		ID:         m.ID,
		UserID:     m.UserID,
		UserName:   userName,
		KeyID:      m.KeyID,
		From:       m.From,
		Recipients: m.Recipients,
		Size:       int64(len(m.Body)),
		State:      store.StateQueued,
		CreatedAt:  stored(m.CreatedAt),
		Meta:       m.Meta,
	}
}

func checkMessage(t *testing.T, got, want store.Message) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.UserName != want.UserName ||
		got.KeyID != want.KeyID || got.From != want.From || got.Size != want.Size || got.State != want.State ||
		got.Meta != want.Meta {
		t.Errorf("message = %+v,\nwant %+v", got, want)
	}
	if !slices.Equal(got.Recipients, want.Recipients) {
		t.Errorf("message %s Recipients = %q, want %q", want.ID, got.Recipients, want.Recipients)
	}
	checkTime(t, "message "+want.ID+" CreatedAt", got.CreatedAt, want.CreatedAt)
}

func checkMessages(t *testing.T, s store.Store, want []store.Message) {
	t.Helper()
	got, err := s.Messages(context.Background())
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	var gotIDs, wantIDs []string
	for _, m := range got {
		gotIDs = append(gotIDs, m.ID)
	}
	for _, m := range want {
		wantIDs = append(wantIDs, m.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Fatalf("Messages ids = %q, want %q", gotIDs, wantIDs)
	}
	for i := range want {
		checkMessage(t, got[i], want[i])
	}
}

func checkBody(t *testing.T, s store.Store, id string, want []byte) {
	t.Helper()
	got, err := s.MessageBody(context.Background(), id)
	if err != nil {
		t.Fatalf("MessageBody(%s): %v", id, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("MessageBody(%s) = %d bytes %q, want %d bytes %q", id, len(got), clip(got), len(want), clip(want))
	}
}

func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func testEnqueue(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := mustCreateUser(t, s, "acme", "")
	b := mustCreateUser(t, s, "acme-sub", "acme")
	names := map[int64]string{a.ID: a.Name, b.ID: b.Name}

	batch1 := []store.NewMessage{{
		ID: "m-c", UserID: a.ID, KeyID: "k1", From: "bounce@acme.example",
		Recipients: []string{"zed@example.org", "amy@example.net", "mo@example.com"},
		Body:       binaryBody("m-c"), CreatedAt: base.Add(time.Second),
		Meta: `{"categories":["news"],"custom_args":{"k":"v"}}`, // kept as given
	}, {
		ID: "m-b", UserID: b.ID, KeyID: "k2", From: "", // the null sender
		Recipients: []string{"postmaster@example.org"},
		Body:       binaryBody("m-b"), CreatedAt: base,
	}, {
		ID: "m-a", UserID: a.ID, KeyID: "k1", From: "news@acme.example",
		Recipients: []string{"b@example.com", "a@example.com", "b@example.com"}, // duplicates kept
		Body:       binaryBody("m-a"), CreatedAt: base.Add(time.Second),
	}}
	if err := s.EnqueueBatch(ctx, batch1); err != nil {
		t.Fatalf("EnqueueBatch: %v", err)
	}
	batch2 := []store.NewMessage{{
		ID: "m-0", UserID: b.ID, KeyID: "k2", From: "x@sub.example",
		Recipients: []string{"one@example.com", "two@example.com"},
		Body:       []byte("Subject: earliest\r\n\r\nbody\r\n"), CreatedAt: base.Add(-time.Hour),
	}, {
		ID: "m-z", UserID: a.ID, KeyID: "k1", From: "y@acme.example",
		Recipients: []string{"last@example.com"},
		Body:       []byte{}, CreatedAt: base.Add(time.Hour),
	}}
	if err := s.EnqueueBatch(ctx, batch2); err != nil {
		t.Fatalf("EnqueueBatch: %v", err)
	}

	all := map[string]store.NewMessage{}
	for _, m := range append(slices.Clone(batch1), batch2...) {
		all[m.ID] = m
	}
	var want []store.Message
	// Ordered by CreatedAt, then ID.
	for _, id := range []string{"m-0", "m-b", "m-a", "m-c", "m-z"} {
		want = append(want, expected(all[id], names[all[id].UserID]))
	}
	checkMessages(t, s, want)

	for _, w := range want {
		got, err := s.Message(ctx, w.ID)
		if err != nil {
			t.Fatalf("Message(%s): %v", w.ID, err)
		}
		checkMessage(t, got, w)
		checkBody(t, s, w.ID, all[w.ID].Body)
	}
	if _, err := s.Message(ctx, "m-none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Message(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.MessageBody(ctx, "m-none"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MessageBody(unknown) error = %v, want ErrNotFound", err)
	}
}

func testEnqueueEmptyBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.EnqueueBatch(ctx, nil); err != nil {
		t.Errorf("EnqueueBatch(nil): %v", err)
	}
	if err := s.EnqueueBatch(ctx, []store.NewMessage{}); err != nil {
		t.Errorf("EnqueueBatch(empty): %v", err)
	}
	checkMessages(t, s, nil)
}

func simpleMessage(id string, userID int64) store.NewMessage {
	return store.NewMessage{
		ID: id, UserID: userID, KeyID: "k1", From: "a@acme.example",
		Recipients: []string{"r1@example.com", "r2@example.com"},
		Body:       []byte("Subject: " + id + "\r\n\r\nhello\r\n"),
		CreatedAt:  base,
	}
}

// checkBatchRefused checks that a refused batch left nothing behind: the
// store holds exactly want, and none of the batch's other messages.
func checkBatchRefused(t *testing.T, s store.Store, batch []store.NewMessage, want []store.Message) {
	t.Helper()
	checkMessages(t, s, want)
	kept := map[string]bool{}
	for _, m := range want {
		kept[m.ID] = true
	}
	for _, m := range batch {
		if kept[m.ID] {
			continue
		}
		if _, err := s.Message(context.Background(), m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("message %s of the refused batch: Message error = %v, want ErrNotFound", m.ID, err)
		}
		if _, err := s.MessageBody(context.Background(), m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("message %s of the refused batch: MessageBody error = %v, want ErrNotFound", m.ID, err)
		}
	}
}

func testEnqueueDuplicateInBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	dup := simpleMessage("m-2", u.ID)
	dup.Recipients = []string{"other@example.com"}
	batch := []store.NewMessage{simpleMessage("m-1", u.ID), simpleMessage("m-2", u.ID), simpleMessage("m-3", u.ID), dup}
	err := s.EnqueueBatch(ctx, batch)
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("EnqueueBatch with a duplicate id: error = %v, want ErrExists", err)
	}
	checkBatchRefused(t, s, batch, nil)

	// The store is still usable, and the id still free.
	ok := []store.NewMessage{simpleMessage("m-2", u.ID)}
	if err := s.EnqueueBatch(ctx, ok); err != nil {
		t.Fatalf("EnqueueBatch after a refused batch: %v", err)
	}
	checkMessages(t, s, []store.Message{expected(ok[0], u.Name)})
}

func testEnqueueDuplicateOfStored(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	first := []store.NewMessage{simpleMessage("m-1", u.ID)}
	if err := s.EnqueueBatch(ctx, first); err != nil {
		t.Fatalf("EnqueueBatch: %v", err)
	}
	again := simpleMessage("m-1", u.ID)
	again.Body = []byte("Subject: impostor\r\n\r\n")
	again.Recipients = []string{"x@example.com"}
	batch := []store.NewMessage{simpleMessage("m-0", u.ID), again, simpleMessage("m-2", u.ID)}
	if err := s.EnqueueBatch(ctx, batch); !errors.Is(err, store.ErrExists) {
		t.Fatalf("EnqueueBatch with a stored id: error = %v, want ErrExists", err)
	}
	checkBatchRefused(t, s, batch, []store.Message{expected(first[0], u.Name)})
	checkBody(t, s, "m-1", first[0].Body)
}

func testEnqueueUnknownUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	batch := []store.NewMessage{simpleMessage("m-1", u.ID), simpleMessage("m-2", u.ID+1000)}
	if err := s.EnqueueBatch(ctx, batch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("EnqueueBatch for an unknown user: error = %v, want ErrNotFound", err)
	}
	checkBatchRefused(t, s, batch, nil)
}

func testEnqueueLargeBody(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, "acme", "")
	m := simpleMessage("m-big", u.ID)
	m.Body = make([]byte, 4<<20)
	for i := range m.Body {
		m.Body[i] = byte(i*7 + i>>11) // varied, and not a multiple of any page
	}
	if err := s.EnqueueBatch(ctx, []store.NewMessage{m}); err != nil {
		t.Fatalf("EnqueueBatch: %v", err)
	}
	checkMessages(t, s, []store.Message{expected(m, u.Name)})
	checkBody(t, s, m.ID, m.Body)
}

func testEnqueueConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	const (
		writers = 20
		perCall = 5
	)
	u := mustCreateUser(t, s, "acme", "")
	batches := make([][]store.NewMessage, writers)
	for w := range batches {
		for i := range perCall {
			m := simpleMessage(fmt.Sprintf("m-%02d-%d", w, i), u.ID)
			m.CreatedAt = base.Add(time.Duration(w*perCall+i) * time.Millisecond)
			m.Recipients = []string{fmt.Sprintf("w%d@example.com", w), fmt.Sprintf("i%d@example.com", i)}
			m.Body = append(binaryBody(m.ID), m.ID...)
			batches[w] = append(batches[w], m)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for w := range batches {
		wg.Go(func() {
			<-start
			errs[w] = s.EnqueueBatch(ctx, batches[w])
		})
	}
	close(start)
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Errorf("writer %d: EnqueueBatch: %v", w, err)
		}
	}
	var want []store.Message
	for _, b := range batches {
		for _, m := range b {
			want = append(want, expected(m, u.Name))
		}
	}
	checkMessages(t, s, want)
	for _, b := range batches {
		for _, m := range b {
			checkBody(t, s, m.ID, m.Body)
		}
	}
}
