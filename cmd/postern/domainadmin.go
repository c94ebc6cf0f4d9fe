package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/postern/postern/internal/admin"
	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/store"
)

// errNotVerified makes `domain verify` exit 1 after printing its checks.
var errNotVerified = errors.New("the domain is not verified yet: publish the records marked ✗ and run domain verify again")

// identityActor is the CLI's Actor for the domain and sender commands:
// the operator, acting for user when one is named.
func identityActor(ctx context.Context, a *app.App, user string) (admin.Actor, error) {
	if user == "" {
		return admin.Actor{Operator: true}, nil
	}
	act, err := a.Admin.Operator(ctx, user)
	if err != nil {
		return admin.Actor{}, identityFriendly(err, "user", user)
	}
	return act, nil
}

func domainAdd(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("domain add", flag.ContinueOnError)
	user := fs.String("user", "", "the user the domain belongs to (required)")
	keyFile := fs.String("dkim-key", "", "an existing DKIM private key (PEM: PKCS#1 or PKCS#8 RSA, PKCS#8 Ed25519) to use instead of generating one; its record alone verifies the domain")
	selector := fs.String("selector", "", "the selector of --dkim-key")
	shared := fs.Bool("shared", false, "every user of the owner's account may send as the domain (see domain share)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "domain add DOMAIN --user NAME [--shared] [--dkim-key FILE --selector S]"); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("%w: domain add needs --user NAME", errUsage)
	}
	if (*keyFile == "") != (*selector == "") {
		return fmt.Errorf("%w: --dkim-key and --selector go together", errUsage)
	}
	req := admin.NewDomain{Name: pos[0], User: *user, Shared: *shared, Selector: *selector}
	if *keyFile != "" {
		if req.Key, err = os.ReadFile(*keyFile); err != nil {
			return err
		}
	}
	act, err := identityActor(ctx, a, *user)
	if err != nil {
		return err
	}
	d, err := a.Admin.AddDomain(ctx, act, req)
	if err != nil {
		return identityFriendly(err, "domain", pos[0])
	}
	fmt.Fprintf(stderr, "added %s for %s; publish these records, then run: postern domain verify %s\n", printable(d.Name), printable(d.User), printable(d.Name))
	if kind, sel := companionOf(d); kind != "" {
		fmt.Fprintf(stderr, "the brought key's record alone verifies the domain; the %s record of selector %s is optional: once it is published, domain verify adds its signature\n",
			kind, printable(sel))
	}
	for _, line := range domain.ZoneLines(d.Records) {
		fmt.Fprintln(stdout, printable(line))
	}
	return nil
}

// companionOf names the kind and selector of the generated companion of
// a brought key, or "" when the domain has none.
func companionOf(d admin.Domain) (kind, selector string) {
	switch d.BroughtKey {
	case store.KeyRSA:
		return "Ed25519", d.EdSelector
	case store.KeyEd25519:
		return "RSA", d.RSASelector
	}
	return "", ""
}

func domainVerify(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("domain verify", flag.ContinueOnError)
	trust := fs.Bool("trust", false, "the operator vouches for the domain: mark it verified without DNS (signing still needs its DKIM key)")
	trustRP := fs.Bool("return-path", false, "with --trust: the operator also vouches that the return-path MX is published (VERP senders, bounces to Postern)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "domain verify DOMAIN [--trust [--return-path]]"); err != nil {
		return err
	}
	if *trustRP && !*trust {
		return fmt.Errorf("%w: --return-path goes with --trust (without it, domain verify looks the return-path MX up)", errUsage)
	}
	v, err := a.Admin.VerifyDomain(ctx, admin.Actor{Operator: true}, admin.DomainRef{Name: pos[0]}, admin.VerifyOptions{Trust: *trust, TrustReturnPath: *trustRP})
	if err != nil {
		return identityFriendly(err, "domain", pos[0])
	}
	d := v.Domain
	switch {
	case *trust:
		fmt.Fprintf(stderr, "%s is marked operator-verified (trusted)", printable(d.Name))
		if *trustRP {
			fmt.Fprintf(stderr, "; mail from it leaves with per-recipient senders at %s", printable(d.ReturnPathHost))
		}
		fmt.Fprintln(stderr)
		return nil
	case v.Rotation:
		return verifyRotation(a, v, stdout, stderr)
	}
	fmt.Fprint(stdout, printableLines(domain.Format(v.Checks)))
	if !v.Verified {
		return errNotVerified
	}
	if d.ReturnPath {
		fmt.Fprintf(stderr, "return path published: mail from %s leaves with a per-recipient envelope sender at %s, and its bounces feed the suppression list\n",
			printable(d.Name), printable(d.ReturnPathHost))
	} else {
		fmt.Fprintf(stderr, "return path not published: mail from %s leaves with its own envelope sender, and bounces go there\n", printable(d.Name))
	}
	if kind, sel := companionOf(d); kind != "" {
		if d.CompanionPublished {
			fmt.Fprintf(stderr, "the %s record of selector %s is published: mail is signed with the brought key and the %s key\n", kind, printable(sel), kind)
		} else {
			fmt.Fprintf(stderr, "the %s record of selector %s is not published: mail is signed with the brought key alone; publish it and run domain verify again to add the %s signature\n",
				kind, printable(sel), kind)
		}
	}
	fmt.Fprintf(stderr, "%s is verified: mail from it is now DKIM-signed\n", printable(d.Name))
	return nil
}

// verifyRotation prints the check of a rotation's records and, once they
// matched, that signing switched to them.
func verifyRotation(a *app.App, v admin.Verification, stdout, stderr io.Writer) error {
	fmt.Fprint(stdout, printableLines(domain.Format(v.Checks)))
	old := v.Before
	if !v.Verified {
		fmt.Fprintf(stderr, "signing continues with %s and %s until the new records verify\n", printable(old.RSASelector), printable(old.EdSelector))
		return errNotVerified
	}
	fmt.Fprintf(stderr, "signing switched to %s and %s; keep the records of %s and %s published for %s (mail signed before the switch is still being delivered and checked), then remove them\n",
		printable(v.Domain.RSASelector), printable(v.Domain.EdSelector), printable(old.RSASelector), printable(old.EdSelector), a.Config.Domains.RotationOverlap.Duration)
	return nil
}

func domainList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, err := userFilter(ctx, a, "domain list", args)
	if err != nil {
		return err
	}
	list, err := a.Admin.ListDomains(ctx, admin.Actor{Operator: true}, admin.DomainFilter{User: user})
	if err != nil {
		return identityFriendly(err, "user", user)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, d := range list {
		share := "own"
		if d.Shared {
			share = "shared"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s,%s\t%s\n", printable(d.Name), printable(d.User), d.State, share, printable(d.RSASelector), printable(d.EdSelector), stamp(d.CreatedAt))
	}
	return tw.Flush()
}

func domainRotate(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	name, err := oneID("domain rotate-dkim", args)
	if err != nil {
		return err
	}
	d, err := a.Admin.RotateDKIM(ctx, admin.Actor{Operator: true}, admin.DomainRef{Name: name})
	if err != nil {
		return identityFriendly(err, "domain", name)
	}
	fmt.Fprintf(stderr, "new selectors %s and %s for %s: publish these records (keep the current ones), then run postern domain verify %s; signing switches once they verify\n",
		d.NextRSASelector, d.NextEdSelector, printable(d.Name), printable(d.Name))
	for _, line := range domain.ZoneLines(d.NextRecords) {
		fmt.Fprintln(stdout, printable(line))
	}
	return nil
}

// domainShare lets every user of the owner's account send as the domain
// (--off: only the owner again).
func domainShare(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("domain share", flag.ContinueOnError)
	off := fs.Bool("off", false, "stop sharing: only the owner may send as the domain")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "domain share DOMAIN [--off]"); err != nil {
		return err
	}
	d, detail, err := a.Admin.ShareDomain(ctx, admin.Actor{Operator: true}, admin.DomainRef{Name: pos[0]}, !*off)
	if err != nil {
		return identityFriendly(err, "domain", pos[0])
	}
	fmt.Fprintf(stderr, "%s: %s\n", printable(d.Name), printable(detail))
	return nil
}

// domainShow prints a domain's state, its records and its history.
func domainShow(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	name, err := oneID("domain show", args)
	if err != nil {
		return err
	}
	d, err := a.Admin.ShowDomain(ctx, admin.Actor{Operator: true}, admin.DomainRef{Name: name})
	if err != nil {
		return identityFriendly(err, "domain", name)
	}
	fmt.Fprintf(stdout, "domain:    %s\nuser:      %s\nstate:     %s\nshared:    %v\nselectors: %s, %s\n",
		printable(d.Name), printable(d.User), d.State, d.Shared, printable(d.RSASelector), printable(d.EdSelector))
	if kind, sel := companionOf(d); kind != "" {
		signs := "not yet: its record was not found"
		if d.CompanionPublished {
			signs = "yes, its record was found"
		}
		fmt.Fprintf(stdout, "brought:   the %s key; the %s key of %s signs: %s\n", d.BroughtKey, kind, printable(sel), signs)
	}
	if d.Rotating() {
		fmt.Fprintf(stdout, "rotating:  to %s, %s once their records verify\n", printable(d.NextRSASelector), printable(d.NextEdSelector))
	}
	rp := "not published: mail leaves with its own envelope sender"
	if d.ReturnPath {
		rp = "published: per-recipient senders at " + d.ReturnPathHost
	}
	fmt.Fprintf(stdout, "return path: %s\n", printable(rp))
	fmt.Fprintln(stdout, "records:")
	for _, line := range domain.ZoneLines(d.Records) {
		fmt.Fprintln(stdout, "  "+printable(line))
	}
	fmt.Fprintln(stdout, "events:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range d.Events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", stamp(e.At), e.Type, printable(e.Detail))
	}
	return tw.Flush()
}

// identityFriendly words the admin operations' errors for the operator,
// as friendly does the store's: what and name say what was asked for.
func identityFriendly(err error, what, name string) error {
	var inv *admin.InvalidError
	switch {
	case errors.As(err, &inv):
		return errors.New(inv.Message)
	case errors.Is(err, admin.ErrNotFound):
		return fmt.Errorf("%s %q not found", what, name)
	case errors.Is(err, admin.ErrConflict):
		return fmt.Errorf("%s %q already exists", what, name)
	}
	return err
}

func domainDelete(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("domain delete", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := positionals(pos, 1, "domain delete DOMAIN"); err != nil {
		return err
	}
	name := strings.ToLower(strings.TrimSuffix(pos[0], "."))
	err = a.Admin.DeleteDomain(ctx, admin.Actor{Operator: true}, admin.DomainRef{Name: name})
	if errors.Is(err, admin.ErrNotFound) {
		return fmt.Errorf("no domain %q (domain list)", name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s deleted: its mail is no longer signed or accepted; remove its DNS records\n", printable(name))
	return nil
}
