package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/store"
)

type adminCommand func(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error

var adminCommands = map[string]adminCommand{
	"user create":   userCreate,
	"user list":     userList,
	"apikey create": apikeyCreate,
	"apikey list":   apikeyList,
	"apikey revoke": apikeyRevoke,
	"apikey show":   apikeyShow,
	"apikey rename": apikeyRename,
	"apikey scopes": apikeyScopes,
	"queue list":    queueList,
	"queue show":    queueShow,
	"queue retry":   queueRetry,
	"queue drop":    queueDrop,

	"suppression list":   suppressionList,
	"suppression add":    suppressionAdd,
	"suppression remove": suppressionRemove,

	"user suspend": userSuspend,
	"user resume":  userResume,
	"user show":    userShow,
	"user set":     userSet,
	"ip allow":     ipAllow,
	"ip remove":    ipRemove,
	"ip list":      ipList,
	"limit set":    limitSet,
	"limit list":   limitList,

	"domain add":         domainAdd,
	"domain verify":      domainVerify,
	"domain list":        domainList,
	"domain rotate-dkim": domainRotate,
	"domain share":       domainShare,
	"domain show":        domainShow,
	"domain delete":      domainDelete,
	"sender add":         senderAdd,
	"sender confirm":     senderConfirm,
	"sender list":        senderList,
	"sender share":       senderShare,
	"sender resend":      senderResend,
	"sender delete":      senderDelete,

	"webhook set":  webhookSet,
	"webhook show": webhookShow,
	"webhook test": webhookTest,

	"stats show": statsShow,

	"store copy": storeCopy,
}

func userCreate(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	parent := fs.String("parent", "", "make a subuser of this account")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "user create NAME [--parent NAME]"); err != nil {
		return err
	}
	u, err := a.Admin.CreateUser(ctx, operator(), pos[0], *parent)
	if errors.Is(err, admin.ErrNotFound) {
		return friendly(err, "account", *parent)
	}
	if err != nil {
		return friendly(err, "user", pos[0])
	}
	if u.ParentName != "" {
		fmt.Fprintf(stderr, "created subuser %s of %s\n", printable(u.Name), printable(u.ParentName))
	} else {
		fmt.Fprintf(stderr, "created account %s\n", printable(u.Name))
	}
	return nil
}

func userList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	if err := noArgs("user list", args); err != nil {
		return err
	}
	users, err := a.Admin.ListUsers(ctx, operator())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", printable(u.Name), printable(orDash(u.ParentName)), stamp(u.CreatedAt))
	}
	return tw.Flush()
}

func apikeyCreate(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	user := fs.String("user", "", "owner of the key (required)")
	label := fs.String("name", "", "a label for the key")
	scopes := fs.String("scopes", account.ScopeMailSend, `comma-separated scopes, or "full" for every scope`)
	allowIP := fs.String("allow-ip", "", "comma-separated addresses or CIDR prefixes the key may be used from")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 0, "apikey create --user NAME [--name LABEL] [--scopes S,...]"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: apikey create needs --user NAME", errUsage)
	}
	sc, err := admin.ParseScopes(*scopes)
	if err != nil {
		return err
	}
	ips, err := account.ParsePrefixes(*allowIP)
	if err != nil {
		return err
	}
	act, err := a.Admin.Operator(ctx, *user)
	if err != nil {
		return friendly(err, "user", *user)
	}
	k, err := a.Admin.CreateKey(ctx, act, admin.NewKey{Name: *label, Scopes: sc, AllowIPs: ips})
	if err != nil {
		return friendly(err, "user", *user)
	}
	fmt.Fprintf(stderr, "created API key %s for %s (scopes %s); it is shown once, store it now\n",
		k.ID, printable(k.UserName), printable(strings.Join(k.Scopes, ",")))
	if len(k.AllowIPs) > 0 {
		fmt.Fprintf(stderr, "it may be used only from %s\n", strings.Join(k.AllowIPs, ", "))
	}
	fmt.Fprintln(stdout, k.Secret)
	return nil
}

func apikeyList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apikey list", flag.ContinueOnError)
	user := fs.String("user", "", "only this user's keys")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 0, "apikey list [--user NAME]"); err != nil {
		return err
	}
	keys, err := a.Admin.ListKeys(ctx, operator(), admin.KeyFilter{User: *user})
	if err != nil {
		return friendly(err, "user", *user)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\tfrom=%s\n", printable(k.ID), printable(k.UserName), printable(orDash(k.Name)),
			printable(strings.Join(k.Scopes, ",")), keyState(k), stamp(k.CreatedAt), printable(keyAllow(k)))
	}
	return tw.Flush()
}

func apikeyShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := keyIDArg("apikey show ID", args, 1)
	if err != nil {
		return err
	}
	k, err := a.Admin.GetKey(ctx, operator(), id[0])
	if err != nil {
		return friendly(err, "API key", id[0])
	}
	fmt.Fprintf(stdout, "id:      %s\nuser:    %s\nname:    %s\nscopes:  %s\nstate:   %s\ncreated: %s\nfrom:    %s\n",
		printable(k.ID), printable(k.UserName), printable(orDash(k.Name)), printable(strings.Join(k.Scopes, ",")),
		keyState(k), stamp(k.CreatedAt), printable(keyAllow(k)))
	return nil
}

func apikeyRename(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	pos, err := keyIDArg("apikey rename ID NAME", args, 2)
	if err != nil {
		return err
	}
	k, err := a.Admin.RenameKey(ctx, operator(), pos[0], pos[1])
	if err != nil {
		return friendly(err, "API key", pos[0])
	}
	fmt.Fprintf(stderr, "renamed API key %s to %s\n", k.ID, printable(k.Name))
	return nil
}

func apikeyScopes(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	pos, err := keyIDArg("apikey scopes ID S,...", args, 2)
	if err != nil {
		return err
	}
	sc, err := admin.ParseScopes(pos[1])
	if err != nil {
		return err
	}
	k, err := a.Admin.GetKey(ctx, operator(), pos[0])
	if err == nil {
		k, err = a.Admin.UpdateKey(ctx, operator(), k.ID, k.Name, sc)
	}
	if err != nil {
		return friendly(err, "API key", pos[0])
	}
	fmt.Fprintf(stderr, "API key %s now has the scopes %s, from its next use\n", k.ID, printable(strings.Join(k.Scopes, ",")))
	return nil
}

func apikeyRevoke(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := keyIDArg("apikey revoke ID", args, 1)
	if err != nil {
		return err
	}
	if err := a.Admin.RevokeKey(ctx, operator(), id[0]); err != nil {
		return friendly(err, "API key", id[0])
	}
	fmt.Fprintf(stderr, "revoked API key %s\n", id[0])
	return nil
}

// keyIDArg checks that args are the n positional arguments of usage
// ("apikey show ID"), the first a key id, and returns them. A whole key
// pasted as the id is taken for its id, and never echoed.
func keyIDArg(usage string, args []string, n int) ([]string, error) {
	if len(args) != n || slices.ContainsFunc(args, func(s string) bool { return strings.HasPrefix(s, "-") }) {
		return nil, fmt.Errorf("%w: expected %s", errUsage, usage)
	}
	if strings.HasPrefix(args[0], account.KeyPrefix) {
		id, err := account.ParseKey(args[0])
		if err != nil {
			cmd, _, _ := strings.Cut(usage, " ID")
			return nil, fmt.Errorf("%s takes the key id shown by apikey list", cmd)
		}
		args = append([]string{id}, args[1:]...)
	}
	return args, nil
}

func keyState(k store.APIKey) string {
	if k.Revoked() {
		return "revoked " + stamp(k.RevokedAt)
	}
	return "active"
}

func keyAllow(k store.APIKey) string {
	if len(k.AllowIPs) == 0 {
		return "any"
	}
	return strings.Join(k.AllowIPs, ",")
}

// userFilter parses the "CMD [--user NAME]" of the list commands and
// checks that the user exists; "" means every user.
func userFilter(ctx context.Context, a *app.App, cmd string, args []string) (string, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	user := fs.String("user", "", "only this user's entries")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", err
	}
	if err := positionals(pos, 0, cmd+" [--user NAME]"); err != nil {
		return "", err
	}
	if *user != "" {
		if _, err := a.Store.UserByName(ctx, *user); err != nil {
			return "", friendly(err, "user", *user)
		}
	}
	return *user, nil
}

func noArgs(cmd string, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: %s takes no arguments", errUsage, cmd)
	}
	return nil
}

// friendly words the sentinel errors of the store and of admin for the
// operator.
func friendly(err error, what, name string) error {
	var inv *admin.InvalidError
	switch {
	case errors.As(err, &inv):
		return errors.New(inv.Message)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, admin.ErrNotFound):
		return fmt.Errorf("%s %q not found", what, name)
	case errors.Is(err, store.ErrExists), errors.Is(err, admin.ErrConflict):
		return fmt.Errorf("%s %q already exists", what, name)
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
