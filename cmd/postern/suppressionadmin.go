package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/store"
)

// suppressionFlags parses --user (required) and the positional address.
// Like every command's, it runs before the app is touched (help asks it
// for the FlagSet).
func suppressionFlags(cmd string, args []string, wantAddr bool, extra func(*flag.FlagSet)) (user, addr string, err error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	u := fs.String("user", "", "the user whose list it is (required)")
	if extra != nil {
		extra(fs)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", "", err
	}
	want, usage := 0, cmd+" --user NAME"
	if wantAddr {
		want, usage = 1, cmd+" ADDRESS --user NAME"
	}
	if err := positionals(pos, want, usage); err != nil {
		return "", "", err
	}
	if *u == "" {
		return "", "", fmt.Errorf("%w: %s needs --user NAME", errUsage, cmd)
	}
	if wantAddr {
		addr = pos[0]
	}
	return *u, addr, nil
}

// suppressionActor is the operator acting for the named user.
func suppressionActor(ctx context.Context, a *app.App, user string) (admin.Actor, error) {
	act, err := a.Admin.Operator(ctx, user)
	if err != nil {
		return admin.Actor{}, friendly(err, "user", user)
	}
	return act, nil
}

// suppressionList prints every entry of the user's lists (an address on
// two lists, say a bounce and an unsubscribe, once for each).
func suppressionList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, _, err := suppressionFlags("suppression list", args, false, nil)
	if err != nil {
		return err
	}
	act, err := suppressionActor(ctx, a, user)
	if err != nil {
		return err
	}
	list, err := a.Admin.ListSuppressions(ctx, act, admin.SuppressionQuery{})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(s.Email), stamp(s.Created), printable(s.Reason))
	}
	return tw.Flush()
}

// suppressionAdd puts an address on the user's global unsubscribes, the
// list an operator or a tenant keeps by hand (SendGrid's); the address
// must be one mail can be sent to, and is kept in its canonical form.
func suppressionAdd(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	var reason *string
	user, addr, err := suppressionFlags("suppression add", args, true, func(fs *flag.FlagSet) {
		reason = fs.String("reason", "added by the operator", "why")
	})
	if err != nil {
		return err
	}
	act, err := suppressionActor(ctx, a, user)
	if err != nil {
		return err
	}
	res, err := a.Admin.AddSuppressions(ctx, act, store.SuppressUnsubscribe, []string{addr}, *reason)
	if err != nil {
		return friendly(err, "suppression of", addr)
	}
	if len(res.Added) == 0 {
		return friendly(admin.ErrConflict, "suppression of", res.Emails[0])
	}
	fmt.Fprintf(stderr, "%s will not be sent to for %s\n", printable(res.Emails[0]), printable(user))
	return nil
}

// suppressionRemove takes an address off every list of the user: it can
// be sent to again.
func suppressionRemove(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, addr, err := suppressionFlags("suppression remove", args, true, nil)
	if err != nil {
		return err
	}
	act, err := suppressionActor(ctx, a, user)
	if err != nil {
		return err
	}
	if err := a.Admin.DeleteSuppression(ctx, act, "", addr); err != nil {
		return friendly(err, "suppression of", addr)
	}
	fmt.Fprintf(stderr, "removed %s from %s's suppression list\n", printable(addr), printable(user))
	return nil
}
