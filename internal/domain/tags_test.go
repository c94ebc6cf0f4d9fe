package domain

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseDKIMRecord(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{"v=DKIM1; k=rsa; p=MIGf", map[string]string{"v": "DKIM1", "k": "rsa", "p": "MIGf"}, ""},
		{"v=DKIM1;k=ed25519;p=abc=;", map[string]string{"v": "DKIM1", "k": "ed25519", "p": "abc="}, ""},
		{" p = ab cd\r\n ef ;\tk=rsa ", map[string]string{"p": "ab cd\r\n ef", "k": "rsa"}, ""},
		{"p=", map[string]string{"p": ""}, ""},
		{"n=a:b,c@d=e", map[string]string{"n": "a:b,c@d=e"}, ""},
		{"P=x; p=y", map[string]string{"P": "x", "p": "y"}, ""}, // case-sensitive names
		{"x_1=2", map[string]string{"x_1": "2"}, ""},
		{"", nil, "empty tag"},
		{";", nil, "empty tag"},
		{"a=1;;b=2", nil, "empty tag"},
		{"a=1;b", nil, "no \"=\""},
		{"p=1; p=2", nil, "duplicate tag \"p\""},
		{"1a=2", nil, "bad tag name"},
		{"=2", nil, "bad tag name"},
		{"a-b=2", nil, "bad tag name"},
		{"a b=2", nil, "bad tag name"},
		{"a=\x00", nil, "bad value"},
		{"a=é", nil, "bad value"},
		{"a=\x7f", nil, "bad value"},
	}
	for _, tt := range tests {
		got, err := ParseDKIMRecord(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseDKIMRecord(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("ParseDKIMRecord(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// FuzzParseDKIMRecord checks that the parser never panics and that what it
// accepts is a valid tag list that reads back the same once written out.
func FuzzParseDKIMRecord(f *testing.F) {
	for _, s := range []string{
		"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DMARC1; p=none; rua=mailto:dmarc@example.test",
		" a = b c ;\r\n\tp=;",
		"p=1;p=2",
		";;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := ParseDKIMRecord(s)
		if err != nil {
			if tags != nil {
				t.Fatalf("error %v with tags %v", err, tags)
			}
			return
		}
		if len(tags) == 0 {
			t.Fatalf("%q: no tags and no error", s)
		}
		var parts []string
		for _, name := range slices.Sorted(maps.Keys(tags)) {
			v := tags[name]
			if !validTagName(name) || strings.Contains(v, ";") || v != trimWS(v) {
				t.Fatalf("%q: bad tag %q=%q", s, name, v)
			}
			parts = append(parts, name+"="+v)
		}
		again, err := ParseDKIMRecord(strings.Join(parts, "; "))
		if err != nil || !maps.Equal(again, tags) {
			t.Fatalf("%q: written out and read back: %v, %v; want %v", s, again, err, tags)
		}
	})
}
