package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/account"
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
	"sender add":         senderAdd,
	"sender confirm":     senderConfirm,
	"sender list":        senderList,
	"sender share":       senderShare,
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
	u, err := a.Accounts.CreateUser(ctx, pos[0], *parent)
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
	users, err := a.Store.Users(ctx)
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
	scopes := fs.String("scopes", account.ScopeMailSend, "comma-separated scopes")
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
	sc, err := account.ParseScopes(*scopes)
	if err != nil {
		return err
	}
	ips, err := account.ParsePrefixes(*allowIP)
	if err != nil {
		return err
	}
	key, rec, err := a.Accounts.CreateKey(ctx, *user, *label, sc, ips...)
	if err != nil {
		return friendly(err, "user", *user)
	}
	fmt.Fprintf(stderr, "created API key %s for %s (scopes %s); it is shown once, store it now\n",
		rec.ID, printable(rec.UserName), printable(strings.Join(rec.Scopes, ",")))
	if len(rec.AllowIPs) > 0 {
		fmt.Fprintf(stderr, "it may be used only from %s\n", strings.Join(rec.AllowIPs, ", "))
	}
	fmt.Fprintln(stdout, key)
	return nil
}

func apikeyList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, err := userFilter(ctx, a, "apikey list", args)
	if err != nil {
		return err
	}
	keys, err := a.Store.APIKeys(ctx, user)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		state := "active"
		if k.Revoked() {
			state = "revoked " + stamp(k.RevokedAt)
		}
		allow := "any"
		if len(k.AllowIPs) > 0 {
			allow = strings.Join(k.AllowIPs, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\tfrom=%s\n", printable(k.ID), printable(k.UserName), printable(orDash(k.Name)), printable(strings.Join(k.Scopes, ",")), state, stamp(k.CreatedAt), printable(allow))
	}
	return tw.Flush()
}

func apikeyRevoke(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	id, err := oneID("apikey revoke", args)
	if err != nil {
		return err
	}
	if strings.HasPrefix(id, account.KeyPrefix) {
		// Someone pasted the whole key: take its id, never echo it.
		parsed, err := account.ParseKey(id)
		if err != nil {
			return errors.New("apikey revoke takes the key id shown by apikey list")
		}
		id = parsed
	}
	if err := a.Accounts.Revoke(ctx, id); err != nil {
		return friendly(err, "API key", id)
	}
	fmt.Fprintf(stderr, "revoked API key %s\n", id)
	return nil
}

func queueList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	if err := noArgs("queue list", args); err != nil {
		return err
	}
	msgs, err := a.Store.Messages(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, m := range msgs {
		from := m.From
		if from == "" {
			from = "<>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", printable(m.ID), printable(orDash(m.UserName)), printable(orDash(m.KeyID)), printable(from),
			printable(strings.Join(m.Recipients, ",")), m.Size, m.State, stamp(m.CreatedAt))
	}
	return tw.Flush()
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

// friendly words the store's sentinel errors for the operator.
func friendly(err error, what, name string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%s %q not found", what, name)
	case errors.Is(err, store.ErrExists):
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
