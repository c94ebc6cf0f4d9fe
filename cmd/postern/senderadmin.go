package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/sendercode"
	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/submit"
)

func senderAdd(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sender add", flag.ContinueOnError)
	user := fs.String("user", "", "the user the sender belongs to (required)")
	vouch := fs.Bool("verified", false, "the operator vouches for the address: verified without the confirmation mail")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "sender add ADDRESS --user NAME [--verified]"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: sender add needs --user NAME", errUsage)
	}
	addr := strings.ToLower(pos[0])
	if at := strings.LastIndexByte(addr, '@'); at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " <>\r\n") {
		return fmt.Errorf("%q is not an email address", pos[0])
	}
	u, err := a.Store.UserByName(ctx, *user)
	if err != nil {
		return friendly(err, "user", *user)
	}
	// On a domain another tenant has authenticated, no single sender:
	// neither mailed nor vouched for (identity.CheckSingleSender).
	if err := identity.CheckSingleSender(ctx, a.Store, u, addr); err != nil {
		return err
	}
	now := time.Now()
	s := store.Sender{Address: addr, UserID: u.ID, CreatedAt: now}
	if *vouch {
		s.Verified, s.ByOperator, s.VerifiedAt = true, true, now
		if err := a.Store.AddSender(ctx, s); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s is an operator-verified sender of %s\n", printable(addr), printable(u.Name))
		return nil
	}
	code, err := sendercode.New(rand.Reader)
	if err != nil {
		return err
	}
	s.CodeHash, s.ExpiresAt = sendercode.Hash(code), now.Add(sendercode.TTL)
	if err := a.Store.AddSender(ctx, s); err != nil {
		return err
	}
	host := a.Config.Hostname
	body := confirmationMail(host, addr, u, a.Config.PublicURL(), code, now.Add(sendercode.TTL))
	// Through the funnel's door for Postern's own mail, from the null
	// sender: a confirmation that cannot be delivered bounces to no one.
	notices := submit.Notices{Hostname: host, Queue: queue.Direct{Store: a.Store}, Now: func() time.Time { return now }}
	id, err := notices.Send(ctx, submit.Notice{UserID: u.ID, To: addr, Body: []byte(body)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "a confirmation code was sent to %s (message %s); it expires in %s\n", printable(addr), id, sendercode.TTL)
	if a.Config.HTTP.PublicURL == "" {
		fmt.Fprintf(stderr, "note: its link points at %s; set http.public_url to the address people reach the HTTP listener at\n", a.Config.PublicURL())
	}
	return nil
}

// confirmationMail is the message that asks addr to confirm that u may
// send as it. It names the account that asked (and, for a subuser, its
// account), so that whoever reads the mailbox knows whom they would let
// send as them. User names are letters, digits and a few marks
// (account.ValidUserName), safe in a mail body.
func confirmationMail(host, addr string, u store.User, publicURL, code string, expires time.Time) string {
	requester := "account " + u.Name
	if u.ParentName != "" {
		requester += " (a subuser of " + u.ParentName + ")"
	}
	return fmt.Sprintf("From: Postern <no-reply@%s>\r\nTo: <%s>\r\nSubject: Confirm your sender address\r\n"+
		"Auto-Submitted: auto-generated\r\n\r\n"+
		"Someone asked to send mail as %s through %s:\r\n\r\n"+
		"    requested by %s\r\n\r\n"+
		"Confirming lets that account send mail as %s.\r\n\r\n"+
		"If it was you, open this link; the page asks you to click a button\r\n"+
		"to confirm:\r\n\r\n    %s/verify?code=%s\r\n\r\n"+
		"Or give this code to the operator, or run on the server:\r\n\r\n    postern sender confirm %s\r\n\r\n"+
		"The code expires at %s. If it was not you, ignore this message.\r\n",
		host, addr, addr, host, requester, addr, publicURL, code, code, expires.UTC().Format(time.RFC3339))
}

func senderConfirm(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	code, err := oneID("sender confirm", args)
	if err != nil {
		return err
	}
	s, err := sendercode.Confirm(ctx, a.Store, code, time.Now())
	if errors.Is(err, sendercode.ErrUnknownCode) {
		return errors.New("unknown or expired code: run postern sender add again for a new one")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s is now a verified sender of %s\n", printable(s.Address), printable(s.UserName))
	return nil
}

func senderList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, err := userFilter(ctx, a, "sender list", args)
	if err != nil {
		return err
	}
	list, err := a.Store.Senders(ctx, user)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range list {
		state := "pending until " + stamp(s.ExpiresAt)
		switch {
		case s.ByOperator:
			state = "verified (operator)"
		case s.Verified:
			state = "verified " + stamp(s.VerifiedAt)
		}
		if s.Shared {
			state += ", shared"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(s.Address), printable(s.UserName), state)
	}
	return tw.Flush()
}

// senderShare lets every user of the owner's account send as one of the
// user's single senders (--off: only the owner again), as domain share
// does for a domain: a subuser never uses its account's senders without
// it.
func senderShare(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sender share", flag.ContinueOnError)
	user := fs.String("user", "", "the user the sender belongs to (required)")
	off := fs.Bool("off", false, "stop sharing: only the owner may send as the address")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "sender share ADDRESS --user NAME [--off]"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: sender share needs --user NAME", errUsage)
	}
	u, err := a.Store.UserByName(ctx, *user)
	if err != nil {
		return friendly(err, "user", *user)
	}
	addr := strings.ToLower(pos[0])
	err = a.Store.SetSenderShared(ctx, u.ID, addr, !*off)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s has no sender %q (sender list --user %s)", u.Name, addr, u.Name)
	}
	if err != nil {
		return err
	}
	account := u.Name
	if u.ParentName != "" {
		account = u.ParentName
	}
	detail := "every user of the account " + account + " may send as it"
	if *off {
		detail = "only " + u.Name + " may send as it"
	}
	fmt.Fprintf(stderr, "%s: %s\n", printable(addr), printable(detail))
	return nil
}
