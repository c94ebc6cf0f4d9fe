package smtpd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtpd"
	"github.com/postern/postern/internal/store"
)

// TestSenderEnforcement: only the user's verified (or operator-trusted)
// domains may appear as envelope sender, From or Sender; a sibling
// account's domain is refused; so are a null sender and several Froms.
func TestSenderEnforcement(t *testing.T) {
	e := newEnv(t, envOptions{identity: true})
	ctx := context.Background()
	acme, _ := e.store.UserByName(ctx, "acme")
	beta, _ := e.store.CreateUser(ctx, "beta", "")
	for _, d := range []store.Domain{
		{Name: "example.test", UserID: acme.ID, State: store.DomainTrusted},
		{Name: "beta.test", UserID: beta.ID, State: store.DomainVerified},
		{Name: "pending.test", UserID: acme.ID, State: store.DomainPending},
	} {
		d.CreatedAt = time.Now()
		if err := e.store.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	c := e.dial(smtpd.Submissions)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "app@example.test", []string{"a@x.test"}, testMsg); err != nil {
		t.Fatalf("verified identity: %v", err)
	}
	for _, from := range []string{"x@beta.test", "x@pending.test", "x@nowhere.test"} {
		se := wantCode(t, c.Mail(from, nil), 550, smtp.EnhancedCode{5, 7, 1})
		if !strings.Contains(se.Message, "<"+from+">") {
			t.Errorf("refusal does not name %s: %q", from, se.Message)
		}
	}
	wantCode(t, c.Mail("", nil), 550, smtp.EnhancedCode{5, 7, 1})
	for name, msg := range map[string]string{
		"From elsewhere":   "From: boss@beta.test\r\nSubject: x\r\n\r\nhi\r\n",
		"two From":         "From: app@example.test, boss@beta.test\r\nSubject: x\r\n\r\nhi\r\n",
		"no From":          "Subject: x\r\n\r\nhi\r\n",
		"Sender elsewhere": "From: app@example.test\r\nSender: boss@beta.test\r\nSubject: x\r\n\r\nhi\r\n",
	} {
		_, err := send(c, "app@example.test", []string{"a@x.test"}, msg)
		se := wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
		if name == "From elsewhere" && !strings.Contains(se.Message, "From <boss@beta.test>") {
			t.Errorf("%s: %q", name, se.Message)
		}
	}
	if n := len(e.queued()); n != 1 {
		t.Fatalf("%d queued, want only the verified one", n)
	}
	// A verified single sender on an otherwise unverified domain passes.
	if err := e.store.AddSender(ctx, store.Sender{Address: "me@mailbox.test", UserID: acme.ID, Verified: true,
		VerifiedAt: time.Now(), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := send(c, "me@mailbox.test", []string{"a@x.test"}, "From: me@mailbox.test\r\nSubject: x\r\n\r\nhi\r\n"); err != nil {
		t.Fatalf("verified single sender: %v", err)
	}
	wantCode(t, c.Mail("other@mailbox.test", nil), 550, smtp.EnhancedCode{5, 7, 1})
}
