package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/postern/postern/internal/admin"
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
	if err := a.Admin.SuspendUser(ctx, operator(), pos[0], *reason); err != nil {
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
	if err := a.Admin.ResumeUser(ctx, operator(), name); err != nil {
		return friendly(err, "user", name)
	}
	fmt.Fprintf(stderr, "resumed %s\n", printable(name))
	return nil
}

func userSet(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user set", flag.ContinueOnError)
	orig := fs.String("originating-ip", "", "on or off: add X-Originating-IP to the user's messages")
	spam := fs.Float64("spam-threshold", -1, "the user's spam score limit (0: the default)")
	unsub := fs.String("list-unsubscribe", "", "on or off: add one-click List-Unsubscribe headers to the user's single-recipient messages")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "user set NAME [--originating-ip on|off] [--spam-threshold N] [--list-unsubscribe on|off]"); err != nil {
		return err
	}
	if *orig == "" && *spam < 0 && *unsub == "" {
		return fmt.Errorf("%w: user set needs --originating-ip, --spam-threshold or --list-unsubscribe", errUsage)
	}
	var set admin.UserSettings
	switch *orig {
	case "":
	case "on", "off":
		hide := *orig == "off"
		set.HideOriginatingIP = &hide
	default:
		return fmt.Errorf("%w: --originating-ip takes on or off", errUsage)
	}
	if *spam >= 0 {
		set.SpamThreshold = spam
	}
	switch *unsub {
	case "":
	case "on", "off":
		on := *unsub == "on"
		set.ListUnsubscribe = &on
	default:
		return fmt.Errorf("%w: --list-unsubscribe takes on or off", errUsage)
	}
	if err := a.Admin.SetUserSettings(ctx, operator(), pos[0], set); err != nil {
		return friendly(err, "user", pos[0])
	}
	if set.HideOriginatingIP != nil {
		fmt.Fprintf(stderr, "X-Originating-IP %s for %s\n", *orig, printable(pos[0]))
	}
	if set.SpamThreshold != nil {
		fmt.Fprintf(stderr, "spam threshold %g for %s\n", *spam, printable(pos[0]))
	}
	if set.ListUnsubscribe != nil {
		fmt.Fprintf(stderr, "list-unsubscribe %s for %s\n", *unsub, printable(pos[0]))
	}
	return nil
}

func userShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	name, err := oneID("user show", args)
	if err != nil {
		return err
	}
	u, err := a.Admin.ShowUser(ctx, operator(), name)
	if err != nil {
		return friendly(err, "user", name)
	}
	state := "active"
	if u.Suspended() {
		state = fmt.Sprintf("suspended since %s: %s", stamp(u.SuspendedAt), u.SuspendReason)
	}
	allow := "any address"
	if len(u.AllowedIPs) > 0 {
		allow = strings.Join(u.AllowedIPs, ", ")
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
	unsub := "off"
	if u.ListUnsubscribe {
		unsub = "on"
	}
	fmt.Fprintf(stdout, "name:             %s\nparent:           %s\n", printable(u.Name), printable(orDash(u.ParentName)))
	if u.Email != "" {
		fmt.Fprintf(stdout, "email:            %s\n", printable(u.Email))
	}
	fmt.Fprintf(stdout, "created:          %s\nstate:            %s\nallowed from:     %s\nx-originating-ip: %s\nspam threshold:   %s\nlist-unsubscribe: %s\nkeys:             %d active, %d revoked\n",
		stamp(u.CreatedAt), printable(state), printable(allow), orig, spam, unsub, u.ActiveKeys, u.RevokedKeys)
	usage, err := usageLines(ctx, a, u.Name, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, "usage:\n"+printableLines(usage))
	return nil
}

// ipFlags parses "IP --user ACCOUNT" (or just --user for list) and
// returns the operator acting for the account and the IP as given;
// allow-lists belong to accounts, not subusers.
func ipFlags(ctx context.Context, a *app.App, cmd string, args []string, wantIP bool) (admin.Actor, string, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	user := fs.String("user", "", "the account (required)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return admin.Actor{}, "", err
	}
	want, usage := 0, cmd+" --user ACCOUNT"
	if wantIP {
		want, usage = 1, cmd+" CIDR --user ACCOUNT"
	}
	if err := positionals(pos, want, usage); err != nil {
		return admin.Actor{}, "", err
	}
	if *user == "" {
		return admin.Actor{}, "", fmt.Errorf("%w: %s needs --user ACCOUNT", errUsage, cmd)
	}
	act, err := a.Admin.Operator(ctx, *user)
	if err != nil {
		return admin.Actor{}, "", friendly(err, "user", *user)
	}
	if act.User.ParentID != 0 {
		return admin.Actor{}, "", fmt.Errorf("%s is a subuser of %s: IP allow-lists belong to the account (use --user %s), or pin a key with apikey create --allow-ip",
			printable(act.User.Name), printable(act.Account.Name), printable(act.Account.Name))
	}
	ip := ""
	if wantIP {
		ip = pos[0]
	}
	return act, ip, nil
}

func ipAllow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	act, ip, err := ipFlags(ctx, a, "ip allow", args, true)
	if err != nil {
		return err
	}
	rules, err := a.Admin.AddIPRules(ctx, act, []string{ip})
	if err != nil {
		return friendly(err, "allow-list entry", ip)
	}
	// The CLI is the operator, no key: adding an entry cannot lock it out
	// of administering Postern.
	fmt.Fprintf(stderr, "allowed %s; keys of this account now work only from the listed addresses\n", rules[0].IP)
	return nil
}

func ipRemove(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	act, ip, err := ipFlags(ctx, a, "ip remove", args, true)
	if err != nil {
		return err
	}
	rule, err := a.Admin.RemoveIPRule(ctx, act, ip)
	if err != nil {
		return friendly(err, "allow-list entry", ip)
	}
	fmt.Fprintf(stderr, "removed %s\n", rule.IP)
	return nil
}

func ipList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	act, _, err := ipFlags(ctx, a, "ip list", args, false)
	if err != nil {
		return err
	}
	rules, err := a.Admin.ListIPRules(ctx, act)
	if err != nil {
		return err
	}
	for _, r := range rules {
		fmt.Fprintln(stdout, printable(r.IP))
	}
	return nil
}
