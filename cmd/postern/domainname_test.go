package main

import (
	"context"
	"strings"
	"testing"
)

// TestDomainAddValidatesName (issue 12): domain add takes a DNS host name
// only, lower-cased and without its trailing dot; anything else is refused
// before keys are made or anything is stored.
func TestDomainAddValidatesName(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	run := func(args ...string) (int, string, string) { return c.run(nil, append(cfg, args...)...) }
	run("user", "create", "acme")

	for _, bad := range []string{
		"", "localhost", "example", "1.2.3.4", "[192.0.2.1]", "2001:db8::1", "example.123",
		"-bad.example", "bad-.example", "a..example", ".example", "example..", "under_score.example",
		"exa mple.example", "bücher.example", "*.example.test", "example.test:25", "me@example.test",
		"bad\r\nname.example", strings.Repeat("a", 64) + ".example", strings.Repeat("abcdefghi.", 26) + "example",
	} {
		code, out, errOut := run("domain", "add", "--user", "acme", "--", bad) // "--": "-bad.example" is no flag
		if code != 1 || out != "" || !strings.Contains(errOut, "not a domain name") {
			t.Errorf("domain add %q: exit %d, stdout %q, stderr %q; want exit 1 and \"not a domain name\"", bad, code, out, errOut)
		}
	}
	for _, good := range []string{"Example.TEST.", "xn--bcher-kva.example", "mail-1.sub.example.co.uk"} {
		if code, _, errOut := run("domain", "add", good, "--user", "acme"); code != 0 {
			t.Errorf("domain add %q: exit %d, %q", good, code, errOut)
		}
	}

	a := openApp(t, c.config)
	list, err := a.Store.Domains(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list {
		names = append(names, d.Name)
	}
	if got, want := strings.Join(names, " "), "example.test mail-1.sub.example.co.uk xn--bcher-kva.example"; got != want {
		t.Errorf("stored domains %q, want %q", got, want)
	}
}
