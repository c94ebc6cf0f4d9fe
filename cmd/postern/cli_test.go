package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/store"
)

// cliEnv runs the CLI in-process against a fresh data directory.
type cliEnv struct {
	t      *testing.T
	config string
}

func newCLI(t *testing.T) *cliEnv {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "postern.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("data_dir = %q\n", filepath.Join(dir, "data"))), 0o600); err != nil {
		t.Fatal(err)
	}
	return &cliEnv{t: t, config: cfg}
}

func (c *cliEnv) run(env []string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, env, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIUsersAndKeys(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	steps := []struct {
		args        []string
		code        int
		out, errOut string // substrings expected ("" = anything)
	}{
		{[]string{"user", "create", "acme"}, 0, "", "created account acme"},
		// --config after the subcommand works too.
		{[]string{"user", "create", "shop", "--parent", "acme", "--config", c.config}, 0, "", "created subuser shop of acme"},
		{[]string{"user", "create", "acme"}, 1, "", `user "acme" already exists`},
		{[]string{"user", "create", "x", "--parent", "nobody"}, 1, "", "not found"},
		{[]string{"user", "create", "Bad Name"}, 1, "", ""},
		{[]string{"user", "create", "apikey"}, 1, "", ""},
		{[]string{"user", "create"}, 2, "", "usage"},
		{[]string{"user", "list"}, 0, "acme", ""},
		{[]string{"apikey", "create", "--user", "nobody"}, 1, "", "not found"},
		{[]string{"apikey", "create", "--user", "acme", "--scopes", "mail.send,bogus.scope"}, 1, "", "bogus.scope"},
		{[]string{"apikey", "create"}, 2, "", "--user"},
		{[]string{"apikey", "revoke", "aaaaaaaaaaaaaaaa"}, 1, "", "not found"},
		{[]string{"apikey", "list", "--user", "nobody"}, 1, "", "not found"},
		{[]string{"queue", "list"}, 0, "", ""},
		{[]string{"nonsense", "cmd"}, 2, "", "unknown command"},
		{[]string{"help"}, 0, "usage: postern", ""},
	}
	for _, s := range steps {
		args := s.args
		if !contains(args, "--config") {
			args = append(cfg, args...)
		}
		code, out, errOut := c.run(nil, args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errOut, s.errOut) {
			t.Errorf("postern %v: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", s.args, code, out, errOut, s.code, s.out, s.errOut)
		}
	}

	// apikey create: the key alone on stdout; details on stderr.
	code, out, errOut := c.run(nil, append(cfg, "apikey", "create", "--user", "shop", "--name", "ci", "--scopes", "mail.send,stats.read")...)
	if code != 0 || !keyRE.MatchString(out) {
		t.Fatalf("apikey create: exit %d stdout %q", code, out)
	}
	key := strings.TrimSpace(out)
	id := strings.Split(key, "_")[1]
	if strings.Contains(errOut, key) || !strings.Contains(errOut, id) {
		t.Errorf("stderr %q", errOut)
	}
	// apikey list, through POSTERN_CONFIG this time.
	code, out, _ = c.run([]string{"POSTERN_CONFIG=" + c.config}, "apikey", "list")
	if code != 0 || !strings.HasPrefix(out, id+" ") || strings.Contains(out, key) {
		t.Fatalf("apikey list: exit %d\n%s", code, out)
	}
	fields := strings.Fields(out)
	if fields[1] != "shop" || fields[2] != "ci" || fields[3] != "mail.send,stats.read" || fields[4] != "active" {
		t.Errorf("apikey list line %q", out)
	}
	// Revoking by the whole key works too, and never echoes it.
	code, _, errOut = c.run(nil, append(cfg, "apikey", "revoke", key)...)
	if code != 0 || strings.Contains(errOut, key) || !strings.Contains(errOut, "revoked API key "+id) {
		t.Fatalf("revoke: exit %d %q", code, errOut)
	}
	_, out, _ = c.run(nil, append(cfg, "apikey", "list", "--user", "shop")...)
	if !strings.Contains(out, "revoked") {
		t.Errorf("after revoke: %q", out)
	}
}

func TestCLIConfigErrors(t *testing.T) {
	c := newCLI(t)
	// Every problem is reported at once.
	code, _, errOut := c.run([]string{"POSTERN_SMTP_MAX_RECIPIENTS=0", "POSTERN_DELIVERY_PORT=70000"}, "--config", c.config, "user", "list")
	if code != 1 || !strings.Contains(errOut, "smtp.max_recipients") || !strings.Contains(errOut, "delivery.port") {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
	code, _, errOut = c.run([]string{"POSTERN_SMTP_NO_SUCH_KEY=1"}, "--config", c.config, "user", "list")
	if code != 1 || !strings.Contains(errOut, "POSTERN_SMTP_NO_SUCH_KEY") {
		t.Errorf("unknown variable: exit %d stderr %q", code, errOut)
	}
	code, _, errOut = c.run(nil, "--config", filepath.Join(t.TempDir(), "missing.toml"), "user", "list")
	if code != 1 || errOut == "" {
		t.Errorf("missing file: exit %d stderr %q", code, errOut)
	}
	code, _, _ = c.run(nil, "--config")
	if code != 2 {
		t.Errorf("--config without a file: exit %d", code)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCLIQueueAndSuppression(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	if code, _, errOut := c.run(nil, append(cfg, "user", "create", "acme")...); code != 0 {
		t.Fatal(errOut)
	}
	// A message put in the queue the way the server does.
	ctx := context.Background()
	a := openApp(t, c.config)
	u, _ := a.Store.UserByName(ctx, "acme")
	err := a.Store.EnqueueBatch(ctx, []store.NewMessage{{ID: "0abc", UserID: u.ID, KeyID: "k1", From: "app@acme.test",
		Recipients: []string{"a@x.test", "b@x.test"}, Body: []byte("Subject: x\r\n\r\nhi\r\n"), CreatedAt: time.Now()}})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"queue", "show", "0abc"}, 0, "state:    queued", ""},
		{[]string{"queue", "show", "nope"}, 1, "", "not found"},
		{[]string{"queue", "retry", "0abc"}, 0, "", "due now"},
		{[]string{"queue", "drop", "0abc"}, 0, "", "dropped"},
		{[]string{"queue", "drop", "0abc"}, 1, "", "not found"},
		{[]string{"queue", "retry", "0abc"}, 1, "", "not found"},
		{[]string{"suppression", "add", "Bad@Example.test", "--user", "acme", "--reason", "complained"}, 0, "", "bad@example.test"},
		{[]string{"suppression", "add", "bad@example.test", "--user", "acme"}, 1, "", "already exists"},
		{[]string{"suppression", "add", "not-an-address", "--user", "acme"}, 1, "", "not an email address"},
		{[]string{"suppression", "add", "x@example.test"}, 2, "", "--user"},
		{[]string{"suppression", "list", "--user", "acme"}, 0, "bad@example.test", ""},
		{[]string{"suppression", "list", "--user", "nobody"}, 1, "", "not found"},
		{[]string{"suppression", "remove", "bad@example.test", "--user", "acme"}, 0, "", "removed"},
		{[]string{"suppression", "remove", "bad@example.test", "--user", "acme"}, 1, "", "not found"},
	}
	for _, s := range steps {
		code, out, errOut := c.run(nil, append(cfg, s.args...)...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errOut, s.errOut) {
			t.Errorf("postern %v: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", s.args, code, out, errOut, s.code, s.out, s.errOut)
		}
	}
	_, show, _ := c.run(nil, append(cfg, "queue", "show", "0abc")...)
	for _, want := range []string{"state:    done", "a@x.test  dropped  dropped by the operator", "processed", "dropped"} {
		if !strings.Contains(show, want) {
			t.Errorf("queue show lacks %q:\n%s", want, show)
		}
	}
	_, list, _ := c.run(nil, append(cfg, "suppression", "list", "--user", "acme")...)
	if strings.TrimSpace(list) != "" {
		t.Errorf("list after remove: %q", list)
	}
}

func TestCLIAbuseControls(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	steps := []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"user", "create", "acme"}, 0, "", ""},
		{[]string{"user", "create", "shop", "--parent", "acme"}, 0, "", ""},
		{[]string{"ip", "allow", "192.0.2.7/24", "--user", "acme"}, 0, "", "allowed 192.0.2.0/24"},
		{[]string{"ip", "allow", "2001:db8::1", "--user", "acme"}, 0, "", "2001:db8::1/128"},
		{[]string{"ip", "allow", "192.0.2.0/24", "--user", "acme"}, 1, "", "already exists"},
		{[]string{"ip", "allow", "not-an-ip", "--user", "acme"}, 1, "", "not an IP address"},
		{[]string{"ip", "allow", "10.0.0.0/8", "--user", "shop"}, 1, "", "belong to the account"},
		{[]string{"ip", "list", "--user", "acme"}, 0, "192.0.2.0/24\n2001:db8::1/128\n", ""},
		{[]string{"ip", "remove", "192.0.2.0/24", "--user", "acme"}, 0, "", "removed"},
		{[]string{"ip", "remove", "192.0.2.0/24", "--user", "acme"}, 1, "", "not found"},
		{[]string{"user", "show", "shop"}, 0, "allowed from:     2001:db8::1/128 (the account acme's list)", ""},
		{[]string{"apikey", "create", "--user", "shop", "--allow-ip", "198.51.100.0/24,bad"}, 1, "", "not an IP address"},
		{[]string{"user", "suspend", "shop", "--reason", "spam complaints"}, 0, "", "suspended shop"},
		{[]string{"user", "show", "shop"}, 0, "spam complaints", ""},
		{[]string{"user", "resume", "shop"}, 0, "", "resumed"},
		{[]string{"user", "suspend", "nobody"}, 1, "", "not found"},
		{[]string{"user", "set", "shop", "--originating-ip", "off"}, 0, "", "off"},
		{[]string{"user", "show", "shop"}, 0, "x-originating-ip: off", ""},
		{[]string{"user", "set", "shop", "--originating-ip", "maybe"}, 2, "", "on or off"},
		{[]string{"user", "set", "shop", "--spam-threshold", "3.5"}, 0, "", "spam threshold 3.5"},
		{[]string{"user", "show", "shop"}, 0, "spam threshold:   3.5", ""},
		{[]string{"user", "set", "shop"}, 2, "", "needs"},
	}
	for _, s := range steps {
		code, out, errOut := c.run(nil, append(cfg, s.args...)...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errOut, s.errOut) {
			t.Errorf("postern %v: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", s.args, code, out, errOut, s.code, s.out, s.errOut)
		}
	}
	code, out, errOut := c.run(nil, append(cfg, "apikey", "create", "--user", "shop", "--allow-ip", "198.51.100.7, 2001:db8::/32")...)
	if code != 0 || !keyRE.MatchString(out) || !strings.Contains(errOut, "198.51.100.7/32, 2001:db8::/32") {
		t.Fatalf("apikey create --allow-ip: %d %q %q", code, out, errOut)
	}
	_, list, _ := c.run(nil, append(cfg, "apikey", "list", "--user", "shop")...)
	if !strings.Contains(list, "from=198.51.100.7/32,2001:db8::/32") {
		t.Errorf("apikey list: %q", list)
	}
}

func TestCLILimits(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	env := []string{"POSTERN_LIMITS_MESSAGES_PER_DAY=1000"}
	steps := []struct {
		args        []string
		code        int
		out, errOut string
	}{
		{[]string{"user", "create", "acme"}, 0, "", ""},
		{[]string{"limit", "set", "--user", "acme", "--per", "hour", "--messages", "100", "--recipients", "500"}, 0, "", "user acme: 100 messages and 500 recipients per hour"},
		{[]string{"limit", "set", "--user", "acme", "--per", "minute", "--messages", "5", "--mode", "hold"}, 0, "", "(hold)"},
		{[]string{"limit", "set", "--user", "nobody", "--per", "hour", "--messages", "1"}, 1, "", "not found"},
		{[]string{"limit", "set", "--key", "aaaaaaaaaaaaaaaa", "--per", "hour", "--messages", "1"}, 1, "", "not found"},
		{[]string{"limit", "set", "--user", "acme", "--per", "fortnight", "--messages", "1"}, 2, "", "--per"},
		{[]string{"limit", "set", "--user", "acme", "--key", "x", "--per", "hour"}, 2, "", "exactly one"},
		{[]string{"limit", "set", "--user", "acme", "--per", "hour", "--mode", "maybe"}, 2, "", "--mode"},
		{[]string{"limit", "list"}, 0, "default  *     day     1000  unlimited  reject", ""},
		{[]string{"limit", "list"}, 0, "user     acme  hour    100   500        reject", ""},
		{[]string{"user", "show", "acme"}, 0, "this hour    0 messages, 0 recipients", ""},
	}
	for _, s := range steps {
		code, out, errOut := c.run(env, append(cfg, s.args...)...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errOut, s.errOut) {
			t.Errorf("postern %v: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", s.args, code, out, errOut, s.code, s.out, s.errOut)
		}
	}
}

// TestCLISenders: sender add queues a confirmation mail (from <>) holding a
// code; sender confirm with that code verifies the address; a wrong code
// does not; --verified is the operator's shortcut.
func TestCLISenders(t *testing.T) {
	c := newCLI(t)
	cfg := []string{"--config", c.config}
	run := func(args ...string) (int, string, string) { return c.run(nil, append(cfg, args...)...) }
	run("user", "create", "acme")
	code, _, errOut := run("sender", "add", "Me@Mailbox.test", "--user", "acme")
	if code != 0 || !strings.Contains(errOut, "confirmation code was sent to me@mailbox.test") {
		t.Fatalf("sender add: %d %q", code, errOut)
	}
	conf, _ := config.Load(c.config, nil)
	a, err := app.Open(context.Background(), conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := a.Store.Messages(context.Background())
	if len(msgs) != 1 || msgs[0].From != "" || msgs[0].Recipients[0] != "me@mailbox.test" {
		t.Fatalf("confirmation mail %+v", msgs)
	}
	body, _ := a.Store.MessageBody(context.Background(), msgs[0].ID)
	a.Close()
	m := regexp.MustCompile(`postern sender confirm ([A-Z2-7]{32})`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no code in:\n%s", body)
	}
	if code, _, errOut := run("sender", "confirm", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); code != 1 || !strings.Contains(errOut, "unknown or expired") {
		t.Fatalf("wrong code: %d %q", code, errOut)
	}
	if _, out, _ := run("sender", "list"); !strings.Contains(out, "pending until") {
		t.Fatalf("list before confirm: %q", out)
	}
	if code, _, errOut := run("sender", "confirm", strings.ToLower(string(m[1]))); code != 0 || !strings.Contains(errOut, "now a verified sender of acme") {
		t.Fatalf("confirm: %d %q", code, errOut)
	}
	if code, _, _ := run("sender", "confirm", string(m[1])); code != 1 {
		t.Fatal("a code confirmed twice")
	}
	run("sender", "add", "ops@internal.test", "--user", "acme", "--verified")
	_, out, _ := run("sender", "list", "--user", "acme")
	if !regexp.MustCompile(`me@mailbox.test +acme +verified 20`).MatchString(out) || !strings.Contains(out, "verified (operator)") {
		t.Fatalf("list: %q", out)
	}
}

// The records domain add prints follow the config: the SPF include and
// sending addresses, the return-path host and label.
func TestCLIDomainRecordsFromConfig(t *testing.T) {
	c := newCLI(t)
	env := []string{"POSTERN_HOSTNAME=mail.postern.test", "POSTERN_DOMAINS_SPF_INCLUDE=_spf.postern.test",
		"POSTERN_DOMAINS_SPF_IPS=192.0.2.25,2001:db8::25", "POSTERN_DOMAINS_RETURN_PATH_HOST=bounces.postern.test",
		"POSTERN_DOMAINS_RETURN_PATH_LABEL=rp"}
	cfg := []string{"--config", c.config}
	c.run(env, append(cfg, "user", "create", "acme")...)
	code, zone, errOut := c.run(env, append(cfg, "domain", "add", "acme.test", "--user", "acme")...)
	if code != 0 {
		t.Fatalf("domain add: %d %s", code, errOut)
	}
	for _, want := range []string{
		`acme.test. 3600 IN TXT "v=spf1 include:_spf.postern.test ip4:192.0.2.25 ip6:2001:db8::25 ~all"`,
		`rp.acme.test. 3600 IN MX 10 bounces.postern.test.`,
		`rp.acme.test. 3600 IN TXT "v=spf1 include:_spf.postern.test ip4:192.0.2.25 ip6:2001:db8::25 -all"`,
		`_dmarc.acme.test. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@acme.test"`,
	} {
		if !strings.Contains(zone, want) {
			t.Errorf("missing %s in:\n%s", want, zone)
		}
	}
	// Without SPF settings no SPF record is advised, and the return path
	// goes to hostname with the default label.
	code, zone, _ = c.run([]string{"POSTERN_HOSTNAME=mail.postern.test"}, append(cfg, "domain", "add", "beta.test", "--user", "acme")...)
	if code != 0 || strings.Contains(zone, "v=spf1") || !strings.Contains(zone, "pst-bounces.beta.test. 3600 IN MX 10 mail.postern.test.") {
		t.Fatalf("defaults: %d\n%s", code, zone)
	}
	// domain show has the records and the history; share is recorded too.
	c.run(nil, append(cfg, "domain", "share", "beta.test")...)
	code, show, _ := c.run([]string{"POSTERN_HOSTNAME=mail.postern.test"}, append(cfg, "domain", "show", "beta.test")...)
	if code != 0 || !strings.Contains(show, "state:     pending") || !strings.Contains(show, "shared:    true") ||
		!regexp.MustCompile(`(?m)^  \S+\s+added\s+for acme`).MatchString(show) || !regexp.MustCompile(`(?m)^  \S+\s+shared\s+`).MatchString(show) ||
		!strings.Contains(show, "_domainkey.beta.test.") {
		t.Fatalf("domain show: %d\n%s", code, show)
	}
	if !strings.Contains(show, "return path: not published") {
		t.Fatalf("domain show before the return path: %s", show)
	}
	if code, _, _ := c.run(nil, append(cfg, "domain", "verify", "beta.test", "--return-path")...); code != 2 {
		t.Fatalf("--return-path without --trust: exit %d, want 2", code)
	}
	if code, _, errOut := c.run(nil, append(cfg, "domain", "verify", "beta.test", "--trust", "--return-path")...); code != 0 || !strings.Contains(errOut, "per-recipient senders at pst-bounces.beta.test") {
		t.Fatalf("trust with return path: %d %q", code, errOut)
	}
	_, show, _ = c.run(nil, append(cfg, "domain", "show", "beta.test")...)
	if !strings.Contains(show, "state:     trusted") || !strings.Contains(show, "return path: published") || !strings.Contains(show, "its return-path MX too") {
		t.Fatalf("domain show after trust: %s", show)
	}
	if code, _, errOut := c.run(env, append(cfg, "domain", "show", "nope.test")...); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("unknown domain: %d %q", code, errOut)
	}
}
