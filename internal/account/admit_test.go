package account_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/store/sqlite"
)

func TestParsePrefix(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7":           "192.0.2.7/32",
		"192.0.2.7/24":        "192.0.2.0/24",
		" 10.0.0.0/8 ":        "10.0.0.0/8",
		"2001:db8::1":         "2001:db8::1/128",
		"2001:db8::1/64":      "2001:db8::/64",
		"::ffff:192.0.2.9":    "192.0.2.9/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"nonsense":            "",
		"192.0.2.0/33":        "",
		"fe80::1%eth0":        "",
		"":                    "",
	}
	for in, want := range cases {
		p, err := account.ParsePrefix(in)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != want {
			t.Errorf("ParsePrefix(%q) = %q (%v), want %q", in, got, err, want)
		}
	}
	if ps, err := account.ParsePrefixes("192.0.2.1, 2001:db8::/32,"); err != nil || len(ps) != 2 {
		t.Errorf("ParsePrefixes: %v %v", ps, err)
	}
	if _, err := account.ParsePrefixes("192.0.2.1,bad"); err == nil {
		t.Error("bad entry accepted")
	}
}

// TestAdmit: the key's list and the account's list both apply; the
// account's list covers its subusers; suspension of the user or of its
// account refuses; an empty list allows everything.
func TestAdmit(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir()+"/a.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &account.Service{Store: st, Now: time.Now}
	acme, _ := s.CreateUser(ctx, "acme", "")
	if _, err := s.CreateUser(ctx, "shop", "acme"); err != nil {
		t.Fatal(err)
	}
	v6net, _ := account.ParsePrefix("2001:db8:1::/48")
	_, open, _ := s.CreateKey(ctx, "shop", "open", nil)
	_, pinned, _ := s.CreateKey(ctx, "shop", "pinned", nil, netip.MustParsePrefix("192.0.2.7/32"), v6net)
	ip := netip.MustParseAddr

	check := func(name string, key string, addr netip.Addr, want error) {
		t.Helper()
		k, _ := st.APIKey(ctx, key)
		p, err := s.Admit(ctx, k, addr)
		if !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("%s: Admit from %s = %v, want %v", name, addr, err, want)
		}
		if err == nil && (p.User.Name != "shop" || p.Account.Name != "acme") {
			t.Errorf("%s: principal %+v", name, p)
		}
	}
	check("no lists", open.ID, ip("203.0.113.5"), nil)
	check("key list, inside", pinned.ID, ip("192.0.2.7"), nil)
	check("key list, IPv6 inside", pinned.ID, ip("2001:db8:1:ff::9"), nil)
	check("key list, mapped", pinned.ID, ip("::ffff:192.0.2.7"), nil)
	check("key list, outside", pinned.ID, ip("192.0.2.8"), account.ErrIPNotAllowed)
	check("key list, IPv6 outside", pinned.ID, ip("2001:db8:2::1"), account.ErrIPNotAllowed)

	// The account's list applies to its subuser's keys too.
	if err := st.AddAllowedIP(ctx, acme.ID, "198.51.100.0/24", time.Now()); err != nil {
		t.Fatal(err)
	}
	check("account list, inside", open.ID, ip("198.51.100.20"), nil)
	check("account list, outside", open.ID, ip("203.0.113.5"), account.ErrIPNotAllowed)
	// Both lists must allow: the pinned key's address is not in the account's.
	check("both lists", pinned.ID, ip("192.0.2.7"), account.ErrIPNotAllowed)
	st.RemoveAllowedIP(ctx, acme.ID, "198.51.100.0/24")

	if err := st.SetSuspended(ctx, "acme", time.Now(), "abuse"); err != nil {
		t.Fatal(err)
	}
	check("account suspended", open.ID, ip("203.0.113.5"), account.ErrSuspended)
	st.SetSuspended(ctx, "acme", time.Time{}, "")
	st.SetSuspended(ctx, "shop", time.Now(), "abuse")
	check("subuser suspended", open.ID, ip("203.0.113.5"), account.ErrSuspended)
	st.SetSuspended(ctx, "shop", time.Time{}, "")
	check("resumed", open.ID, ip("203.0.113.5"), nil)
}
