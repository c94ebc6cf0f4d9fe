package admin_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/store"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// newQueueEnv is newEnv with its clock at t0 plus an hour and a message
// of each of acme, shop and beta, created a minute apart from t0 in the
// order acme, shop, beta, acme.
func newQueueEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.now = t0.Add(time.Hour)
	var msgs []store.NewMessage
	for i, m := range []struct {
		id string
		u  store.User
	}{{"a1", e.acme}, {"s1", e.shop}, {"b1", e.beta}, {"a2", e.acme}} {
		msgs = append(msgs, store.NewMessage{ID: m.id, UserID: m.u.ID, KeyID: "k-" + m.u.Name, From: "app@" + m.u.Name + ".test",
			Recipients: []string{"r1@x.test", "r2@x.test"}, Body: []byte("Subject: " + m.id + "\r\n\r\nhi\r\n"),
			CreatedAt: t0.Add(time.Duration(i) * time.Minute)})
	}
	if err := e.st.EnqueueBatch(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	return e
}

func ids(msgs []store.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

var allQueueScopes = []string{admin.ScopeQueueRead, admin.ScopeQueueUpdate}

// TestListQueueTenancy: the operator lists every message; a key only its
// own user's, whatever it asks for; an account key reaches its
// subuser's only on behalf of it.
func TestListQueueTenancy(t *testing.T) {
	e := newQueueEnv(t)
	ctx := context.Background()
	op := admin.Actor{Operator: true}
	acme := e.key("acme", "", allQueueScopes...)
	acmeForShop := e.key("acme", "shop", allQueueScopes...)
	shop := e.key("shop", "", allQueueScopes...)
	beta := e.key("beta", "", allQueueScopes...)
	tests := []struct {
		name  string
		a     admin.Actor
		f     admin.QueueFilter
		want  []string
		error error
	}{
		{"operator: all", op, admin.QueueFilter{}, []string{"a1", "s1", "b1", "a2"}, nil},
		{"operator: one user", op, admin.QueueFilter{User: "shop"}, []string{"s1"}, nil},
		{"operator: an unknown user", op, admin.QueueFilter{User: "nobody"}, nil, admin.ErrNotFound},
		{"acme: its own", acme, admin.QueueFilter{}, []string{"a1", "a2"}, nil},
		{"acme: itself by name", acme, admin.QueueFilter{User: "acme"}, []string{"a1", "a2"}, nil},
		{"acme: not its subuser's without On-Behalf-Of", acme, admin.QueueFilter{User: "shop"}, nil, admin.ErrNotFound},
		{"acme on behalf of shop", acmeForShop, admin.QueueFilter{}, []string{"s1"}, nil},
		{"acme on behalf of shop, naming acme", acmeForShop, admin.QueueFilter{User: "acme"}, nil, admin.ErrNotFound},
		{"shop: its own", shop, admin.QueueFilter{}, []string{"s1"}, nil},
		{"shop: not its account's", shop, admin.QueueFilter{User: "acme"}, nil, admin.ErrNotFound},
		{"beta: its own", beta, admin.QueueFilter{}, []string{"b1"}, nil},
		{"beta: not acme's", beta, admin.QueueFilter{User: "acme"}, nil, admin.ErrNotFound},
		{"beta: another tenant's cursor", beta, admin.QueueFilter{After: "a1"}, nil, admin.ErrNotFound},
		{"acme: its own cursor", acme, admin.QueueFilter{After: "a1"}, []string{"a2"}, nil},
	}
	for _, tc := range tests {
		page, err := e.s.ListQueue(ctx, tc.a, tc.f)
		if !errors.Is(err, tc.error) || (tc.error == nil) != (err == nil) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.error)
			continue
		}
		if got := ids(page.Messages); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// beta cannot act on behalf of acme's subuser at all.
	if _, err := e.s.KeyActor(ctx, account.Principal{Key: store.APIKey{ID: "keybeta", Scopes: allQueueScopes},
		User: e.beta, Account: e.beta}, "shop"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("beta on behalf of shop: %v, want ErrNotFound", err)
	}
}

// TestListQueueFiltersAndPaging: states, since, limit with More and Next,
// and the next page from Next.
func TestListQueueFiltersAndPaging(t *testing.T) {
	e := newQueueEnv(t)
	ctx := context.Background()
	op := admin.Actor{Operator: true}
	// a1 is tried once (deferred), its first recipient delivered; s1 is
	// dropped; b1 bounces one recipient and drops the other.
	cs, err := e.st.ClaimDue(ctx, t0, 1, func(int) time.Time { return t0.Add(time.Hour) })
	if err != nil || len(cs) != 1 || cs[0].ID != "a1" {
		t.Fatalf("claim %+v %v", cs, err)
	}
	record := func(id string, ups ...store.RecipientUpdate) {
		t.Helper()
		if err := e.st.RecordAttempt(ctx, store.Attempt{MessageID: id, At: t0, Updates: ups}); err != nil {
			t.Fatal(err)
		}
	}
	record("a1", store.RecipientUpdate{Idx: 0, State: store.RcptDelivered, Result: "250 ok"})
	record("b1", store.RecipientUpdate{Idx: 0, State: store.RcptBounced, Result: "550 5.1.1 no"})
	if err := e.s.DropMessage(ctx, op, "s1"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DropMessage(ctx, op, "b1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    admin.QueueFilter
		want []string
	}{
		{admin.QueueFilter{State: admin.QueueQueued}, []string{"a1", "a2"}},
		{admin.QueueFilter{State: admin.QueueDeferred}, []string{"a1"}},
		{admin.QueueFilter{State: admin.QueueDone}, []string{"s1", "b1"}},
		{admin.QueueFilter{State: admin.QueueDelivered}, []string{"a1"}},
		{admin.QueueFilter{State: admin.QueueBounced}, []string{"b1"}},
		{admin.QueueFilter{State: admin.QueueDropped}, []string{"s1", "b1"}},
		{admin.QueueFilter{Since: t0.Add(2 * time.Minute)}, []string{"b1", "a2"}},
		{admin.QueueFilter{Offset: 3}, []string{"a2"}},
		{admin.QueueFilter{User: "acme", State: admin.QueueQueued, Since: t0.Add(time.Second)}, []string{"a2"}},
	}
	for _, tc := range tests {
		page, err := e.s.ListQueue(ctx, op, tc.f)
		if err != nil {
			t.Errorf("%+v: %v", tc.f, err)
			continue
		}
		if got := ids(page.Messages); !slices.Equal(got, tc.want) || page.More {
			t.Errorf("%+v: %q (more %v), want %q", tc.f, got, page.More, tc.want)
		}
	}

	// Pages of two: Next continues where the page ended.
	var all []string
	f := admin.QueueFilter{Limit: 2}
	for range 3 {
		page, err := e.s.ListQueue(ctx, op, f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(page.Messages)...)
		if !page.More {
			if page.Next != "" {
				t.Errorf("last page has Next %q", page.Next)
			}
			break
		}
		if page.Next != page.Messages[len(page.Messages)-1].ID {
			t.Errorf("Next %q is not the page's last id", page.Next)
		}
		f.After = page.Next
	}
	if want := []string{"a1", "s1", "b1", "a2"}; !slices.Equal(all, want) {
		t.Errorf("paged: %q, want %q", all, want)
	}
	// Exactly the limit: no More.
	if page, _ := e.s.ListQueue(ctx, op, admin.QueueFilter{Limit: 4}); page.More || len(page.Messages) != 4 {
		t.Errorf("limit 4 of 4: %d messages, more %v", len(page.Messages), page.More)
	}

	var invalid *admin.InvalidError
	for _, f := range []admin.QueueFilter{{State: "stuck"}, {Limit: -1}, {Offset: -1}} {
		if _, err := e.s.ListQueue(ctx, op, f); !errors.As(err, &invalid) {
			t.Errorf("%+v: %v, want an InvalidError", f, err)
		}
	}
	if _, err := e.s.ListQueue(ctx, op, admin.QueueFilter{After: "nope"}); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("unknown cursor: %v", err)
	}
}

// TestShowMessage: attempts, the next attempt, the recipients with their
// state, the history and the latest attempt's reply.
func TestShowMessage(t *testing.T) {
	e := newQueueEnv(t)
	ctx := context.Background()
	op := admin.Actor{Operator: true}
	d, err := e.s.ShowMessage(ctx, op, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Message.Attempts != 0 || !d.Message.NextAttempt.Equal(t0) || d.LastReply.Type != "" || len(d.Events) != 2 {
		t.Errorf("before any attempt: %+v", d)
	}
	next := t0.Add(5 * time.Minute)
	if _, err := e.st.ClaimDue(ctx, t0, 1, func(int) time.Time { return next }); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Second)
	if err := e.st.RecordAttempt(ctx, store.Attempt{MessageID: "a1", At: at,
		Updates: []store.RecipientUpdate{
			{Idx: 0, State: store.RcptDelivered, Result: "250 2.0.0 ok"},
			{Idx: 1, State: store.RcptPending, Result: "451 4.7.1 greylisted"},
		},
		Events: []store.Event{
			{MessageID: "a1", Recipient: "r1@x.test", Type: store.EventDelivered, Detail: "250 2.0.0 ok", At: at},
			{MessageID: "a1", Recipient: "r2@x.test", Type: store.EventDeferred, Detail: "451 4.7.1 greylisted", At: at},
		}}); err != nil {
		t.Fatal(err)
	}
	d, err = e.s.ShowMessage(ctx, op, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Message.State != store.StateQueued || d.Message.Attempts != 1 || !d.Message.NextAttempt.Equal(next) {
		t.Errorf("after an attempt: state %s, attempts %d, next %v; want queued, 1, %v", d.Message.State, d.Message.Attempts, d.Message.NextAttempt, next)
	}
	if len(d.Recipients) != 2 || d.Recipients[0].State != store.RcptDelivered || d.Recipients[1].LastResult != "451 4.7.1 greylisted" {
		t.Errorf("recipients %+v", d.Recipients)
	}
	if d.LastReply.Type != store.EventDeferred || d.LastReply.Recipient != "r2@x.test" || d.LastReply.Detail != "451 4.7.1 greylisted" || !d.LastReply.At.Equal(at) {
		t.Errorf("last reply %+v", d.LastReply)
	}
	if len(d.Events) != 4 {
		t.Errorf("%d events, want 4", len(d.Events))
	}
}

// TestQueueOperationsTenancy: show, retry and drop reach the Actor's own
// messages only; another tenant's (or a missing one) is ErrNotFound, and
// changes nothing.
func TestQueueOperationsTenancy(t *testing.T) {
	e := newQueueEnv(t)
	ctx := context.Background()
	ops := []struct {
		name string
		do   func(a admin.Actor, id string) error
	}{
		{"show", func(a admin.Actor, id string) error { _, err := e.s.ShowMessage(ctx, a, id); return err }},
		{"retry", func(a admin.Actor, id string) error { return e.s.RetryMessage(ctx, a, id) }},
	}
	actors := []struct {
		name  string
		a     admin.Actor
		reach []string // of a1 (acme), s1 (shop), b1 (beta)
	}{
		{"operator", admin.Actor{Operator: true}, []string{"a1", "s1", "b1"}},
		{"acme", e.key("acme", "", allQueueScopes...), []string{"a1"}},
		{"acme on behalf of shop", e.key("acme", "shop", allQueueScopes...), []string{"s1"}},
		{"shop", e.key("shop", "", allQueueScopes...), []string{"s1"}},
		{"beta", e.key("beta", "", allQueueScopes...), []string{"b1"}},
	}
	for _, op := range ops {
		for _, ac := range actors {
			for _, id := range []string{"a1", "s1", "b1", "missing"} {
				err := op.do(ac.a, id)
				if slices.Contains(ac.reach, id) {
					if err != nil {
						t.Errorf("%s %s by %s: %v", op.name, id, ac.name, err)
					}
				} else if !errors.Is(err, admin.ErrNotFound) {
					t.Errorf("%s %s by %s: %v, want ErrNotFound", op.name, id, ac.name, err)
				}
			}
		}
	}
	// Drop: refused ones leave the message queued; the owner's goes.
	for _, ac := range actors[1:] {
		for _, id := range []string{"a1", "s1", "b1"} {
			if slices.Contains(ac.reach, id) {
				continue
			}
			if err := e.s.DropMessage(ctx, ac.a, id); !errors.Is(err, admin.ErrNotFound) {
				t.Errorf("drop %s by %s: %v, want ErrNotFound", id, ac.name, err)
			}
		}
	}
	for _, id := range []string{"a1", "s1", "b1"} {
		if m, _ := e.st.Message(ctx, id); m.State != store.StateQueued {
			t.Errorf("%s is %s after refused drops", id, m.State)
		}
	}
	beta := actors[4].a
	if err := e.s.DropMessage(ctx, beta, "b1"); err != nil {
		t.Fatal(err)
	}
	rs, _ := e.st.Recipients(ctx, "b1")
	if rs[0].State != store.RcptDropped || rs[0].LastResult != "dropped by API key "+beta.Key.ID {
		t.Errorf("after beta's drop: %+v", rs)
	}
	// Done now: neither retried nor dropped again.
	if err := e.s.RetryMessage(ctx, beta, "b1"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("retry of a done message: %v", err)
	}
	if err := e.s.DropMessage(ctx, beta, "b1"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("drop of a done message: %v", err)
	}
}

// TestQueueScopes: reading needs messages.read, retry and drop need
// user.scheduled_sends.update; without, ErrForbidden and nothing changes.
func TestQueueScopes(t *testing.T) {
	e := newQueueEnv(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		scope string
		do    func(a admin.Actor) error
	}{
		{"list", admin.ScopeQueueRead, func(a admin.Actor) error { _, err := e.s.ListQueue(ctx, a, admin.QueueFilter{}); return err }},
		{"show", admin.ScopeQueueRead, func(a admin.Actor) error { _, err := e.s.ShowMessage(ctx, a, "a1"); return err }},
		{"retry", admin.ScopeQueueUpdate, func(a admin.Actor) error { return e.s.RetryMessage(ctx, a, "a1") }},
		{"drop", admin.ScopeQueueUpdate, func(a admin.Actor) error { return e.s.DropMessage(ctx, a, "a2") }},
	}
	for _, tc := range tests {
		others := []string{account.ScopeMailSend}
		for _, s := range allQueueScopes {
			if s != tc.scope {
				others = append(others, s)
			}
		}
		before := e.snapshot()
		if err := tc.do(e.key("acme", "", others...)); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("%s without %s: %v, want ErrForbidden", tc.name, tc.scope, err)
		}
		if after := e.snapshot(); !slices.Equal(after, before) {
			t.Errorf("%s without %s changed the queue: %q, was %q", tc.name, tc.scope, after, before)
		}
		if err := tc.do(e.key("acme", "", tc.scope)); err != nil {
			t.Errorf("%s with %s: %v", tc.name, tc.scope, err)
		}
	}
	if rs, _ := e.st.Recipients(ctx, "a2"); rs[0].State != store.RcptDropped {
		t.Errorf("a2 after the permitted drop: %+v", rs)
	}
}

// snapshot is each message's state and next attempt, and each
// recipient's state.
func (e *env) snapshot() []string {
	e.t.Helper()
	ctx := context.Background()
	msgs, err := e.st.ListMessages(ctx, store.MessageFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID+" "+string(m.State)+" "+m.NextAttempt.String())
		rs, err := e.st.Recipients(ctx, m.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range rs {
			out = append(out, "  "+r.Address+" "+string(r.State))
		}
	}
	return out
}
