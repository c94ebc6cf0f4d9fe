package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/tlsconf"
)

// Postfix is a private Postfix instance receiving mail for Domains into
// one Maildir (PEERS.md: own config and queue directories, never the
// system's; every service unchrooted; a strict peer that refuses bare
// newlines and records the TLS version in its Received header).
type Postfix struct {
	Addr    string // 127.0.0.1:port of its smtpd
	Dir     string
	Maildir string // DIR/mail/inbox
	conf    string
}

// PostfixOptions configure a private Postfix instance (StartPostfixWith).
type PostfixOptions struct {
	// Domains are the virtual mailbox domains whose every address is
	// delivered to the one Maildir.
	Domains []string
	// Gone are recipient addresses that Postfix accepts at RCPT and then
	// fails to deliver (5.1.1 "mailbox gone"), so it sends an asynchronous
	// bounce (a DSN, RFC 3464, from MAIL FROM:<>) to the envelope sender:
	// the way a real receiver bounces after accepting. They are usually at
	// one of Domains. The DSN is multipart/report;
	// report-type=delivery-status, but when the message came with MAIL FROM
	// … SMTPUTF8 (Go's net/smtp adds it whenever it is offered) its parts
	// are the RFC 6533 ones: message/global-delivery-status and
	// message/global, not message/delivery-status and message/rfc822.
	Gone []string
	// Relay routes mail for these domains to host:port, which must be a
	// loopback address, without MX or any DNS lookup: e.g. the
	// return-path domain whose bounces must reach a server under test.
	// Postfix delivers there with SMTP and opportunistic STARTTLS (the
	// certificate is not verified).
	Relay map[string]string
}

// StartPostfix starts Postfix for the given domains on a free loopback
// port and stops it in t.Cleanup. It skips (or fails, when
// POSTERN_REQUIRE_PEERS=1) if Postfix is not installed or the test does
// not run as root.
func StartPostfix(t testing.TB, domains ...string) *Postfix {
	t.Helper()
	return StartPostfixWith(t, PostfixOptions{Domains: domains})
}

// StartPostfixWith is StartPostfix with bounces and relaying: see
// PostfixOptions. Its queue is retried every second or two, so deferred
// mail and bounces move within seconds.
func StartPostfixWith(t testing.TB, o PostfixOptions) *Postfix {
	t.Helper()
	bin, err := exec.LookPath("postfix")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/postfix"); err2 == nil {
			bin = "/usr/sbin/postfix"
		} else {
			NeedPeer(t, "postfix")
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("a private Postfix instance needs root")
	}
	pu, err := user.Lookup("postfix")
	if err != nil {
		t.Fatalf("no postfix user: %v", err)
	}
	dir, err := os.MkdirTemp("", "postern-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	// Postfix must traverse every parent directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Postfix{Dir: dir, conf: filepath.Join(dir, "conf"), Maildir: filepath.Join(dir, "mail", "inbox")}
	for _, d := range []string{"conf", "queue", "data", "mail"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(pu.Uid)
	gid, _ := strconv.Atoi(pu.Gid)
	for _, d := range []string{"data", "mail"} {
		if err := os.Chown(filepath.Join(dir, d), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	cert, key := filepath.Join(p.conf, "cert.pem"), filepath.Join(p.conf, "key.pem")
	if err := tlsconf.WriteSelfSigned(cert, key, "postfix.test", time.Now()); err != nil {
		t.Fatal(err)
	}
	// transport_maps: a texthash table needs no postmap. Gone addresses go
	// to the error transport: a hard failure in the queue, hence a bounce.
	// (smtpd would refuse them at RCPT, as it does any recipient resolving
	// to "error", but only under smtpd_reject_unlisted_recipient, which is
	// off below: with static virtual_mailbox_maps every address is listed
	// anyway.) Relayed domains go to their loopback host:port, in brackets
	// (no MX lookup).
	var transport strings.Builder
	for _, a := range o.Gone {
		fmt.Fprintf(&transport, "%s error:5.1.1 mailbox gone\n", strings.ToLower(a))
	}
	var relayDomains []string
	for d, hp := range o.Relay {
		host, rport, err := net.SplitHostPort(hp)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || rport == "" {
			t.Fatalf("postfix: relay for %s to %q: want a loopback ip:port", d, hp)
		}
		relayDomains = append(relayDomains, strings.ToLower(d))
		fmt.Fprintf(&transport, "%s smtp:[%s]:%s\n", strings.ToLower(d), host, rport)
	}
	sort.Strings(relayDomains)
	transportFile := filepath.Join(p.conf, "transport")
	if err := os.WriteFile(transportFile, []byte(transport.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
myhostname = postfix.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
virtual_mailbox_domains = %[2]s
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:%[3]d
virtual_gid_maps = static:%[4]d
smtpd_tls_cert_file = %[5]s
smtpd_tls_key_file = %[6]s
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
transport_maps = texthash:%[7]s
smtpd_reject_unlisted_recipient = no
relay_domains = %[8]s
smtp_dns_support_level = disabled
smtp_tls_security_level = may
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0
bounce_queue_lifetime = 1h
maximal_queue_lifetime = 1h
`, dir, strings.Join(o.Domains, ", "), uid, gid, cert, key, transportFile, strings.Join(relayDomains, ", "))
	master := fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd\n", port) + postfixServices
	if err := os.WriteFile(filepath.Join(p.conf, "main.cf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.conf, "master.cf"), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", p.conf, "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exec.Command(bin, "-c", p.conf, "stop").Run()
		os.RemoveAll(dir)
	})
	// Postfix starts in the background: wait for its port.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix did not listen on %s: %v\n%s", p.Addr, err, p.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

// Messages returns the delivered messages, oldest first.
func (p *Postfix) Messages() ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(p.Maildir, "new", "*"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Log returns Postfix's mail log.
func (p *Postfix) Log() string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "maillog"))
	return string(b)
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// NeedPeer skips when a peer program is missing, or fails when the run
// requires peers (CI sets POSTERN_REQUIRE_PEERS=1 after installing them).
func NeedPeer(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("POSTERN_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s is required but not installed (.ci/run installs it)", name)
	}
	t.Skipf("%s not installed; .ci/run installs it", name)
	return ""
}

// postfixServices is master.cf without the smtpd line, every service
// unchrooted (the private queue directory has no chroot files).
const postfixServices = `pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`
