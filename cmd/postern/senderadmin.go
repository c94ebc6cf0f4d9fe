package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/sendercode"
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
	act, err := identityActor(ctx, a, *user)
	if err != nil {
		return err
	}
	added, err := a.Admin.AddSender(ctx, act, admin.NewSender{Address: pos[0], User: *user, Vouch: *vouch})
	var inv *admin.InvalidError
	switch {
	case errors.Is(err, admin.ErrConflict):
		return fmt.Errorf("%s is a verified sender of %s already", printable(strings.ToLower(pos[0])), printable(*user))
	case errors.As(err, &inv):
		return errors.New(inv.Message)
	case err != nil:
		return err
	}
	s := added.Sender
	if *vouch {
		fmt.Fprintf(stderr, "%s is an operator-verified sender of %s\n", printable(s.Address), printable(s.User))
		return nil
	}
	fmt.Fprintf(stderr, "a confirmation code was sent to %s (message %s); it expires in %s\n", printable(s.Address), added.MessageID, sendercode.TTL)
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
	s, err := a.Admin.ConfirmSender(ctx, admin.Actor{Operator: true}, code)
	if errors.Is(err, admin.ErrUnknownCode) {
		return errors.New("unknown or expired code: run postern sender add again for a new one")
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s is now a verified sender of %s\n", printable(s.Address), printable(s.User))
	return nil
}

func senderList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, err := userFilter(ctx, a, "sender list", args)
	if err != nil {
		return err
	}
	list, err := a.Admin.ListSenders(ctx, admin.Actor{Operator: true}, admin.SenderFilter{User: user})
	if err != nil {
		return identityFriendly(err, "user", user)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(s.Address), printable(s.User), state)
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
	act, err := identityActor(ctx, a, *user)
	if err != nil {
		return err
	}
	addr := strings.ToLower(pos[0])
	s, err := a.Admin.ShareSender(ctx, act, admin.SenderRef{User: *user, Address: addr}, !*off)
	if errors.Is(err, admin.ErrNotFound) {
		return fmt.Errorf("%s has no sender %q (sender list --user %s)", act.User.Name, addr, act.User.Name)
	}
	if err != nil {
		return err
	}
	detail := "every user of the account " + act.Account.Name + " may send as it"
	if *off {
		detail = "only " + s.User + " may send as it"
	}
	fmt.Fprintf(stderr, "%s: %s\n", printable(s.Address), printable(detail))
	return nil
}

func senderResend(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sender resend", flag.ContinueOnError)
	user := fs.String("user", "", "the user the sender belongs to (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "sender resend ADDRESS --user NAME"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: sender resend needs --user NAME", errUsage)
	}
	act, err := identityActor(ctx, a, *user)
	if err != nil {
		return err
	}
	addr := strings.ToLower(pos[0])
	m, err := a.Admin.ResendSender(ctx, act, admin.SenderRef{User: *user, Address: addr})
	if errors.Is(err, admin.ErrNotFound) {
		return fmt.Errorf("%s has no sender %q (sender list --user %s)", act.User.Name, addr, act.User.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "a new confirmation code was sent to %s (message %s)\n", printable(m.Sender.Address), m.MessageID)
	return nil
}

func senderDelete(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sender delete", flag.ContinueOnError)
	user := fs.String("user", "", "the user the sender belongs to (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "sender delete ADDRESS --user NAME"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: sender delete needs --user NAME", errUsage)
	}
	act, err := identityActor(ctx, a, *user)
	if err != nil {
		return err
	}
	addr := strings.ToLower(pos[0])
	err = a.Admin.DeleteSender(ctx, act, admin.SenderRef{User: *user, Address: addr})
	if errors.Is(err, admin.ErrNotFound) {
		return fmt.Errorf("%s has no sender %q (sender list --user %s)", act.User.Name, addr, act.User.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s is no longer a sender of %s\n", printable(addr), printable(act.User.Name))
	return nil
}
