package account

import (
	"slices"
	"strings"
	"testing"

	"github.com/postern/postern/internal/store"
)

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string // substring of the error; "" for success
	}{
		{"", []string{"mail.send"}, ""},
		{"   ", []string{"mail.send"}, ""},
		{"mail.send", []string{"mail.send"}, ""},
		{"stats.read", []string{"stats.read"}, ""},
		{"mail.send,stats.read", []string{"mail.send", "stats.read"}, ""},
		{" stats.read , mail.send ", []string{"stats.read", "mail.send"}, ""},
		{"mail.send,mail.send", []string{"mail.send"}, ""},
		{"api_keys.read,mail.send,api_keys.read,suppression.delete",
			[]string{"api_keys.read", "mail.send", "suppression.delete"}, ""},
		{"whitelabel.create,user.profile.update,templates.read",
			[]string{"whitelabel.create", "user.profile.update", "templates.read"}, ""},
		{"mail.sned", nil, `unknown scope "mail.sned"`},
		{"mail.send,bogus", nil, `unknown scope "bogus"`},
		{"Mail.Send", nil, `unknown scope "Mail.Send"`},
		{"mail.send;stats.read", nil, `unknown scope "mail.send;stats.read"`},
		{"mail.send,", nil, "empty scope"},
		{",mail.send", nil, "empty scope"},
		{"mail.send,,stats.read", nil, "empty scope"},
		{"mail.send, ,stats.read", nil, "empty scope"},
	}
	for _, tt := range tests {
		got, err := ParseScopes(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseScopes(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseScopes(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestKnownScopes(t *testing.T) {
	known := KnownScopes()
	if !slices.Contains(known, ScopeMailSend) {
		t.Error("mail.send is not known")
	}
	seen := map[string]bool{}
	for _, s := range known {
		if seen[s] {
			t.Errorf("%q listed twice", s)
		}
		seen[s] = true
		if got, err := ParseScopes(s); err != nil || !slices.Equal(got, []string{s}) {
			t.Errorf("ParseScopes(%q) = %q, %v", s, got, err)
		}
	}
	known[0] = "changed"
	if KnownScopes()[0] != ScopeMailSend {
		t.Error("KnownScopes shares its slice")
	}
}

func TestHasScope(t *testing.T) {
	k := store.APIKey{Scopes: []string{"stats.read", "mail.send"}}
	if !HasScope(k, ScopeMailSend) || !HasScope(k, "stats.read") {
		t.Error("HasScope misses a granted scope")
	}
	if HasScope(k, "api_keys.read") || HasScope(k, "") || HasScope(store.APIKey{}, ScopeMailSend) {
		t.Error("HasScope grants a scope not given")
	}
}
