package admin_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/sendercode"
	"github.com/postern/postern/internal/store"
)

// confirmation returns the code of the confirmation queued as msgID
// and its body.
func (e *env) confirmation(msgID string) (code, body string) {
	e.t.Helper()
	b, err := e.st.MessageBody(context.Background(), msgID)
	if err != nil {
		e.t.Fatalf("confirmation %s: %v", msgID, err)
	}
	body = string(b)
	m := regexp.MustCompile(`postern sender confirm ([A-Z2-7]{32})`).FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("message %s is no confirmation:\n%s", msgID, body)
	}
	return m[1], body
}

// TestAddConfirmSender: a sender is added pending, its code mailed from
// the null sender through the queue with the requester named; the code
// confirms it once; a verified sender cannot be added again, a pending
// one gets a new code and the old one confirms nothing.
func TestAddConfirmSender(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	added, err := e.s.AddSender(ctx, e.key("shop", ""), admin.NewSender{Address: "Me@Mailbox.TEST", Nickname: "Me",
		FromName: "Shop Me", ReplyTo: "Help@Mailbox.test", ReplyToName: "Help"})
	if err != nil {
		t.Fatal(err)
	}
	s := added.Sender
	if s.ID == 0 || s.Address != "me@mailbox.test" || s.User != "shop" || s.Verified || added.MessageID == "" ||
		s.Nickname != "Me" || s.FromName != "Shop Me" || s.ReplyTo != "help@mailbox.test" || s.ReplyToName != "Help" ||
		!s.ExpiresAt.Equal(e.now.Add(sendercode.TTL)) {
		t.Fatalf("added %+v", added)
	}
	code, body := e.confirmation(added.MessageID)
	for _, want := range []string{"requested by account shop (a subuser of acme)", "/verify?code=" + code, "From: Postern <no-reply@mail.postern.test>"} {
		if !strings.Contains(body, want) {
			t.Errorf("confirmation lacks %q:\n%s", want, body)
		}
	}
	if _, err := e.s.ConfirmSender(ctx, e.key("shop", ""), code); !errors.Is(err, admin.ErrForbidden) {
		t.Fatalf("a key confirms a code: %v", err)
	}
	// A new code: the old one confirms nothing, the sender keeps its id
	// and profile.
	again, err := e.s.AddSender(ctx, e.op("shop"), admin.NewSender{Address: "me@mailbox.test"})
	if err != nil || again.Sender.ID != s.ID || again.Sender.Nickname != "Me" || again.MessageID == added.MessageID {
		t.Fatalf("pending again: %+v %v", again, err)
	}
	if _, err := e.s.ConfirmSender(ctx, e.op(""), code); !errors.Is(err, admin.ErrUnknownCode) || !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("the replaced code: %v", err)
	}
	code, _ = e.confirmation(again.MessageID)
	got, err := e.s.ConfirmSender(ctx, e.op(""), " "+strings.ToLower(code)+"\n")
	if err != nil || !got.Verified || got.ID != s.ID || got.User != "shop" || !got.VerifiedAt.Equal(e.now) {
		t.Fatalf("confirm: %+v %v", got, err)
	}
	if _, err := e.s.ConfirmSender(ctx, e.op(""), code); !errors.Is(err, admin.ErrUnknownCode) {
		t.Fatalf("a code used twice: %v", err)
	}
	if _, err := e.s.AddSender(ctx, e.key("shop", ""), admin.NewSender{Address: "me@mailbox.test"}); !errors.Is(err, admin.ErrConflict) {
		t.Fatalf("a verified sender added again: %v", err)
	}
	if _, err := e.s.ResendSender(ctx, e.key("shop", ""), admin.SenderRef{ID: s.ID}); !invalidField("id")(err) {
		t.Fatalf("resend to a verified sender: %v", err)
	}
}

// TestAddSenderRefused: what AddSender refuses, and that nothing is
// stored or mailed for it.
func TestAddSenderRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.s.AddDomain(ctx, e.op("acme"), admin.NewDomain{Name: "acme.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.VerifyDomain(ctx, e.op(""), admin.DomainRef{Name: "acme.test"}, admin.VerifyOptions{Trust: true}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		who   admin.Actor
		req   admin.NewSender
		field string
		want  error
	}{
		{"not an address", e.op("acme"), admin.NewSender{Address: "nobody"}, "from_email", nil},
		{"header injection", e.op("acme"), admin.NewSender{Address: "a@b.test>\r\nBcc: <x@y.test"}, "from_email", nil},
		{"bad reply-to", e.op("acme"), admin.NewSender{Address: "a@b.test", ReplyTo: "not an address"}, "reply_to", nil},
		{"two-line name", e.op("acme"), admin.NewSender{Address: "a@b.test", FromName: "a\r\nb"}, "from_name", nil},
		{"long nickname", e.op("acme"), admin.NewSender{Address: "a@b.test", Nickname: strings.Repeat("n", 257)}, "nickname", nil},
		{"on another tenant's domain", e.key("beta", ""), admin.NewSender{Address: "ceo@acme.test"}, "from_email", nil},
		{"on the account's unshared domain", e.key("shop", ""), admin.NewSender{Address: "ceo@acme.test"}, "from_email", nil},
		{"operator vouches on another's domain", e.op("beta"), admin.NewSender{Address: "ceo@acme.test", Vouch: true}, "from_email", nil},
		{"a key vouches", e.key("acme", ""), admin.NewSender{Address: "a@b.test", Vouch: true}, "", admin.ErrForbidden},
		{"without the scope", e.key("acme", "", "whitelabel.read"), admin.NewSender{Address: "a@b.test"}, "", admin.ErrForbidden},
		{"for another tenant", e.key("acme", ""), admin.NewSender{Address: "a@b.test", User: "beta"}, "username", nil},
	}
	for _, tc := range cases {
		_, err := e.s.AddSender(ctx, tc.who, tc.req)
		wantRefused(t, tc.name, err, tc.field, tc.want)
	}
	if list, _ := e.s.ListSenders(ctx, e.op(""), admin.SenderFilter{}); len(list) != 0 {
		t.Errorf("refused senders stored: %+v", list)
	}
	if msgs, _ := e.st.Messages(ctx); len(msgs) != 0 {
		t.Errorf("refused senders mailed: %+v", msgs)
	}
	// The operator vouches: verified, nothing mailed.
	v, err := e.s.AddSender(ctx, e.op("acme"), admin.NewSender{Address: "ops@internal.test", Vouch: true})
	if err != nil || !v.Sender.Verified || !v.Sender.ByOperator || v.MessageID != "" {
		t.Fatalf("vouched: %+v %v", v, err)
	}
	if msgs, _ := e.st.Messages(ctx); len(msgs) != 0 {
		t.Errorf("a vouched sender mailed: %+v", msgs)
	}
}

// TestSenderTenancy: keys reach their own user's senders alone; another
// tenant's sender is not found for every operation, by id or by owner
// and address; lists hold the actor's own.
func TestSenderTenancy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	byOwner := map[string]admin.Sender{}
	for _, owner := range []string{"acme", "shop", "beta"} {
		added, err := e.s.AddSender(ctx, e.op(owner), admin.NewSender{Address: "same@mailbox.test"})
		if err != nil {
			t.Fatal(err)
		}
		byOwner[owner] = added.Sender
	}
	actors := e.keyActors()
	sees := map[string]string{"acme": "acme", "acme obo shop": "shop", "shop": "shop", "beta": "beta"}
	ops := map[string]func(admin.Actor, admin.SenderRef) error{
		"resend": func(a admin.Actor, r admin.SenderRef) error { _, err := e.s.ResendSender(ctx, a, r); return err },
		"share":  func(a admin.Actor, r admin.SenderRef) error { _, err := e.s.ShareSender(ctx, a, r, true); return err },
		"delete": func(a admin.Actor, r admin.SenderRef) error { return e.s.DeleteSender(ctx, a, r) },
	}
	for who, a := range actors {
		list, err := e.s.ListSenders(ctx, a, admin.SenderFilter{})
		if err != nil || len(list) != 1 || list[0].User != sees[who] || list[0].ID != byOwner[sees[who]].ID {
			t.Errorf("%s lists %+v %v, want %s's alone", who, list, err, sees[who])
		}
		for owner, s := range byOwner {
			if owner == sees[who] {
				continue
			}
			for opName, op := range ops {
				for _, ref := range []admin.SenderRef{{ID: s.ID}, {User: owner, Address: s.Address}, {ID: s.ID + 1000}} {
					if err := op(a, ref); !errors.Is(err, admin.ErrNotFound) {
						t.Errorf("%s %s %s's %+v: %v, want ErrNotFound", who, opName, owner, ref, err)
					}
				}
			}
		}
	}
	msgs, _ := e.st.Messages(ctx)
	if len(msgs) != 3 {
		t.Errorf("%d confirmations after the refused resends, want the 3 first ones", len(msgs))
	}
	for owner, s := range byOwner {
		list, _ := e.s.ListSenders(ctx, e.op(owner), admin.SenderFilter{User: owner})
		if len(list) != 1 || list[0].Shared || list[0].ID != s.ID {
			t.Errorf("%s's sender after the others' calls: %+v", owner, list)
		}
	}
	// Its own: resent, shared, deleted.
	r, err := e.s.ResendSender(ctx, actors["acme obo shop"], admin.SenderRef{ID: byOwner["shop"].ID})
	if err != nil || r.MessageID == "" || r.Sender.ID != byOwner["shop"].ID {
		t.Fatalf("resend: %+v %v", r, err)
	}
	if sh, err := e.s.ShareSender(ctx, actors["shop"], admin.SenderRef{ID: byOwner["shop"].ID}, true); err != nil || !sh.Shared {
		t.Fatalf("share: %+v %v", sh, err)
	}
	if err := e.s.DeleteSender(ctx, actors["shop"], admin.SenderRef{ID: byOwner["shop"].ID}); err != nil {
		t.Fatal(err)
	}
	list, _ := e.s.ListSenders(ctx, e.op(""), admin.SenderFilter{})
	var owners []string
	for _, s := range list {
		owners = append(owners, s.User)
	}
	if strings.Join(owners, " ") != "acme beta" {
		t.Fatalf("after deleting shop's: %v", owners)
	}
	if _, err := e.st.SenderByID(ctx, byOwner["shop"].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted sender: %v", err)
	}
}

// TestSenderResendInterval: a key cannot have a pending sender's
// confirmation mailed again within domains.sender_resend_interval, by
// resending or by adding it again; the operator can; after the interval
// the key can too.
func TestSenderResendInterval(t *testing.T) {
	e := newEnv(t)
	e.s.Config.Domains.SenderResendInterval.Duration = 10 * time.Minute
	ctx := context.Background()
	shop := e.key("shop", "")
	added, err := e.s.AddSender(ctx, shop, admin.NewSender{Address: "me@mailbox.test", Nickname: "Me", ReplyTo: "me@mailbox.test"})
	if err != nil {
		t.Fatal(err)
	}
	ref := admin.SenderRef{ID: added.Sender.ID}
	if _, err := e.s.ResendSender(ctx, shop, ref); !errors.Is(err, admin.ErrTooSoon) {
		t.Fatalf("resend at once: %v", err)
	}
	if _, err := e.s.AddSender(ctx, shop, admin.NewSender{Address: "me@mailbox.test", Nickname: "Me", ReplyTo: "me@mailbox.test"}); !errors.Is(err, admin.ErrTooSoon) {
		t.Fatalf("added again at once: %v", err)
	}
	if _, err := e.s.ResendSender(ctx, e.op("shop"), ref); err != nil {
		t.Fatalf("the operator resends: %v", err)
	}
	e.now = e.now.Add(9 * time.Minute)
	if _, err := e.s.ResendSender(ctx, shop, ref); !errors.Is(err, admin.ErrTooSoon) {
		t.Fatalf("resend after 9 minutes (the operator's mail at 0): %v", err)
	}
	e.now = e.now.Add(time.Minute)
	if _, err := e.s.ResendSender(ctx, shop, ref); err != nil {
		t.Fatalf("resend after the interval: %v", err)
	}
}
