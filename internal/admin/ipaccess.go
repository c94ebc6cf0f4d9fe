package admin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/store"
)

// The scopes of IP access management (SendGrid's names).
const (
	ScopeWhitelistCreate = "access_settings.whitelist.create"
	ScopeWhitelistRead   = "access_settings.whitelist.read"
	ScopeWhitelistDelete = "access_settings.whitelist.delete"
)

// MaxIPRulesPerRequest bounds the rules added or deleted at once.
const MaxIPRulesPerRequest = 1000

// IPRule is an entry of an account's IP allow-list (SendGrid's IP access
// rule). Once the list has an entry, the keys of the account and of all
// its subusers work only from the listed networks, on SMTP and on the
// API alike (account.Admit). A key's own allow-list (apikey create
// --allow-ip) is a further restriction, kept on the key.
type IPRule struct {
	ID      int64
	IP      string // a CIDR prefix, canonical
	Created time.Time
	Updated time.Time
}

func ipRule(r store.IPRule) IPRule {
	return IPRule{ID: r.ID, IP: r.Prefix, Created: r.CreatedAt, Updated: r.UpdatedAt}
}

// ruleAccount is the account whose rules the Actor manages: its user,
// when that is a top-level account. A subuser has no rules of its own
// (its account's apply to it) and is not shown its account's: listing
// and adding are ErrForbidden, and every rule id is ErrNotFound to it.
func (a Actor) ruleAccount(byID bool) (int64, error) {
	if a.User.ParentID == 0 {
		return a.User.ID, nil
	}
	if byID {
		return 0, fmt.Errorf("%w: a subuser has no IP access rules", ErrNotFound)
	}
	return 0, fmt.Errorf("%w: IP access rules belong to the account, not to its subuser %s", ErrForbidden, a.User.Name)
}

// ListIPRules returns the account's rules in the order they were added.
func (s *Service) ListIPRules(ctx context.Context, a Actor) ([]IPRule, error) {
	if err := a.need(ScopeWhitelistRead); err != nil {
		return nil, err
	}
	acct, err := a.ruleAccount(false)
	if err != nil {
		return nil, err
	}
	rules, err := s.Store.IPRules(ctx, acct)
	if err != nil {
		return nil, fmt.Errorf("admin: list ip rules: %w", err)
	}
	out := make([]IPRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, ipRule(r))
	}
	return out, nil
}

// GetIPRule returns one rule of the account.
func (s *Service) GetIPRule(ctx context.Context, a Actor, id int64) (IPRule, error) {
	if err := a.need(ScopeWhitelistRead); err != nil {
		return IPRule{}, err
	}
	acct, err := a.ruleAccount(true)
	if err != nil {
		return IPRule{}, err
	}
	rules, err := s.Store.IPRules(ctx, acct)
	if err != nil {
		return IPRule{}, fmt.Errorf("admin: ip rule %d: %w", id, err)
	}
	for _, r := range rules {
		if r.ID == id {
			return ipRule(r), nil
		}
	}
	return IPRule{}, fmt.Errorf("%w: ip rule %d", ErrNotFound, id)
}

// AddIPRules adds addresses, CIDR prefixes or IPv4 patterns (see
// ParseIPRule) to the account's list in one transaction and returns the
// new rules. A network listed already is ErrConflict, and nothing is
// added. Nothing stops an account from listing only networks it is not
// calling from: its next request is refused, as SendGrid's is (the
// operator's CLI, which is no key, undoes it).
func (s *Service) AddIPRules(ctx context.Context, a Actor, ips []string) ([]IPRule, error) {
	if err := a.need(ScopeWhitelistCreate); err != nil {
		return nil, err
	}
	acct, err := a.ruleAccount(false)
	if err != nil {
		return nil, err
	}
	switch {
	case len(ips) == 0:
		return nil, Invalid("ips", "at least one IP is required")
	case len(ips) > MaxIPRulesPerRequest:
		return nil, Invalid("ips", "at most %d IPs at once", MaxIPRulesPerRequest)
	}
	var prefixes []string
	seen := map[string]bool{}
	for _, ip := range ips {
		p, err := ParseIPRule(ip)
		if err != nil {
			return nil, err
		}
		if k := p.String(); !seen[k] {
			seen[k] = true
			prefixes = append(prefixes, k)
		}
	}
	rules, err := s.Store.AddIPRules(ctx, acct, prefixes, s.now())
	switch {
	case errors.Is(err, store.ErrExists):
		return nil, fmt.Errorf("%w: an IP of the request is on the allow-list already", ErrConflict)
	case err != nil:
		return nil, fmt.Errorf("admin: add ip rules: %w", err)
	}
	out := make([]IPRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, ipRule(r))
	}
	return out, nil
}

// DeleteIPRules removes rules of the account by id in one transaction;
// an id that is not the account's is ErrNotFound, and nothing is removed.
func (s *Service) DeleteIPRules(ctx context.Context, a Actor, ids []int64) error {
	if err := a.need(ScopeWhitelistDelete); err != nil {
		return err
	}
	acct, err := a.ruleAccount(true)
	if err != nil {
		return err
	}
	switch {
	case len(ids) == 0:
		return Invalid("ids", "at least one id is required")
	case len(ids) > MaxIPRulesPerRequest:
		return Invalid("ids", "at most %d ids at once", MaxIPRulesPerRequest)
	}
	err = s.Store.DeleteIPRules(ctx, acct, ids)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: ip rule", ErrNotFound)
	case err != nil:
		return fmt.Errorf("admin: delete ip rules: %w", err)
	}
	return nil
}

// DeleteIPRule removes one rule of the account.
func (s *Service) DeleteIPRule(ctx context.Context, a Actor, id int64) error {
	return s.DeleteIPRules(ctx, a, []int64{id})
}

// RemoveIPRule removes the rule of the network ip names (as ParseIPRule
// reads it), as the CLI names rules, and returns it.
func (s *Service) RemoveIPRule(ctx context.Context, a Actor, ip string) (IPRule, error) {
	if err := a.need(ScopeWhitelistDelete); err != nil {
		return IPRule{}, err
	}
	p, err := ParseIPRule(ip)
	if err != nil {
		return IPRule{}, err
	}
	acct, err := a.ruleAccount(true)
	if err != nil {
		return IPRule{}, err
	}
	rules, err := s.Store.IPRules(ctx, acct)
	if err != nil {
		return IPRule{}, fmt.Errorf("admin: remove ip rule: %w", err)
	}
	for _, r := range rules {
		if r.Prefix == p.String() {
			if err := s.DeleteIPRule(ctx, a, r.ID); err != nil {
				return IPRule{}, err
			}
			return ipRule(r), nil
		}
	}
	return IPRule{}, fmt.Errorf("%w: %s is not on the allow-list", ErrNotFound, p)
}

// ParseIPRule reads an allow-list entry: an address (a /32 or /128), a
// CIDR prefix, or an IPv4 pattern whose last octets are "*"
// ("192.168.*.*" is 192.168.0.0/16), as SendGrid takes them. The result
// is canonical (account.ParsePrefix). An error is an *InvalidError.
func ParseIPRule(s string) (netip.Prefix, error) {
	bad := Invalid("ips", "%.64q is not an IP address, a CIDR prefix or a pattern like 192.168.*.*", s)
	s = strings.TrimSpace(s)
	if strings.Contains(s, "*") {
		parts := strings.Split(s, ".")
		if len(parts) != 4 {
			return netip.Prefix{}, bad
		}
		var b [4]byte
		bits := 0
		for i, part := range parts {
			if part == "*" {
				continue
			}
			n, err := strconv.ParseUint(part, 10, 8)
			if err != nil || bits != i*8 || part != strconv.FormatUint(n, 10) {
				// not a number, a number after a "*", or a leading zero
				return netip.Prefix{}, bad
			}
			b[i], bits = byte(n), bits+8
		}
		return netip.PrefixFrom(netip.AddrFrom4(b), bits), nil
	}
	p, err := account.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, bad
	}
	return p, nil
}
