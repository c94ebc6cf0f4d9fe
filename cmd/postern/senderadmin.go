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
	now := time.Now()
	s := store.Sender{Address: addr, UserID: u.ID, CreatedAt: now}
	if *vouch {
		s.Verified, s.ByOperator, s.VerifiedAt = true, true, now
		if err := a.Store.AddSender(ctx, s); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s is an operator-verified sender of %s\n", addr, u.Name)
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
	body := fmt.Sprintf("From: Postern <no-reply@%s>\r\nTo: <%s>\r\nSubject: Confirm your sender address\r\n"+
		"Auto-Submitted: auto-generated\r\n\r\n"+
		"Someone asked to send mail as %s through %s.\r\n\r\n"+
		"If it was you, open this link; the page asks you to click a button\r\n"+
		"to confirm:\r\n\r\n    %s/verify?code=%s\r\n\r\n"+
		"Or give this code to the operator, or run on the server:\r\n\r\n    postern sender confirm %s\r\n\r\n"+
		"The code expires at %s. If it was not you, ignore this message.\r\n",
		host, addr, addr, host, a.Config.PublicURL(), code, code,
		now.Add(sendercode.TTL).UTC().Format(time.RFC3339))
	// Through the funnel's door for Postern's own mail, from the null
	// sender: a confirmation that cannot be delivered bounces to no one.
	notices := submit.Notices{Hostname: host, Queue: queue.Direct{Store: a.Store}, Now: func() time.Time { return now }}
	id, err := notices.Send(ctx, submit.Notice{UserID: u.ID, To: addr, Body: []byte(body)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "a confirmation code was sent to %s (message %s); it expires in %s\n", addr, id, sendercode.TTL)
	if a.Config.HTTP.PublicURL == "" {
		fmt.Fprintf(stderr, "note: its link points at %s; set http.public_url to the address people reach the HTTP listener at\n", a.Config.PublicURL())
	}
	return nil
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
	fmt.Fprintf(stderr, "%s is now a verified sender of %s\n", s.Address, s.UserName)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Address, s.UserName, state)
	}
	return tw.Flush()
}
