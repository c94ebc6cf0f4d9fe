package identity

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/store"
)

// Records are the DNS records domain d must (DKIM) or should publish,
// for an installation described by cfg.
func Records(d store.Domain, cfg domain.Config) []domain.Record {
	var keys []domain.SelectorKey
	for _, k := range []struct {
		sel string
		pem []byte
	}{{d.RSASelector, d.RSAKey}, {d.EdSelector, d.EdKey}} {
		if signer, err := domain.ParsePrivateKey(k.pem); err == nil {
			keys = append(keys, domain.SelectorKey{Selector: k.sel, Public: signer.Public()})
		}
	}
	return domain.Records(d.Name, cfg, keys)
}

// Change is a domain whose state a re-check changed.
type Change struct {
	Domain string
	User   string
	From   store.DomainState
	To     store.DomainState
	Why    string
}

// Recheck verifies every DNS-verified domain again. One whose DKIM
// records are definitely gone (not a temporary DNS failure) goes back to
// pending: mail from it is refused until `postern domain verify` passes
// again, and the change is in the domain's history (`postern domain
// show`). Operator-trusted domains are left alone.
func Recheck(ctx context.Context, st store.Store, r dnsres.Resolver, cfg domain.Config, now time.Time) ([]Change, error) {
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
		if rp := ReturnPathPublished(checks); rp != d.ReturnPath {
			if err := st.SetDomainReturnPath(ctx, d.Name, rp); err != nil {
				return changes, fmt.Errorf("identity: recheck %s: %w", d.Name, err)
			}
			detail := "return-path MX found: bounces now come back to Postern"
			if !rp {
				detail = "return-path MX gone: mail leaves with its own envelope sender"
			}
			if err := st.AddDomainEvent(ctx, store.DomainEvent{Domain: d.Name, Type: store.DomainEventReturnPath, Detail: detail, At: now}); err != nil {
				return changes, fmt.Errorf("identity: recheck %s: %w", d.Name, err)
			}
		}
		if verified {
			continue
		}
		if err := st.SetDomainState(ctx, d.Name, store.DomainPending, now); err != nil {
			return changes, fmt.Errorf("identity: recheck %s: %w", d.Name, err)
		}
		c := Change{Domain: d.Name, User: d.UserName, From: d.State, To: store.DomainPending, Why: firstProblem(checks)}
		if err := st.AddDomainEvent(ctx, store.DomainEvent{Domain: d.Name, Type: store.DomainEventLapsed,
			Detail: "no longer verified, mail from it is refused: " + c.Why, At: now}); err != nil {
			return changes, fmt.Errorf("identity: recheck %s: %w", d.Name, err)
		}
		changes = append(changes, c)
	}
	return changes, nil
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

// RunRecheck re-checks every interval until ctx ends, logging each change
// so the operator (and, through the log, the user) is told.
func RunRecheck(ctx context.Context, st store.Store, r dnsres.Resolver, cfg domain.Config, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changes, err := Recheck(ctx, st, r, cfg, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Error("domain recheck", "err", err)
		}
		for _, c := range changes {
			log.Warn("domain no longer verified", "domain", c.Domain, "user", c.User, "why", c.Why)
		}
	}
}
