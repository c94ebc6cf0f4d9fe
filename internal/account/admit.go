package account

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/postern/postern/internal/store"
)

// Errors from Admit (test with errors.Is).
var (
	ErrIPNotAllowed = errors.New("account: client address not allowed")
	ErrSuspended    = errors.New("account: suspended")
)

// Principal is who a session acts for: the key, its user, and the
// top-level account (the user itself, or a subuser's parent).
type Principal struct {
	Key     store.APIKey
	User    store.User
	Account store.User
}

// Admit decides whether an authenticated key may be used from ip now: the
// user and its account must not be suspended, and ip must be on the key's
// allow-list and on the account's (an empty list allows everything; the
// account's list covers all its subusers). It is asked at AUTH and again
// at every MAIL.
func (s *Service) Admit(ctx context.Context, key store.APIKey, ip netip.Addr) (Principal, error) {
	p := Principal{Key: key}
	u, err := s.Store.UserByName(ctx, key.UserName)
	if err != nil {
		return p, fmt.Errorf("account: admit key %s: %w", key.ID, err)
	}
	p.User, p.Account = u, u
	if u.ParentID != 0 {
		if p.Account, err = s.Store.UserByName(ctx, u.ParentName); err != nil {
			return p, fmt.Errorf("account: admit key %s: %w", key.ID, err)
		}
	}
	for _, who := range []store.User{p.Account, p.User} {
		if who.Suspended() {
			return p, fmt.Errorf("%w: user %s", ErrSuspended, who.Name)
		}
	}
	if !allowed(key.AllowIPs, ip) {
		return p, fmt.Errorf("%w: %s by key %s", ErrIPNotAllowed, ip, key.ID)
	}
	list, err := s.Store.AllowedIPs(ctx, p.Account.ID)
	if err != nil {
		return p, fmt.Errorf("account: admit key %s: %w", key.ID, err)
	}
	if !allowed(list, ip) {
		return p, fmt.Errorf("%w: %s by account %s", ErrIPNotAllowed, ip, p.Account.Name)
	}
	return p, nil
}

// allowed reports whether ip is in one of the prefixes; an empty list
// allows every address. An entry that does not parse allows nothing.
func allowed(prefixes []string, ip netip.Addr) bool {
	if len(prefixes) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, s := range prefixes {
		if p, err := netip.ParsePrefix(s); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParsePrefix reads an allow-list entry: a CIDR prefix ("192.0.2.0/24",
// "2001:db8::/48") or a single address (a /32 or /128). The result is
// canonical (host bits cleared, IPv4-mapped addresses as IPv4), so the same
// network is always stored the same way.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("account: %q is not an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("account: %q is not an IP address or CIDR prefix", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// ParsePrefixes reads a comma-separated list of entries.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		p, err := ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func prefixStrings(ps []netip.Prefix) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}
