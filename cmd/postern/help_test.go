package main

import (
	"bytes"
	"context"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
)

// TestCLICommandHelp (issue 11): "postern COMMAND --help", "-h" and
// "postern help COMMAND" print the command's synopsis and each of its
// flags with its meaning, on stdout, and exit 0; without a config file,
// and without touching any data directory.
func TestCLICommandHelp(t *testing.T) {
	c := newCLI(t)
	missing := []string{"POSTERN_CONFIG=" + filepath.Join(t.TempDir(), "no-such.toml")}
	for _, d := range commandDocs() {
		if d.name == "help" || d.name == "version" {
			continue
		}
		words := strings.Fields(d.name)
		for _, args := range [][]string{
			append(slices.Clone(words), "--help"),
			append(slices.Clone(words), "-h"),
			append([]string{"help"}, words...),
		} {
			code, out, errOut := c.run(missing, args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: postern "+d.name) {
				t.Errorf("postern %v: exit %d, stderr %q, stdout %q", args, code, errOut, out)
				continue
			}
			if fs := commandFlags(context.Background(), d.name); fs != nil {
				fs.VisitAll(func(f *flag.Flag) {
					if !strings.Contains(out, "--"+f.Name) || !strings.Contains(out, f.Usage) {
						t.Errorf("postern %v: flag --%s or its meaning %q missing:\n%s", args, f.Name, f.Usage, out)
					}
				})
			}
		}
	}
	// serve --debug is documented, with what it adds.
	_, out, _ := c.run(nil, "serve", "--help")
	if !regexp.MustCompile(`(?m)^  --debug +log at debug level`).MatchString(out) || !strings.Contains(out, "--debug adds the debug lines") {
		t.Errorf("serve --help:\n%s", out)
	}
	// Flags take their value names from the synopsis.
	_, out, _ = c.run(nil, "help", "queue", "list")
	for _, want := range []string{"--state STATE", "--since WHEN", "--limit N", "--after ID", "--user NAME"} {
		if !strings.Contains(out, "  "+want+" ") {
			t.Errorf("queue list help lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = c.run(nil, "apikey", "create", "--help")
	if !regexp.MustCompile(`(?m)^  --scopes S,\.\.\. +comma-separated scopes.* \(default mail\.send\)$`).MatchString(out) {
		t.Errorf("apikey create help does not give the default scope:\n%s", out)
	}
	// A group: its subcommands.
	for _, args := range [][]string{{"queue", "--help"}, {"help", "queue"}} {
		code, out, _ := c.run(nil, args...)
		if code != 0 || !strings.Contains(out, "postern queue show ID") || !strings.Contains(out, "postern queue drop ID") {
			t.Errorf("postern %v: exit %d\n%s", args, code, out)
		}
	}
	code, _, errOut := c.run(nil, "queue")
	if code != 2 || !strings.Contains(errOut, "queue needs a subcommand") || !strings.Contains(errOut, "postern queue list") {
		t.Errorf("postern queue: exit %d, stderr %q", code, errOut)
	}
	// The overview, as before.
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, out, _ := c.run(nil, args...)
		if code != 0 || !strings.HasPrefix(out, "usage: postern") || !strings.Contains(out, "postern COMMAND --help") {
			t.Errorf("postern %v: exit %d\n%s", args, code, out)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(c.config), "data")); !os.IsNotExist(err) {
		t.Errorf("help created the data directory: %v", err)
	}
	// A command's usage mistake shows that command's synopsis.
	c.run(nil, "--config", c.config, "user", "create", "acme")
	code, _, errOut = c.run(nil, "--config", c.config, "apikey", "create")
	if code != 2 || !strings.Contains(errOut, "usage: postern apikey create --user NAME") || strings.Contains(errOut, "Commands:") {
		t.Errorf("apikey create without --user: exit %d, stderr %q", code, errOut)
	}
}

// TestHelpFlagsMatchSynopsis: every command has help, its synopsis names
// exactly the flags its FlagSet defines (so help cannot drift from what
// the command parses), and every command parses --help before it needs
// the app.
func TestHelpFlagsMatchSynopsis(t *testing.T) {
	var documented []string
	for _, d := range commandDocs() {
		documented = append(documented, d.name)
		if _, ok := adminCommands[d.name]; !ok && !slices.Contains([]string{"serve", "help", "version"}, d.name) {
			t.Errorf("help documents %q, which is no command", d.name)
		}
		var inSynopsis []string
		for _, m := range regexp.MustCompile(`--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(d.synopsis, -1) {
			if !slices.Contains(inSynopsis, m[1]) {
				inSynopsis = append(inSynopsis, m[1])
			}
		}
		var inFlagSet []string
		if fs := commandFlags(context.Background(), d.name); fs != nil {
			fs.VisitAll(func(f *flag.Flag) { inFlagSet = append(inFlagSet, f.Name) })
		}
		slices.Sort(inSynopsis)
		if !slices.Equal(inSynopsis, inFlagSet) {
			t.Errorf("%s: the synopsis names flags %q, the command parses %q", d.name, inSynopsis, inFlagSet)
		}
	}
	for name := range adminCommands {
		if !slices.Contains(documented, name) {
			t.Errorf("command %q has no help (commandDocs in help.go)", name)
		}
	}
}

// TestCLIUnknownCommand: an unknown command says so and suggests the
// nearest, if one is near.
func TestCLIUnknownCommand(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args    []string
		suggest string // "" for none
	}{
		{[]string{"sevre"}, "serve"},
		{[]string{"serv"}, "serve"},
		{[]string{"usr", "create", "x"}, "user"},
		{[]string{"queue", "lst"}, "queue list"},
		{[]string{"queue", "shwo", "ID"}, "queue show"},
		{[]string{"apikey", "revok", "ID"}, "apikey revoke"},
		{[]string{"domain", "rotate"}, "domain rotate-dkim"},
		{[]string{"verison"}, "version"},
		{[]string{"frobnicate"}, ""},
		{[]string{"queue", "explode"}, ""},
	}
	for _, tc := range tests {
		code, out, errOut := c.run(nil, append([]string{"--config", c.config}, tc.args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, "unknown command") {
			t.Errorf("postern %v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
			continue
		}
		hint := `did you mean "` + tc.suggest + `"?`
		if tc.suggest != "" && !strings.Contains(errOut, hint) {
			t.Errorf("postern %v: %q lacks %s", tc.args, errOut, hint)
		}
		if tc.suggest == "" && strings.Contains(errOut, "did you mean") {
			t.Errorf("postern %v: suggests something: %q", tc.args, errOut)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"serve", "serve", 0}, {"sevre", "serve", 1}, {"serv", "serve", 1},
		{"list", "lst", 1}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"ca", "abc", 3},
	}
	for _, tc := range tests {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestCLIVersion: "postern version" and "--version", without a config.
func TestCLIVersion(t *testing.T) {
	c := newCLI(t)
	missing := []string{"POSTERN_CONFIG=" + filepath.Join(t.TempDir(), "no-such.toml")}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, errOut := c.run(missing, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "postern ") || !strings.Contains(out, runtime.Version()) {
			t.Errorf("postern %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// TestCLIMissingDataDir (issue 11): an admin command against a data
// directory that does not exist says so, exits 1 and creates nothing;
// user create, the first command of an installation, says where it
// creates one, but not for a mistyped try; serve logs that it starts a
// new installation.
func TestCLIMissingDataDir(t *testing.T) {
	c := newCLI(t)
	data := filepath.Join(filepath.Dir(c.config), "data")
	cfg := []string{"--config", c.config}
	for _, args := range [][]string{{"queue", "list"}, {"user", "list"}, {"apikey", "create", "--user", "acme"}, {"queue", "show", "x"}} {
		code, out, errOut := c.run(nil, append(cfg, args...)...)
		want := "postern: no Postern data in " + data + " (it does not exist): wrong directory or --config?\n"
		if code != 1 || out != "" || errOut != want {
			t.Errorf("postern %v: exit %d, stdout %q, stderr %q; want exit 1, %q", args, code, out, errOut, want)
		}
	}
	if code, _, errOut := c.run(nil, append(cfg, "user", "create")...); code != 2 || !strings.Contains(errOut, "usage: postern user create NAME") {
		t.Errorf("user create without a name: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("the data directory was created: %v", err)
	}
	code, _, errOut := c.run(nil, append(cfg, "user", "create", "acme")...)
	if code != 0 || !strings.Contains(errOut, "no Postern data in "+data+" (it does not exist): creating a new installation there") ||
		!strings.Contains(errOut, "created account acme") {
		t.Fatalf("first user create: exit %d, stderr %q", code, errOut)
	}
	// From now on, no word of it.
	code, _, errOut = c.run(nil, append(cfg, "user", "create", "beta")...)
	if code != 0 || strings.Contains(errOut, "no Postern data") {
		t.Errorf("second user create: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := c.run(nil, append(cfg, "user", "list")...); code != 0 || !strings.Contains(out, "acme") {
		t.Errorf("user list: exit %d, %q %q", code, out, errOut)
	}

	// A directory that exists without a database says what is missing.
	empty := t.TempDir()
	code, _, errOut = c.run([]string{"POSTERN_DATA_DIR=" + empty}, append(cfg, "queue", "list")...)
	if code != 1 || !strings.Contains(errOut, "no Postern data in "+empty+" (no postern.db there)") {
		t.Errorf("empty directory: exit %d, %q", code, errOut)
	}

	// serve (app.Open with its log) says it starts a new installation.
	conf, err := config.Load(c.config, []string{"POSTERN_DATA_DIR=" + filepath.Join(t.TempDir(), "new")})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	a, err := app.Open(context.Background(), conf, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if !strings.Contains(log.String(), `msg="no data yet: starting a new installation"`) {
		t.Errorf("serve's log: %q", log.String())
	}
}
