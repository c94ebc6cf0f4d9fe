package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// readmeBlock returns the first indented command block after the README
// heading, its continuation lines joined.
func readmeBlock(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q", heading)
	}
	var lines []string
	in := false
	for _, l := range strings.Split(rest, "\n") {
		switch {
		case strings.HasPrefix(l, "    "):
			in = true
			l = strings.TrimSpace(l)
			if n := len(lines); n > 0 && strings.HasSuffix(lines[n-1], `\`) {
				lines[n-1] = strings.TrimSuffix(lines[n-1], `\`) + " " + l
			} else {
				lines = append(lines, l)
			}
		case in:
			return lines
		}
	}
	return lines
}

// readmeScript turns README command lines into a shell script for a
// running instance: "go run ./cmd/postern" is the built binary (its
// config in POSTERN_CONFIG), the listeners' fixed ports the instance's,
// and an ID placeholder the id the walk-through just made.
func readmeScript(t *testing.T, in *instance, lines []string) string {
	t.Helper()
	_, port, _ := strings.Cut(in.addr("submission"), ":")
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, l := range lines {
		l = strings.ReplaceAll(l, "go run ./cmd/postern-load", `"$LOAD_BIN" -addr `+in.addr("submission"))
		l = strings.ReplaceAll(l, "go run ./cmd/postern", `"$BIN"`)
		l = strings.ReplaceAll(l, "--port 2525", "--port "+port)
		switch {
		case strings.Contains(l, "queue show ID"):
			b.WriteString(`ID=$("$BIN" queue list --user shop | head -n1 | cut -d' ' -f1)` + "\n")
		case strings.Contains(l, "apikey revoke ID"):
			b.WriteString(`ID=$(echo "$KEY" | cut -d_ -f2)` + "\n")
		}
		l = regexp.MustCompile(`(queue show|apikey revoke) ID\b`).ReplaceAllString(l, `$1 "$$ID"`)
		b.WriteString(l + "\n")
	}
	return b.String()
}

// runScript runs script with sh in the instance's directory, where
// postern-data is its data directory, as the README's reader would.
func runScript(t *testing.T, in *instance, script string, env ...string) string {
	t.Helper()
	if err := os.Symlink(filepath.Join(in.dir, "data"), filepath.Join(in.dir, "postern-data")); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = in.dir
	cmd.Env = append(cleanEnv(), append([]string{"POSTERN_CONFIG=" + in.config, "BIN=" + in.bin}, env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's commands failed: %v\n%s\n%s", err, script, out.String())
	}
	return out.String()
}

// TestREADMEUsingIt (issue 11): the "Using it" walk-through works when
// followed exactly: shop's key sends as acme's shared domain, over
// STARTTLS verified against the generated certificate; the queue shows
// the message; the key is revoked.
func TestREADMEUsingIt(t *testing.T) {
	needPeer(t, "swaks")
	in := newInstance(t, 0)
	in.start()
	lines := readmeBlock(t, "## Using it")
	if len(lines) < 8 || !strings.Contains(strings.Join(lines, "\n"), "swaks") {
		t.Fatalf("the walk-through is gone: %q", lines)
	}
	out := runScript(t, in, readmeScript(t, in, lines))
	for _, want := range []string{"250 2.0.0 Ok: queued as", "created subuser shop of acme", "revoked API key", "attempts:"} {
		if !strings.Contains(out, want) {
			t.Errorf("the walk-through's output lacks %q:\n%s", want, out)
		}
	}
	if list := in.mustCLI("apikey", "list", "--user", "shop"); !strings.Contains(list, "revoked") {
		t.Errorf("apikey list after the walk-through: %q", list)
	}
	in.stop()
}

// TestREADMELoadGenerator (issue 11): the load generator recipe works
// as written (its user has a verified sender); the server is the
// instance's, whose DNS sends example.test to a sink.
func TestREADMELoadGenerator(t *testing.T) {
	in := newInstance(t, 0)
	in.start()
	lines := readmeBlock(t, "## Load generator")
	if len(lines) < 3 || !strings.Contains(lines[0], "serve &") {
		t.Fatalf("the recipe is not what this test knows: %q", lines)
	}
	// The same recipe, smaller: what it proves is that every message is
	// accepted, not how fast (the race-built binary is slow).
	last := len(lines) - 1
	if !strings.Contains(lines[last], " -c 16 -n 200") {
		t.Fatalf("the recipe's last line is not what this test knows: %q", lines[last])
	}
	lines[last] = strings.Replace(lines[last], " -c 16 -n 200", " -c 4 -n 10", 1)
	load := postLoadBinary(t)
	out := runScript(t, in, readmeScript(t, in, lines[1:]), "LOAD_BIN="+load)
	if !regexp.MustCompile(`sent 40 accepted 40 failed 0 `).MatchString(out) {
		t.Errorf("postern-load did not get every message accepted:\n%s", out)
	}
	in.stop()
}

var (
	loadOnce sync.Once
	loadPath string
	loadErr  error
)

// postLoadBinary builds cmd/postern-load once per test process.
func postLoadBinary(t *testing.T) string {
	t.Helper()
	loadOnce.Do(func() {
		dir, err := os.MkdirTemp("", "postern-load-bin-")
		if err != nil {
			loadErr = err
			return
		}
		loadPath = filepath.Join(dir, "postern-load")
		if out, err := exec.Command("go", "build", "-o", loadPath, "../postern-load").CombinedOutput(); err != nil {
			loadErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loadPath
}

// TestREADMETrustPython (issue 11): the README's Python snippet for
// trusting the generated certificate sends a message, verifying the
// certificate, as written (the key, the message and the instance's port
// filled in).
func TestREADMETrustPython(t *testing.T) {
	python := needPeer(t, "python3")
	in := newInstance(t, 0)
	in.start()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "### Trusting the generated certificate\n")
	_, rest, ok2 := strings.Cut(rest, "```python\n")
	snippet, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 || !strings.Contains(snippet, "selfsigned-cert.pem") {
		t.Fatalf("the README's Python snippet is gone")
	}
	in.mustCLI("user", "create", "acme")
	in.trust("acme", "example.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme"))
	_, port, _ := strings.Cut(in.addr("submission"), ":")
	snippet = strings.NewReplacer("2525", port, "app@example.com", "app@example.test", "someone@example.net", "someone@example.test").Replace(snippet)
	script := fmt.Sprintf("key = %q\nmessage = %q\n", key, plainBody("app@example.test", "trusted"))
	script += snippet
	if err := os.Symlink(filepath.Join(in.dir, "data"), filepath.Join(in.dir, "postern-data")); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", script)
	cmd.Dir = in.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's Python snippet: %v\n%s", err, out)
	}
	waitFor(t, "the message in the queue", func() bool {
		return strings.Contains(in.mustCLI("queue", "list", "--user", "acme"), "someone@example.test")
	})
}
