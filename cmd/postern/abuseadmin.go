package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/app"
)

func userSuspend(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user suspend", flag.ContinueOnError)
	reason := fs.String("reason", "suspended by the operator", "why (recorded, shown by user show)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "user suspend NAME [--reason TEXT]"); err != nil {
		return err
	}
	if err := a.Store.SetSuspended(ctx, pos[0], time.Now(), *reason); err != nil {
		return friendly(err, "user", pos[0])
	}
	fmt.Fprintf(stderr, "suspended %s: its keys are refused from now on\n", printable(pos[0]))
	return nil
}

func userResume(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	name, err := oneID("user resume", args)
	if err != nil {
		return err
	}
	if err := a.Store.SetSuspended(ctx, name, time.Time{}, ""); err != nil {
		return friendly(err, "user", name)
	}
	fmt.Fprintf(stderr, "resumed %s\n", printable(name))
	return nil
}

func userSet(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user set", flag.ContinueOnError)
	orig := fs.String("originating-ip", "", "on or off: add X-Originating-IP to the user's messages")
	spam := fs.Float64("spam-threshold", -1, "the user's spam score limit (0: the default)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "user set NAME [--originating-ip on|off] [--spam-threshold N]"); err != nil {
		return err
	}
	if *orig == "" && *spam < 0 {
		return fmt.Errorf("%w: user set needs --originating-ip or --spam-threshold", errUsage)
	}
	if *orig != "" {
		var hide bool
		switch *orig {
		case "on":
		case "off":
			hide = true
		default:
			return fmt.Errorf("%w: --originating-ip takes on or off", errUsage)
		}
		if err := a.Store.SetHideOriginatingIP(ctx, pos[0], hide); err != nil {
			return friendly(err, "user", pos[0])
		}
		fmt.Fprintf(stderr, "X-Originating-IP %s for %s\n", *orig, printable(pos[0]))
	}
	if *spam >= 0 {
		if err := a.Store.SetSpamThreshold(ctx, pos[0], *spam); err != nil {
			return friendly(err, "user", pos[0])
		}
		fmt.Fprintf(stderr, "spam threshold %g for %s\n", *spam, printable(pos[0]))
	}
	return nil
}

func userShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	name, err := oneID("user show", args)
	if err != nil {
		return err
	}
	u, err := a.Store.UserByName(ctx, name)
	if err != nil {
		return friendly(err, "user", name)
	}
	accountID := u.ID
	if u.ParentID != 0 {
		accountID = u.ParentID
	}
	ips, err := a.Store.AllowedIPs(ctx, accountID)
	if err != nil {
		return err
	}
	keys, err := a.Store.APIKeys(ctx, u.Name)
	if err != nil {
		return err
	}
	active := 0
	for _, k := range keys {
		if !k.Revoked() {
			active++
		}
	}
	state := "active"
	if u.Suspended() {
		state = fmt.Sprintf("suspended since %s: %s", stamp(u.SuspendedAt), u.SuspendReason)
	}
	allow := "any address"
	if len(ips) > 0 {
		allow = strings.Join(ips, ", ")
	}
	if u.ParentID != 0 {
		allow += " (the account " + u.ParentName + "'s list)"
	}
	orig := "on"
	if u.HideOriginatingIP {
		orig = "off"
	}
	spam := "default"
	if u.SpamThreshold > 0 {
		spam = fmt.Sprint(u.SpamThreshold)
	}
	fmt.Fprintf(stdout, "name:             %s\nparent:           %s\ncreated:          %s\nstate:            %s\nallowed from:     %s\nx-originating-ip: %s\nspam threshold:   %s\nkeys:             %d active, %d revoked\n",
		printable(u.Name), printable(orDash(u.ParentName)), stamp(u.CreatedAt), printable(state), printable(allow), orig, spam, active, len(keys)-active)
	usage, err := usageLines(ctx, a, u.Name, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, "usage:\n"+printableLines(usage))
	return nil
}

// ipFlags parses "CIDR --user ACCOUNT" (or just --user for list) and
// returns the account; allow-lists belong to accounts, not subusers.
func ipFlags(ctx context.Context, a *app.App, cmd string, args []string, wantPrefix bool) (int64, string, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	user := fs.String("user", "", "the account (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return 0, "", err
	}
	want, usage := 0, cmd+" --user ACCOUNT"
	if wantPrefix {
		want, usage = 1, cmd+" CIDR --user ACCOUNT"
	}
	if err := positionals(pos, want, usage); err != nil {
		return 0, "", err
	}
	if *user == "" {
		return 0, "", fmt.Errorf("%w: %s needs --user ACCOUNT", errUsage, cmd)
	}
	u, err := a.Store.UserByName(ctx, *user)
	if err != nil {
		return 0, "", friendly(err, "user", *user)
	}
	if u.ParentID != 0 {
		return 0, "", fmt.Errorf("%s is a subuser of %s: IP allow-lists belong to the account (use --user %s), or pin a key with apikey create --allow-ip", u.Name, u.ParentName, u.ParentName)
	}
	prefix := ""
	if wantPrefix {
		p, err := account.ParsePrefix(pos[0])
		if err != nil {
			return 0, "", err
		}
		prefix = p.String()
	}
	return u.ID, prefix, nil
}

func ipAllow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, prefix, err := ipFlags(ctx, a, "ip allow", args, true)
	if err != nil {
		return err
	}
	if err := a.Store.AddAllowedIP(ctx, id, prefix, time.Now()); err != nil {
		return friendly(err, "allow-list entry", prefix)
	}
	// The CLI talks to the store directly, never through SMTP: adding an
	// entry cannot lock the operator out of administering Postern.
	fmt.Fprintf(stderr, "allowed %s; keys of this account now work only from the listed addresses\n", prefix)
	return nil
}

func ipRemove(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, prefix, err := ipFlags(ctx, a, "ip remove", args, true)
	if err != nil {
		return err
	}
	if err := a.Store.RemoveAllowedIP(ctx, id, prefix); err != nil {
		return friendly(err, "allow-list entry", prefix)
	}
	fmt.Fprintf(stderr, "removed %s\n", prefix)
	return nil
}

func ipList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, _, err := ipFlags(ctx, a, "ip list", args, false)
	if err != nil {
		return err
	}
	ips, err := a.Store.AllowedIPs(ctx, id)
	if err != nil {
		return err
	}
	for _, p := range ips {
		fmt.Fprintln(stdout, printable(p))
	}
	return nil
}
