package bounce_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/bounce"
	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/returnpath"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/sqlite"
)

var codec = returnpath.Codec{Key: []byte("test key, 32 bytes long........."), Label: "pst-bounces", Lifetime: 30 * 24 * time.Hour}

// fixture: an account acme (domains acme.test, verified with its return
// path, and shared.test, shared), its subusers shop and news, and a
// delivered message from shop to three recipients.
type fixture struct {
	st    store.Store
	svc   *bounce.Service
	acme  store.User
	shop  store.User
	news  store.User
	msgID string
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), msgID: "0g2r4t6v8a0c2e4g6i8k0m2o4q"}
	f.acme, _ = st.CreateUser(ctx, "acme", "")
	f.shop, _ = st.CreateUser(ctx, "shop", "acme")
	f.news, _ = st.CreateUser(ctx, "news", "acme")
	for _, d := range []struct {
		name   string
		owner  store.User
		state  store.DomainState
		shared bool
		rp     bool
	}{
		{"shop.test", f.shop, store.DomainVerified, false, true},
		{"norp.test", f.shop, store.DomainVerified, false, false},
		{"pending.test", f.shop, store.DomainPending, false, true},
		{"shared.test", f.acme, store.DomainVerified, true, true},
		{"private.test", f.acme, store.DomainVerified, false, true},
	} {
		if err := st.AddDomain(ctx, store.Domain{Name: d.name, UserID: d.owner.ID, State: d.state, Shared: d.shared, CreatedAt: f.now}); err != nil {
			t.Fatal(err)
		}
		if err := st.SetDomainState(ctx, d.name, d.state, f.now); err != nil {
			t.Fatal(err)
		}
		if err := st.SetDomainReturnPath(ctx, d.name, d.rp); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.EnqueueBatch(ctx, []store.NewMessage{{ID: f.msgID, UserID: f.shop.ID, From: "app@shop.test",
		Recipients: []string{"gone@far.test", "full@far.test", "ok@far.test"}, Body: []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: f.now}}); err != nil {
		t.Fatal(err)
	}
	f.svc = &bounce.Service{Store: st, Codec: codec, Now: func() time.Time { return f.now }}
	return f
}

func (f *fixture) rp(idx int) string {
	return codec.Address(returnpath.Token{MessageID: f.msgID, Idx: idx, Domain: "shop.test", Date: f.now})
}

func TestSender(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cases := []struct {
		user store.User
		from string
		want string // the domain of the VERP sender, "" for none
	}{
		{f.shop, "app@shop.test", "shop.test"},
		{f.shop, "app@SHOP.test", "shop.test"},
		{f.shop, "app@norp.test", ""},    // return-path MX not published
		{f.shop, "app@pending.test", ""}, // not verified
		{f.shop, "app@elsewhere.test", ""},
		{f.shop, "", ""},                           // the null sender stays null
		{f.shop, "app@shared.test", "shared.test"}, // the account's, shared
		{f.shop, "app@private.test", ""},           // the account's, not shared
		{f.news, "app@shop.test", ""},              // a sibling's
	}
	for _, tc := range cases {
		c := &store.Claim{ID: f.msgID, UserID: tc.user.ID, UserName: tc.user.Name, From: tc.from}
		fn, err := f.svc.Sender(ctx, c, f.now)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if fn != nil {
				t.Errorf("%s as %q: VERP sender %s, want none", tc.user.Name, tc.from, fn(0))
			}
			continue
		}
		if fn == nil {
			t.Errorf("%s as %q: no VERP sender", tc.user.Name, tc.from)
			continue
		}
		a, b := fn(0), fn(2)
		if a == b || !strings.HasSuffix(a, "@pst-bounces."+tc.want) {
			t.Errorf("%s as %q: senders %s, %s", tc.user.Name, tc.from, a, b)
		}
		tok, err := codec.Parse(b, f.now)
		if err != nil || tok.MessageID != f.msgID || tok.Idx != 2 || tok.Domain != tc.want {
			t.Errorf("%s: token %+v %v", b, tok, err)
		}
	}
}

func TestRecipient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	got, err := f.svc.Recipient(ctx, strings.ToUpper(f.rp(1)))
	if err != nil || got.Recipient != "full@far.test" || got.UserID != f.shop.ID || got.UserName != "shop" || got.Idx != 1 {
		t.Fatalf("Recipient = %+v, %v", got, err)
	}
	forged := f.rp(1)
	forged = strings.Replace(forged, "-1-", "-0-", 1)
	for addr, want := range map[string]error{
		forged: bounce.ErrUnknown,
		codec.Address(returnpath.Token{MessageID: "1g2r4t6v8a0c2e4g6i8k0m2o4q", Idx: 0, Domain: "shop.test", Date: f.now}): bounce.ErrUnknown, // no such message
		codec.Address(returnpath.Token{MessageID: f.msgID, Idx: 3, Domain: "shop.test", Date: f.now}):                      bounce.ErrUnknown, // no such recipient
		"postmaster@shop.test":          bounce.ErrNotReturnPath,
		"someone@pst-bounces.shop.test": bounce.ErrNotReturnPath,
		"victim@far.test":               bounce.ErrNotReturnPath,
	} {
		if _, err := f.svc.Recipient(ctx, addr); !errors.Is(err, want) {
			t.Errorf("Recipient(%s) = %v, want %v", addr, err, want)
		}
	}
}

func report(t *testing.T, rcpts ...dsn.Recipient) []byte {
	t.Helper()
	b, err := dsn.Build(dsn.Report{ReportingMTA: "mx.far.test", Sender: "b@pst-bounces.shop.test", Recipients: rcpts,
		Original: []byte("From: app@shop.test\r\nSubject: x\r\n\r\n"), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReceive(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var targets []bounce.Target
	for i := range 3 {
		tg, err := f.svc.Recipient(ctx, f.rp(i))
		if err != nil {
			t.Fatal(err)
		}
		targets = append(targets, tg)
	}
	msg := report(t,
		dsn.Recipient{Address: "gone@far.test", Action: dsn.Failed, Status: [3]int{5, 1, 1}, Diagnostic: "550 5.1.1 no such user"},
		dsn.Recipient{Address: "full@far.test", Action: dsn.Failed, Status: [3]int{5, 7, 1}, Diagnostic: "550 5.7.1 content refused"},
		dsn.Recipient{Address: "ok@far.test", Action: dsn.Delayed, Status: [3]int{4, 2, 2}},
	)
	outs, err := f.svc.Receive(ctx, targets, "", msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 3 || !outs[0].Bounced || !outs[0].Suppressed || !outs[1].Bounced || outs[1].Suppressed || outs[2].Bounced {
		t.Fatalf("outcomes %+v", outs)
	}
	supp, _ := f.st.Suppressions(ctx, f.shop.ID)
	if len(supp) != 1 || supp[0].Address != "gone@far.test" || !strings.Contains(supp[0].Reason, "5.1.1") {
		t.Fatalf("suppressions %+v", supp)
	}
	// Only the sending user's list: the account's and the sibling's are untouched.
	for _, u := range []store.User{f.acme, f.news} {
		if s, _ := f.st.Suppressions(ctx, u.ID); len(s) != 0 {
			t.Errorf("%s's suppressions %+v", u.Name, s)
		}
	}
	rcpts, _ := f.st.Recipients(ctx, f.msgID)
	if rcpts[0].State != store.RcptBounced || rcpts[1].State != store.RcptBounced || rcpts[2].State == store.RcptBounced {
		t.Fatalf("recipients %+v", rcpts)
	}
	evs, _ := f.st.Events(ctx, f.msgID)
	types := map[string]store.EventType{}
	for _, e := range evs {
		types[e.Recipient] = e.Type
		if e.Type == store.EventBounced && e.Recipient == "gone@far.test" && !strings.Contains(e.Detail, "mx.far.test") {
			t.Errorf("bounce event does not name the reporting MTA: %q", e.Detail)
		}
	}
	if types["gone@far.test"] != store.EventBounced || types["full@far.test"] != store.EventBounced || types["ok@far.test"] != store.EventDeferred {
		t.Fatalf("events %+v", evs)
	}
}

// A report naming another address still counts for the one recipient its
// return path names; an auto-reply is recorded and changes nothing.
func TestReceiveForwardedAndNotReports(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tg, _ := f.svc.Recipient(ctx, f.rp(2))
	outs, err := f.svc.Receive(ctx, []bounce.Target{tg}, "", report(t,
		dsn.Recipient{Address: "forwarded@elsewhere.test", Action: dsn.Failed, Status: [3]int{5, 2, 1}}))
	if err != nil || len(outs) != 1 || !outs[0].Suppressed {
		t.Fatalf("forwarded: %+v %v", outs, err)
	}
	if s, _ := f.st.Suppressed(ctx, f.shop.ID, []string{"ok@far.test"}); len(s) != 1 {
		t.Fatalf("the return path's recipient was not suppressed: %+v", s)
	}

	tg, _ = f.svc.Recipient(ctx, f.rp(0))
	outs, err = f.svc.Receive(ctx, []bounce.Target{tg}, "boss@far.test",
		[]byte("From: boss@far.test\r\nSubject: Out of office\r\n\r\nI am away.\r\n"))
	if err != nil || len(outs) != 1 || outs[0].Bounced {
		t.Fatalf("auto-reply: %+v %v", outs, err)
	}
	if s, _ := f.st.Suppressed(ctx, f.shop.ID, []string{"gone@far.test"}); len(s) != 0 {
		t.Fatalf("an auto-reply suppressed the address: %+v", s)
	}
	rcpts, _ := f.st.Recipients(ctx, f.msgID)
	if rcpts[0].State == store.RcptBounced {
		t.Fatalf("an auto-reply bounced the recipient: %+v", rcpts[0])
	}
	evs, _ := f.st.Events(ctx, f.msgID)
	if last := evs[len(evs)-1]; last.Type != store.EventInbound || last.Recipient != "gone@far.test" {
		t.Fatalf("last event %+v", last)
	}
}
