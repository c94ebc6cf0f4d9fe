package main

import (
	"context"
	"strings"
	"testing"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/identity"
)

// senderCLI is the CLI over a fresh data directory with the accounts acme
// (subusers shop and news) and beta, and acme.test authenticated by acme
// (the operator vouches for it: no DNS needed).
func senderCLI(t *testing.T) (*cliEnv, func(args ...string) (int, string, string)) {
	t.Helper()
	c := newCLI(t)
	run := func(args ...string) (int, string, string) {
		return c.run(nil, append([]string{"--config", c.config}, args...)...)
	}
	for _, args := range [][]string{
		{"user", "create", "acme"}, {"user", "create", "shop", "--parent", "acme"},
		{"user", "create", "news", "--parent", "acme"}, {"user", "create", "beta"},
		{"domain", "add", "acme.test", "--user", "acme"}, {"domain", "verify", "acme.test", "--trust"},
		{"domain", "add", "claimed.test", "--user", "acme"}, // pending: claimed, not proven
	} {
		if code, _, errOut := run(args...); code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errOut)
		}
	}
	return c, run
}

// queued returns the bodies of the queued messages, by recipient.
func queued(t *testing.T, configPath string) map[string]string {
	t.Helper()
	a := openApp(t, configPath)
	msgs, err := a.Store.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range msgs {
		body, err := a.Store.MessageBody(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[m.Recipients[0]] = string(body)
	}
	return out
}

// TestFinding10SingleSenderOnOtherTenantsDomainRefused (issue 12,
// finding 10), at the CLI: sender add refuses an address on a domain that
// another tenant has authenticated, with or without --verified, and
// mails nothing; a domain only claimed is no obstacle.
func TestFinding10SingleSenderOnOtherTenantsDomainRefused(t *testing.T) {
	c, run := senderCLI(t)
	for _, args := range [][]string{
		{"sender", "add", "ceo@acme.test", "--user", "beta"},
		{"sender", "add", "CEO@Acme.Test", "--user", "beta", "--verified"},
		{"sender", "add", "ceo@acme.test", "--user", "shop"}, // acme's, not shared with its subusers
	} {
		code, _, errOut := run(args...)
		if code != 1 || !strings.Contains(errOut, "acme.test is authenticated by another user") {
			t.Errorf("%v: exit %d, stderr %q; want exit 1, refused", args, code, errOut)
		}
	}
	if _, out, _ := run("sender", "list"); strings.Contains(out, "acme.test") {
		t.Errorf("refused senders stored:\n%s", out)
	}
	if mail := queued(t, c.config); len(mail) != 0 {
		t.Errorf("confirmations mailed for refused senders: %v", mail)
	}
	if code, _, errOut := run("sender", "add", "ceo@claimed.test", "--user", "beta"); code != 0 {
		t.Errorf("a domain pending for another tenant: exit %d %q", code, errOut)
	}
}

// TestFinding10ConfirmationNamesAccount (issue 12, finding 10): the
// confirmation mail says which account asked, and for a subuser which
// account it belongs to, so that whoever reads the mailbox knows whom
// they would let send as them.
func TestFinding10ConfirmationNamesAccount(t *testing.T) {
	c, run := senderCLI(t)
	for _, args := range [][]string{
		{"sender", "add", "me@mailbox.test", "--user", "beta"},
		{"sender", "add", "shop@mailbox.test", "--user", "shop"},
	} {
		if code, _, errOut := run(args...); code != 0 {
			t.Fatalf("%v: exit %d %q", args, code, errOut)
		}
	}
	mail := queued(t, c.config)
	for addr, want := range map[string]string{
		"me@mailbox.test":   "requested by account beta ",
		"shop@mailbox.test": "requested by account shop (a subuser of acme)",
	} {
		body, ok := mail[addr]
		if !ok {
			t.Fatalf("no confirmation mailed to %s: %v", addr, mail)
		}
		if !strings.Contains(strings.Join(strings.Fields(body), " ")+" ", want) {
			t.Errorf("confirmation to %s does not say %q:\n%s", addr, want, body)
		}
	}
}

// TestCLISenderShare: sender share lets the users of the owner's account
// send as its single sender (and only them); --off takes it back; sender
// list shows it.
func TestCLISenderShare(t *testing.T) {
	c, run := senderCLI(t)
	run("sender", "add", "ops@mailbox.test", "--user", "acme", "--verified")
	may := func(name, addr string) bool {
		t.Helper()
		a := openApp(t, c.config)
		ctx := context.Background()
		u, err := a.Store.UserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		p := account.Principal{User: u, Account: u}
		if u.ParentName != "" {
			if p.Account, err = a.Store.UserByName(ctx, u.ParentName); err != nil {
				t.Fatal(err)
			}
		}
		return (&identity.Signer{Store: a.Store}).CheckAddress(ctx, p, "From", addr) == nil
	}
	if may("shop", "ops@mailbox.test") {
		t.Fatal("a subuser sends as its account's sender before it is shared")
	}
	if code, _, errOut := run("sender", "share", "OPS@mailbox.test", "--user", "acme"); code != 0 ||
		!strings.Contains(errOut, "every user of the account acme may send as it") {
		t.Fatalf("share: %d %q", code, errOut)
	}
	if _, out, _ := run("sender", "list", "--user", "acme"); !strings.Contains(out, "verified (operator), shared") {
		t.Fatalf("list: %q", out)
	}
	if !may("shop", "ops@mailbox.test") || !may("news", "ops@mailbox.test") || may("beta", "ops@mailbox.test") {
		t.Fatal("shared: acme's users, and only them")
	}
	if code, _, errOut := run("sender", "share", "ops@mailbox.test", "--user", "acme", "--off"); code != 0 ||
		!strings.Contains(errOut, "only acme may send as it") {
		t.Fatalf("share --off: %d %q", code, errOut)
	}
	if may("shop", "ops@mailbox.test") {
		t.Fatal("unshared, the subuser still sends as it")
	}
	if code, _, errOut := run("sender", "share", "ops@mailbox.test", "--user", "shop"); code != 1 || !strings.Contains(errOut, "shop has no sender") {
		t.Fatalf("share of a sender the user does not have: %d %q", code, errOut)
	}
	if code, _, _ := run("sender", "share", "ops@mailbox.test"); code != 2 {
		t.Fatal("share without --user")
	}
}
