package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/postern/postern/internal/identity"
	"github.com/postern/postern/internal/store"
)

// TestUnsharedDomainHint (issue 11): a refusal for a domain of the
// user's own account that is not shared with it says how to share it;
// a refusal for another tenant's domain says nothing of that domain.
func TestUnsharedDomainHint(t *testing.T) {
	tn := newTenants(t)
	tn.domain(t, "acme.test", tn.acme, store.DomainVerified, false)
	tn.domain(t, "news.test", tn.news, store.DomainTrusted, false)
	tn.domain(t, "pending.test", tn.acme, store.DomainPending, false)
	tests := []struct {
		who  store.User
		addr string
		hint string // "" for none
	}{
		{tn.shop, "app@acme.test", "acme.test belongs to another user of its account and is not shared (postern domain share acme.test shares it within the account)"},
		{tn.shop, "app@news.test", "postern domain share news.test"}, // a sibling's
		{tn.news, "app@acme.test", "postern domain share acme.test"},
		{tn.acme, "app@news.test", "postern domain share news.test"}, // its subuser's
		{tn.beta, "app@acme.test", ""},                               // another tenant's: not named
		{tn.shop, "app@pending.test", ""},                            // not authenticated: nothing to share yet
		{tn.shop, "app@nobody.test", ""},
	}
	for _, tc := range tests {
		err := tn.s.CheckAddress(context.Background(), tn.principal(tc.who), "From", tc.addr)
		var u *identity.Unverified
		if !errors.As(err, &u) || !errors.Is(err, identity.ErrUnverified) {
			t.Errorf("%s as %s: %v, want an Unverified refusal", tc.who.Name, tc.addr, err)
			continue
		}
		text := err.Error()
		if !strings.HasPrefix(text, "From <"+tc.addr+"> is neither on a verified domain nor a verified sender of this API key's user") {
			t.Errorf("%s as %s: %q lost the refusal's first words", tc.who.Name, tc.addr, text)
		}
		switch {
		case tc.hint != "" && !strings.Contains(text, tc.hint):
			t.Errorf("%s as %s: %q lacks %q", tc.who.Name, tc.addr, text, tc.hint)
		case tc.hint == "" && (strings.Contains(text, "share") || u.Unshared != ""):
			t.Errorf("%s as %s: %q hints at sharing", tc.who.Name, tc.addr, text)
		}
	}
	// Shared, it is no refusal at all.
	if err := tn.st.SetDomainShared(context.Background(), "acme.test", true); err != nil {
		t.Fatal(err)
	}
	if !tn.may(t, tn.shop, "app@acme.test") {
		t.Error("shop may not send as acme.test once shared")
	}
}
