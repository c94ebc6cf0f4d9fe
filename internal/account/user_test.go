package account

import (
	"strings"
	"testing"
)

func TestValidUserName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"acme", true},
		{"a", true},
		{"0", true},
		{"acme-marketing", true},
		{"acme.eu_2", true},
		{"9lives", true},
		{strings.Repeat("a", 63), true},
		{"a" + strings.Repeat("-", 62), true},
		{"apikeys", true},
		{"", false},
		{"apikey", false},
		{strings.Repeat("a", 64), false},
		{"Acme", false},
		{"acMe", false},
		{"-acme", false},
		{".acme", false},
		{"_acme", false},
		{"ac me", false},
		{" acme", false},
		{"acme ", false},
		{"acme\n", false},
		{"acme@example.com", false},
		{"acme/sub", false},
		{"acmé", false},
		{"acme\x00", false},
	}
	for _, tt := range tests {
		err := ValidUserName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidUserName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
