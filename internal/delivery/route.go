package delivery

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"

	"github.com/postern/postern/internal/dnsres"
)

// target is one address to try for a destination domain.
type target struct {
	Host string // the MX host name (TLS server name)
	Addr netip.Addr
}

// resolveRoute finds where mail for domain goes (RFC 5321 §5.1): MX hosts
// by preference, equal preferences in random order; no MX means the domain
// itself (implicit MX); a null MX (RFC 7505) or a domain that does not
// exist is a permanent failure; any DNS trouble is temporary. It asks
// one question at a time: the Worker bounds how many run at once
// (WorkerConfig.MaxLookups). Which of the addresses may be dialed is
// decided later, right before each dial (private.go).
func resolveRoute(ctx context.Context, r dnsres.Resolver, domain string, shuffle *rand.Rand) ([]target, Result) {
	if strings.HasPrefix(domain, "[") {
		return nil, Perm([3]int{5, 1, 2}, "address literals are not delivered to")
	}
	mxs, err := r.LookupMX(ctx, domain)
	switch {
	case errors.Is(err, dnsres.ErrNXDomain):
		return nil, Perm([3]int{5, 1, 2}, "domain %s does not exist (NXDOMAIN)", domain)
	case err != nil:
		return nil, Temp("DNS lookup of MX for %s failed: %v", domain, err)
	}
	hosts := orderMX(mxs, shuffle)
	if len(mxs) > 0 && len(hosts) == 0 {
		return nil, Perm([3]int{5, 1, 10}, "domain %s accepts no mail (null MX, RFC 7505)", domain)
	}
	implicit := len(hosts) == 0
	if implicit {
		hosts = []string{domain}
	}
	var targets []target
	var lastErr error
	for _, h := range hosts {
		addrs, err := r.LookupIP(ctx, h)
		if err != nil {
			lastErr = err
			if errors.Is(err, dnsres.ErrNXDomain) && implicit {
				return nil, Perm([3]int{5, 1, 2}, "domain %s has no MX and no address", domain)
			}
			continue
		}
		for _, a := range addrs {
			targets = append(targets, target{Host: h, Addr: a})
		}
	}
	if len(targets) == 0 {
		if implicit && lastErr == nil {
			return nil, Perm([3]int{5, 1, 2}, "domain %s has no MX and no address", domain)
		}
		if lastErr != nil {
			return nil, Temp("no address for the MX hosts of %s: %v", domain, lastErr)
		}
		return nil, Temp("no address for the MX hosts of %s", domain)
	}
	return targets, Result{Code: 250}
}

// orderMX sorts by preference, shuffles equal preferences (RFC 5321 §5.1)
// and drops the null MX ".".
func orderMX(mxs []dnsres.MX, shuffle *rand.Rand) []string {
	sorted := append([]dnsres.MX(nil), mxs...)
	if shuffle != nil {
		shuffle.Shuffle(len(sorted), func(i, j int) { sorted[i], sorted[j] = sorted[j], sorted[i] })
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Pref < sorted[j].Pref })
	var hosts []string
	seen := map[string]bool{}
	for _, m := range sorted {
		h := strings.TrimSuffix(strings.ToLower(m.Host), ".")
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		hosts = append(hosts, h)
	}
	return hosts
}
