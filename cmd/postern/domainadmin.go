package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/store"
)

// errNotVerified makes `domain verify` exit 1 after printing its checks.
var errNotVerified = errors.New("the domain is not verified yet: publish the records marked ✗ and run domain verify again")

func domainAdd(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("domain add", flag.ContinueOnError)
	user := fs.String("user", "", "the user the domain belongs to (required)")
	keyFile := fs.String("dkim-key", "", "an existing DKIM private key (PEM: PKCS#1 or PKCS#8 RSA, PKCS#8 Ed25519) to use instead of generating one")
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
	name, err := domain.CheckName(pos[0])
	if err != nil {
		return err
	}
	u, err := a.Store.UserByName(ctx, *user)
	if err != nil {
		return friendly(err, "user", *user)
	}
	rsaKey, edKey, err := domain.GenerateKeys(rand.Reader)
	if err != nil {
		return err
	}
	rsaSel, edSel := domain.SelectorNames(time.Now())
	var rsaSigner, edSigner crypto.Signer = rsaKey, edKey
	if *keyFile != "" {
		pem, err := os.ReadFile(*keyFile)
		if err != nil {
			return err
		}
		k, err := domain.ParsePrivateKey(pem)
		if err != nil {
			return err
		}
		kind, err := domain.KindOf(k)
		if err != nil {
			return err
		}
		if kind == domain.KeyRSA {
			rsaSigner, rsaSel = k, *selector
		} else {
			edSigner, edSel = k, *selector
		}
	}
	rsaPEM, err := domain.MarshalPrivateKey(rsaSigner)
	if err != nil {
		return err
	}
	edPEM, err := domain.MarshalPrivateKey(edSigner)
	if err != nil {
		return err
	}
	d := store.Domain{Name: name, UserID: u.ID, State: store.DomainPending, RSASelector: rsaSel, RSAKey: rsaPEM,
		EdSelector: edSel, EdKey: edPEM, CreatedAt: time.Now(), Shared: *shared}
	if err := a.Store.AddDomain(ctx, d); err != nil {
		return friendly(err, "domain", name)
	}
	if err := domainEvent(ctx, a, d.Name, store.DomainEventAdded, "for "+u.Name+sharedNote(*shared)+"; selectors "+rsaSel+", "+edSel); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "added %s for %s; publish these records, then run: postern domain verify %s\n", printable(name), printable(u.Name), printable(name))
	for _, line := range domain.ZoneLines(domainRecords(a, d)) {
		fmt.Fprintln(stdout, printable(line))
	}
	return nil
}

// domainRecords are the records a domain must (DKIM) or should publish.
func domainRecords(a *app.App, d store.Domain) []domain.Record {
	return identity.Records(d, app.DomainConfig(a.Config))
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
	d, err := a.Store.Domain(ctx, pos[0])
	if err != nil {
		return friendly(err, "domain", pos[0])
	}
	if *trust {
		if err := a.Store.SetDomainState(ctx, d.Name, store.DomainTrusted, time.Now()); err != nil {
			return err
		}
		if err := a.Store.SetDomainReturnPath(ctx, d.Name, *trustRP); err != nil {
			return err
		}
		detail := "vouched for by the operator, without DNS"
		if *trustRP {
			detail += ", its return-path MX too"
		}
		if err := domainEvent(ctx, a, d.Name, store.DomainEventTrusted, detail); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s is marked operator-verified (trusted)", printable(d.Name))
		if *trustRP {
			fmt.Fprintf(stderr, "; mail from it leaves with per-recipient senders at %s", printable(returnPathHost(a, d.Name)))
		}
		fmt.Fprintln(stderr)
		return nil
	}
	res, err := dnsres.New(a.Config.DNS.Resolver, dnsres.Options{})
	if err != nil {
		return err
	}
	if d.NextRSASelector != "" {
		return verifyRotation(ctx, a, res, d, stdout, stderr)
	}
	checks, verified := domain.Verify(ctx, res, d.Name, domainRecords(a, d))
	fmt.Fprint(stdout, printableLines(domain.Format(checks)))
	if !verified {
		return errNotVerified
	}
	if err := a.Store.SetDomainState(ctx, d.Name, store.DomainVerified, time.Now()); err != nil {
		return err
	}
	rp := identity.ReturnPathPublished(checks)
	if err := a.Store.SetDomainReturnPath(ctx, d.Name, rp); err != nil {
		return err
	}
	if rp {
		fmt.Fprintf(stderr, "return path published: mail from %s leaves with a per-recipient envelope sender at %s, and its bounces feed the suppression list\n",
			printable(d.Name), printable(returnPathHost(a, d.Name)))
	} else {
		fmt.Fprintf(stderr, "return path not published: mail from %s leaves with its own envelope sender, and bounces go there\n", printable(d.Name))
	}
	if d.State != store.DomainVerified {
		if err := domainEvent(ctx, a, d.Name, store.DomainEventVerified, "DKIM records found in DNS"); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "%s is verified: mail from it is now DKIM-signed\n", printable(d.Name))
	return nil
}

func domainList(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	user, err := userFilter(ctx, a, "domain list", args)
	if err != nil {
		return err
	}
	list, err := a.Store.Domains(ctx, user)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, d := range list {
		share := "own"
		if d.Shared {
			share = "shared"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s,%s\t%s\n", printable(d.Name), printable(d.UserName), d.State, share, printable(d.RSASelector), printable(d.EdSelector), stamp(d.CreatedAt))
	}
	return tw.Flush()
}

func domainRotate(ctx context.Context, a *app.App, args []string, stdout, stderr io.Writer) error {
	name, err := oneID("domain rotate-dkim", args)
	if err != nil {
		return err
	}
	d, err := a.Store.Domain(ctx, name)
	if err != nil {
		return friendly(err, "domain", name)
	}
	rsaKey, edKey, err := domain.GenerateKeys(rand.Reader)
	if err != nil {
		return err
	}
	rsaSel, edSel := domain.SelectorNames(time.Now())
	for rsaSel == d.RSASelector || edSel == d.EdSelector || rsaSel == d.NextRSASelector {
		// A second rotation within a month: make the names new all the same.
		rsaSel, edSel = rsaSel+"x", edSel+"x"
	}
	rsaPEM, err := domain.MarshalPrivateKey(rsaKey)
	if err != nil {
		return err
	}
	edPEM, err := domain.MarshalPrivateKey(edKey)
	if err != nil {
		return err
	}
	if err := a.Store.SetNextKeys(ctx, d.Name, rsaSel, rsaPEM, edSel, edPEM); err != nil {
		return err
	}
	next := d
	next.RSASelector, next.RSAKey, next.EdSelector, next.EdKey = rsaSel, rsaPEM, edSel, edPEM
	fmt.Fprintf(stderr, "new selectors %s and %s for %s: publish these records (keep the current ones), then run postern domain verify %s; signing switches once they verify\n",
		rsaSel, edSel, printable(d.Name), printable(d.Name))
	for _, line := range domain.ZoneLines(dkimOnly(domainRecords(a, next))) {
		fmt.Fprintln(stdout, printable(line))
	}
	return nil
}

func dkimOnly(recs []domain.Record) []domain.Record {
	var out []domain.Record
	for _, r := range recs {
		if r.Required {
			out = append(out, r)
		}
	}
	return out
}

// verifyRotation checks the next selectors' records and, once they match,
// switches signing to them.
func verifyRotation(ctx context.Context, a *app.App, res dnsres.Resolver, d store.Domain, stdout, stderr io.Writer) error {
	next := d
	next.RSASelector, next.RSAKey, next.EdSelector, next.EdKey = d.NextRSASelector, d.NextRSAKey, d.NextEdSelector, d.NextEdKey
	checks, verified := domain.Verify(ctx, res, d.Name, dkimOnly(domainRecords(a, next)))
	fmt.Fprint(stdout, printableLines(domain.Format(checks)))
	if !verified {
		fmt.Fprintf(stderr, "signing continues with %s and %s until the new records verify\n", printable(d.RSASelector), printable(d.EdSelector))
		return errNotVerified
	}
	if err := a.Store.PromoteNextKeys(ctx, d.Name, time.Now()); err != nil {
		return err
	}
	if err := domainEvent(ctx, a, d.Name, store.DomainEventRotated, "signing switched from "+d.RSASelector+", "+d.EdSelector+
		" to "+next.RSASelector+", "+next.EdSelector); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "signing switched to %s and %s; keep the records of %s and %s published for %s (mail signed before the switch is still being delivered and checked), then remove them\n",
		printable(next.RSASelector), printable(next.EdSelector), printable(d.RSASelector), printable(d.EdSelector), a.Config.Domains.RotationOverlap.Duration)
	return nil
}

func domainEvent(ctx context.Context, a *app.App, name string, typ store.DomainEventType, detail string) error {
	return a.Store.AddDomainEvent(ctx, store.DomainEvent{Domain: name, Type: typ, Detail: detail, At: time.Now()})
}

// returnPathHost is the domain's return-path subdomain.
func returnPathHost(a *app.App, name string) string {
	return a.Config.Domains.ReturnPathLabel + "." + name
}

func sharedNote(shared bool) string {
	if shared {
		return ", shared within the account"
	}
	return ""
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
	d, err := a.Store.Domain(ctx, pos[0])
	if err != nil {
		return friendly(err, "domain", pos[0])
	}
	if err := a.Store.SetDomainShared(ctx, d.Name, !*off); err != nil {
		return err
	}
	typ, detail := store.DomainEventShared, "every user of the owner's account may send as it"
	if *off {
		typ, detail = store.DomainEventUnshared, "only "+d.UserName+" may send as it"
	}
	if err := domainEvent(ctx, a, d.Name, typ, detail); err != nil {
		return err
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
	d, err := a.Store.Domain(ctx, name)
	if err != nil {
		return friendly(err, "domain", name)
	}
	evs, err := a.Store.DomainEvents(ctx, d.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "domain:    %s\nuser:      %s\nstate:     %s\nshared:    %v\nselectors: %s, %s\n",
		printable(d.Name), printable(d.UserName), d.State, d.Shared, printable(d.RSASelector), printable(d.EdSelector))
	if d.NextRSASelector != "" {
		fmt.Fprintf(stdout, "rotating:  to %s, %s once their records verify\n", printable(d.NextRSASelector), printable(d.NextEdSelector))
	}
	rp := "not published: mail leaves with its own envelope sender"
	if d.ReturnPath {
		rp = "published: per-recipient senders at " + returnPathHost(a, d.Name)
	}
	fmt.Fprintf(stdout, "return path: %s\n", printable(rp))
	fmt.Fprintln(stdout, "records:")
	for _, line := range domain.ZoneLines(domainRecords(a, d)) {
		fmt.Fprintln(stdout, "  "+printable(line))
	}
	fmt.Fprintln(stdout, "events:")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, e := range evs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", stamp(e.At), e.Type, printable(e.Detail))
	}
	return tw.Flush()
}
