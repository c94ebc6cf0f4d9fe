package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/app"
)

// webhookSet changes the user's first event webhook (SendGrid's legacy
// single webhook), making it when the user has none: the flags given are
// changed, the others left. Turning signing on prints the public key on
// stdout, for the receiver's configuration.
func webhookSet(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("webhook set", flag.ContinueOnError)
	user := fs.String("user", "", "the user whose webhook it is (required)")
	url := fs.String("url", "", "where the events are POSTed (http or https)")
	enabled := fs.String("enabled", "", "on: POST the events; off: POST nothing (events meanwhile are not kept for it)")
	list := fs.String("events", "", `the events to POST, comma-separated: `+eventNames()+`; or "none"`)
	signed := fs.String("signed", "", "on: sign the POSTs (a key is made the first time); off: do not (the key is kept)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 0, "webhook set --user NAME [--url URL] [--enabled on|off] [--events E,...] [--signed on|off]"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: webhook set needs --user NAME", errUsage)
	}
	var set admin.WebhookSettings
	given := 0
	var ferr error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "url":
			set.URL = url
		case "enabled":
			set.Enabled, ferr = onOff("enabled", *enabled, ferr)
		case "signed":
			set.Signed, ferr = onOff("signed", *signed, ferr)
		case "events":
			events, err := admin.ParseWebhookEvents(*list)
			if err != nil && ferr == nil {
				ferr = fmt.Errorf("%w: --events: %v", errUsage, friendly(err, "", ""))
			}
			set.Events = map[admin.WebhookEvent]bool{}
			for _, e := range admin.WebhookEvents() {
				set.Events[e] = false
			}
			for _, e := range events {
				set.Events[e] = true
			}
		default:
			return
		}
		given++
	})
	if ferr != nil {
		return ferr
	}
	if given == 0 {
		return fmt.Errorf("%w: webhook set needs a setting to change (--url, --enabled, --events or --signed)", errUsage)
	}
	act, err := a.Admin.Operator(ctx, *user)
	if err != nil {
		return friendly(err, "user", *user)
	}
	w, err := a.Admin.UpdateWebhook(ctx, act, "", set)
	if err != nil {
		return friendly(err, "webhook of", *user)
	}
	fmt.Fprintf(stderr, "webhook %s of %s: %s, %s, events %s, signing %s\n", w.ID, printable(*user), state(w.Enabled),
		printable(orDash(w.URL)), eventList(w), onOffWord(w.Signed))
	if set.Signed != nil && *set.Signed {
		fmt.Fprintln(stdout, w.PublicKey)
	}
	return nil
}

// webhookShow prints every webhook of the user, oldest (the one webhook
// set changes) first.
func webhookShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, err := webhookUser("webhook show", args, nil)
	if err != nil {
		return err
	}
	act, err := a.Admin.Operator(ctx, user)
	if err != nil {
		return friendly(err, "user", user)
	}
	list, err := a.Admin.ListWebhooks(ctx, act)
	if err != nil {
		return friendly(err, "user", user)
	}
	if len(list) == 0 {
		fmt.Fprintf(stderr, "%s has no webhook (postern webhook set --user %s --url URL makes one)\n", printable(user), printable(user))
		return nil
	}
	for i, w := range list {
		backlog, err := a.Admin.WebhookBacklog(ctx, act, w.ID)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		key := orDash(w.PublicKey)
		if w.PublicKey != "" && !w.Signed {
			key += " (kept, not in use)"
		}
		success, failure := "-", "-"
		if !w.LastSuccessAt.IsZero() {
			success = stamp(w.LastSuccessAt)
		}
		if w.LastError != "" {
			failure = stamp(w.LastErrorAt) + " " + printable(w.LastError)
		}
		fmt.Fprintf(stdout, "id:           %s\nurl:          %s\nname:         %s\nstate:        %s\nevents:       %s\nsigned:       %s\npublic key:   %s\n"+
			"last success: %s\nlast error:   %s\nbacklog:      %d events waiting\ncreated:      %s\n",
			w.ID, printable(orDash(w.URL)), printable(orDash(w.FriendlyName)), state(w.Enabled), eventList(w), onOffWord(w.Signed), key,
			success, failure, backlog, stamp(w.CreatedAt))
	}
	return nil
}

// webhookTest POSTs a test event to the user's first webhook's URL, or
// to --url, signed as that webhook is.
func webhookTest(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	var url *string
	user, err := webhookUser("webhook test", args, func(fs *flag.FlagSet) {
		url = fs.String("url", "", "POST there instead of to the webhook's URL")
	})
	if err != nil {
		return err
	}
	act, err := a.Admin.Operator(ctx, user)
	if err != nil {
		return friendly(err, "user", user)
	}
	err = a.Admin.TestWebhook(ctx, act, "", *url)
	if errors.Is(err, admin.ErrUnavailable) {
		return errors.New("webhook test needs the event dispatcher, which this command does not run")
	}
	if err != nil {
		return friendly(err, "webhook of", user)
	}
	fmt.Fprintln(stderr, "the receiver accepted the test event")
	return nil
}

// webhookUser parses the --user (required) of the webhook commands and
// the flags extra adds.
func webhookUser(cmd string, args []string, extra func(*flag.FlagSet)) (string, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	user := fs.String("user", "", "the user whose webhook it is (required)")
	if extra != nil {
		extra(fs)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", err
	}
	if err := positionals(pos, 0, cmd+" --user NAME"); err != nil {
		return "", err
	}
	if *user == "" {
		return "", fmt.Errorf("%w: %s needs --user NAME", errUsage, cmd)
	}
	return *user, nil
}

// onOff reads an on|off flag; a mistake is kept in ferr, the first one
// winning.
func onOff(name, v string, ferr error) (*bool, error) {
	switch v {
	case "on":
		t := true
		return &t, ferr
	case "off":
		f := false
		return &f, ferr
	}
	if ferr == nil {
		ferr = fmt.Errorf("%w: --%s takes on or off", errUsage, name)
	}
	return nil, ferr
}

func onOffWord(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func state(enabled bool) string {
	if enabled {
		return "enabled"
	}
	return "disabled"
}

func eventList(w admin.Webhook) string {
	if len(w.Events) == 0 {
		return "none"
	}
	s := make([]string, len(w.Events))
	for i, e := range w.Events {
		s[i] = string(e)
	}
	return strings.Join(s, ",")
}

func eventNames() string {
	var s []string
	for _, e := range admin.WebhookEvents() {
		s = append(s, string(e))
	}
	return strings.Join(s, ",")
}
