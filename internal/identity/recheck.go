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

// Records are the DNS records domain d must (DKIM) or should publish.
func Records(d store.Domain, hostname string) []domain.Record {
	var keys []domain.SelectorKey
	for _, k := range []struct {
		sel string
		pem []byte
	}{{d.RSASelector, d.RSAKey}, {d.EdSelector, d.EdKey}} {
		if signer, err := domain.ParsePrivateKey(k.pem); err == nil {
			keys = append(keys, domain.SelectorKey{Selector: k.sel, Public: signer.Public()})
		}
	}
	return domain.Records(d.Name, domain.Config{ReturnPathHost: hostname}, keys)
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
// again. Operator-trusted domains are left alone.
func Recheck(ctx context.Context, st store.Store, r dnsres.Resolver, hostname string, now time.Time) ([]Change, error) {
	list, err := st.Domains(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("identity: recheck: %w", err)
	}
	var changes []Change
	for _, d := range list {
		if d.State != store.DomainVerified {
			continue
		}
		checks, verified := domain.Verify(ctx, r, d.Name, Records(d, hostname))
		if verified || domain.AnyTemporary(checks) {
			continue
		}
		if err := st.SetDomainState(ctx, d.Name, store.DomainPending, now); err != nil {
			return changes, fmt.Errorf("identity: recheck %s: %w", d.Name, err)
		}
		changes = append(changes, Change{Domain: d.Name, User: d.UserName, From: d.State, To: store.DomainPending,
			Why: firstProblem(checks)})
	}
	return changes, nil
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
func RunRecheck(ctx context.Context, st store.Store, r dnsres.Resolver, hostname string, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changes, err := Recheck(ctx, st, r, hostname, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Error("domain recheck", "err", err)
		}
		for _, c := range changes {
			log.Warn("domain no longer verified", "domain", c.Domain, "user", c.User, "why", c.Why)
		}
	}
}
