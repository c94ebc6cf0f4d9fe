package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/store"
)

// Records are the DNS records domain d must (DKIM) or should publish,
// for an installation described by cfg. The record of a brought key's
// companion is advised, not required (store.Domain.BroughtKey).
func Records(d store.Domain, cfg domain.Config) []domain.Record {
	var keys []domain.SelectorKey
	for _, k := range []struct {
		sel      string
		pem      []byte
		optional bool
	}{{d.RSASelector, d.RSAKey, d.BroughtKey == store.KeyEd25519}, {d.EdSelector, d.EdKey, d.BroughtKey == store.KeyRSA}} {
		if signer, err := domain.ParsePrivateKey(k.pem); err == nil {
			keys = append(keys, domain.SelectorKey{Selector: k.sel, Public: signer.Public(), Optional: k.optional})
		}
	}
	return domain.Records(d.Name, cfg, keys)
}

// CompanionCheck returns the check of the record of a brought key's
// companion (store.Domain.BroughtKey), and false when d has none.
func CompanionCheck(d store.Domain, checks []domain.Check) (domain.Check, bool) {
	var want domain.Purpose
	switch d.BroughtKey {
	case store.KeyRSA:
		want = domain.PurposeDKIMEd25519
	case store.KeyEd25519:
		want = domain.PurposeDKIMRSA
	default:
		return domain.Check{}, false
	}
	for _, c := range checks {
		if c.Record.Purpose == want {
			return c, true
		}
	}
	return domain.Check{}, false
}

// Change is a domain whose state a re-check changed.
type Change struct {
	Domain string
	User   string
	From   store.DomainState
	To     store.DomainState
	Why    string
}

// recheckStore is what Recheck needs of the store: the domains, and a
// way to change one.
type recheckStore interface {
	Domains(ctx context.Context, userName string) ([]store.Domain, error)
	ChangeDomain(ctx context.Context, name string, ch store.DomainChange) error
}

// Recheck verifies every DNS-verified domain again. One whose DKIM
// records are definitely gone (not a temporary DNS failure) goes back to
// pending: mail from it is refused until `postern domain verify` passes
// again, and the change is in the domain's history (`postern domain
// show`). The return-path MX and the record of a brought key's companion
// are followed too: each change of one is recorded, and the companion
// signs only while its record is there. Each domain's changes are one
// transaction. Operator-trusted domains are left alone.
func Recheck(ctx context.Context, st recheckStore, r dnsres.Resolver, cfg domain.Config, now time.Time) ([]Change, error) {
	list, err := st.Domains(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("identity: recheck: %w", err)
	}
	var changes []Change
	for _, d := range list {
		if d.State != store.DomainVerified {
			continue
		}
		checks, verified := domain.Verify(ctx, r, d.Name, Records(d, cfg))
		if domain.AnyTemporary(checks) {
			continue
		}
		// One transaction per domain: its flags, its state and the events
		// that tell them.
		var ch store.DomainChange
		if rp := ReturnPathPublished(checks); rp != d.ReturnPath {
			ch.ReturnPath = &rp
			detail := "return-path MX found: bounces now come back to Postern"
			if !rp {
				detail = "return-path MX gone: mail leaves with its own envelope sender"
			}
			ch.Events = append(ch.Events, store.DomainEvent{Domain: d.Name, Type: store.DomainEventReturnPath, Detail: detail, At: now})
		}
		if c, ok := CompanionCheck(d, checks); ok && c.OK != d.CompanionPublished {
			found := c.OK
			ch.CompanionPublished = &found
			ch.Events = append(ch.Events, store.DomainEvent{Domain: d.Name, Type: store.DomainEventCompanion, Detail: CompanionDetail(d, found), At: now})
		}
		var lapsed *Change
		if !verified {
			ch.State, ch.At = store.DomainPending, now
			lapsed = &Change{Domain: d.Name, User: d.UserName, From: d.State, To: store.DomainPending, Why: firstProblem(checks)}
			ch.Events = append(ch.Events, store.DomainEvent{Domain: d.Name, Type: store.DomainEventLapsed,
				Detail: "no longer verified, mail from it is refused: " + lapsed.Why, At: now})
		}
		if len(ch.Events) == 0 {
			continue
		}
		if err := st.ChangeDomain(ctx, d.Name, ch); err != nil {
			return changes, fmt.Errorf("identity: recheck %s: %w", d.Name, err)
		}
		if lapsed != nil {
			changes = append(changes, *lapsed)
		}
	}
	return changes, nil
}

// CompanionDetail is the history line of a brought key's companion
// found (or gone) in DNS.
func CompanionDetail(d store.Domain, found bool) string {
	kind, sel := "Ed25519", d.EdSelector
	if d.BroughtKey == store.KeyEd25519 {
		kind, sel = "RSA", d.RSASelector
	}
	if found {
		return "the " + kind + " key's record (selector " + sel + ") was found: mail is signed with it too"
	}
	return "the " + kind + " key's record (selector " + sel + ") is not published: mail is signed with the brought key alone"
}

// ReturnPathPublished reports whether checks found the return-path
// subdomain's MX pointing at Postern.
func ReturnPathPublished(checks []domain.Check) bool {
	for _, c := range checks {
		if c.Record.Purpose == domain.PurposeReturnPath && c.Record.Type == "MX" {
			return c.OK
		}
	}
	return false
}

func firstProblem(checks []domain.Check) string {
	for _, c := range checks {
		if !c.OK && c.Record.Required {
			return c.Record.Name + " " + c.Record.Type + ": " + c.Problem
		}
	}
	return "records no longer match"
}
