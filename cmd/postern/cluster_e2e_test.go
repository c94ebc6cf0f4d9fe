package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/store"
	"github.com/postern/postern/internal/store/postgres"
	"github.com/postern/postern/internal/testenv"
)

// newClusterNode writes the config of one node of a cluster: the store is
// the PostgreSQL database dsn, shared by every node; data_dir (its TLS
// certificate) is the node's own. d is the DNS server all nodes share,
// deliveryPort the receiver's port, hostname the node's name in its banner,
// EHLO and Received. extra lines are added to the [delivery] section.
func newClusterNode(t *testing.T, dsn string, d *testenv.DNSServer, hostname string, deliveryPort int, extra ...string) *instance {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "postern.toml")
	toml := fmt.Sprintf(`hostname = %q
data_dir = %q
[store]
driver = "postgres"
dsn    = %q
[smtp]
submission  = ["127.0.0.1:0"]
submissions = ["127.0.0.1:0"]
mx          = ["127.0.0.1:0"]
shutdown_timeout = "20s"
[http]
listen = "127.0.0.1:0"
[dns]
resolver = %q
[delivery]
port = %d
retry_first = "1s"
allow_private_networks = true
%s
`, hostname, filepath.Join(dir, "data"), dsn, d.Addr, deliveryPort, strings.Join(extra, "\n"))
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &instance{t: t, bin: posternBinary(t), dir: dir, config: cfg, dns: d,
		certPEM: filepath.Join(dir, "data", "selfsigned-cert.pem")}
}

// tlsConfig trusts the node's generated certificate (after start).
func (in *instance) tlsConfig() *tls.Config {
	in.t.Helper()
	pem, err := os.ReadFile(in.certPEM)
	if err != nil {
		in.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// slowRelay listens on a loopback port and relays each connection to
// target, the server's bytes each held back by delay; it returns the port.
func slowRelay(t *testing.T, target string, delay time.Duration) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() {
					io.Copy(s, c)
					s.Close()
				}()
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return portOf(t, ln.Addr().String())
}

// postfixCopy is one message in Postfix's Maildir.
type postfixCopy struct {
	ehlo string    // the name the delivering Postern gave in EHLO (Postfix's Received: from)
	at   time.Time // when Postfix wrote it to the Maildir, after its 250 to Postern
	raw  []byte
}

var (
	clusterMarkerRE = regexp.MustCompile(`cluster-marker-[0-9]{6}`)
	postfixFromRE   = regexp.MustCompile(`(?m)^Received: from (\S+) \(`)
	postfixIDRE     = regexp.MustCompile(`by postfix\.test \(Postfix\) with \S+ id (\w+)`)
	postfixQueuedRE = regexp.MustCompile(`queued as (\w+)`)
)

// postfixID is the queue id Postfix gave the copy (in its Received
// header), which its 250 to Postern quoted.
func (c postfixCopy) postfixID() string {
	if m := postfixIDRE.FindSubmatch(c.raw); m != nil {
		return string(m[1])
	}
	return ""
}

// postfixCopies reads the Maildir: the copies of each marker, in the order
// Postfix wrote them.
func postfixCopies(t *testing.T, pf *testenv.Postfix) map[string][]postfixCopy {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(pf.Maildir, "new", "*"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]postfixCopy{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		marker := clusterMarkerRE.Find(raw)
		if marker == nil {
			t.Errorf("a message without a marker in Postfix's Maildir:\n%s", raw)
			continue
		}
		c := postfixCopy{at: fi.ModTime(), raw: raw}
		if m := postfixFromRE.FindSubmatch(raw); m != nil {
			c.ehlo = string(m[1])
		}
		out[string(marker)] = append(out[string(marker)], c)
	}
	for _, cs := range out {
		sort.Slice(cs, func(i, j int) bool { return cs[i].at.Before(cs[j].at) })
	}
	return out
}

// clusterAck is one message a node acknowledged with 250.
type clusterAck struct {
	marker string
	node   string // "A" or "B"
}

// TestClusterNodeKilledMidDelivery runs two nodes on one PostgreSQL
// database, delivering to one real Postfix. Senders submit to both; node A
// is killed with SIGKILL while mail is being submitted and delivered, B
// goes on. Every message either node acknowledged reaches Postfix: the ones
// A had claimed and not finished come due again when their lease
// (delivery.claim_lease, the next attempt saved at the claim) runs out, and
// B delivers them and records them done. A duplicate delivery is allowed only for a message A had
// handed to Postfix and not yet recorded when it died (at most one: A has
// one connection): tried at least twice, once by A, once by B after A died.
func TestClusterNodeKilledMidDelivery(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	pf := testenv.StartPostfix(t, "example.test")
	d := testenv.StartDNS(t)
	d.Add("example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.1")
	// One connection per node to Postfix, and A's through a relay that
	// holds each of Postfix's replies back a little: A delivers slower
	// than mail comes in, so it always holds claimed messages not yet
	// delivered (up to its in-flight limit, 100), and dies with them. The
	// claim lease is short, so that B takes those over within seconds, and
	// still well above the time A takes to work through its claims (a few
	// seconds): a lease shorter than an attempt lets another node take a
	// message over while it is being delivered (docs/cluster.md), which is
	// not what this tests.
	lease := `claim_lease = "20s"`
	nodeA := newClusterNode(t, dsn, d, "a.postern.test", slowRelay(t, pf.Addr, 15*time.Millisecond), "per_destination = 1", lease)
	nodeB := newClusterNode(t, dsn, d, "b.postern.test", portOf(t, pf.Addr), "per_destination = 1", lease)
	nodeA.start()
	nodeB.start()
	// The accounts live in the shared database: created through A, used on B.
	nodeA.mustCLI("user", "create", "acme")
	nodeA.trust("acme", "example.test")
	key := strings.TrimSpace(nodeA.mustCLI("apikey", "create", "--user", "acme"))
	if list := nodeB.mustCLI("user", "list"); !strings.Contains(list, "acme") {
		t.Fatalf("node B does not see the user created through A:\n%s", list)
	}

	type node struct {
		name string
		tls  *tls.Config
		addr string
	}
	nodes := []node{
		{"A", nodeA.tlsConfig(), nodeA.addr("submissions")},
		{"B", nodeB.tlsConfig(), nodeB.addr("submissions")},
	}

	var mu sync.Mutex
	acked := map[string]clusterAck{} // queue id → marker and node
	killed := false
	ackedAfterKill := 0
	var seq int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 8
	for w := 0; w < workers; w++ {
		n := nodes[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := smtp.DialTLS(n.addr, n.tls)
				if err != nil {
					if n.name == "B" {
						t.Errorf("node B: dial: %v", err)
					}
					return // A is gone
				}
				if err := c.Auth(sasl.NewPlainClient("", "apikey", key)); err != nil {
					c.Close()
					if n.name == "B" {
						t.Errorf("node B: auth: %v", err)
					}
					return
				}
				for sent := 0; sent < 20; sent++ { // a new connection now and then
					select {
					case <-stop:
						c.Quit()
						return
					default:
					}
					mu.Lock()
					seq++
					marker := fmt.Sprintf("cluster-marker-%06d", seq)
					mu.Unlock()
					text, err := sendOne(c, marker)
					var se *smtp.SMTPError
					if errors.As(err, &se) {
						t.Errorf("node %s refused: %v", n.name, err)
						c.Close()
						return
					}
					if err != nil {
						c.Close()
						if n.name == "B" {
							t.Errorf("node B: %v", err)
							return
						}
						break // A killed mid-transaction: not acknowledged
					}
					m := ackRE.FindStringSubmatch(text)
					if m == nil {
						t.Errorf("250 without id: %q", text)
						c.Close()
						return
					}
					mu.Lock()
					acked[m[1]] = clusterAck{marker: marker, node: n.name}
					if killed {
						ackedAfterKill++
					}
					mu.Unlock()
				}
				c.Quit()
			}
		}()
	}

	// Kill A once mail flows through both nodes and into Postfix.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		var onA, onB int
		for _, a := range acked {
			if a.node == "A" {
				onA++
			} else {
				onB++
			}
		}
		mu.Unlock()
		msgs, _ := filepath.Glob(filepath.Join(pf.Maildir, "new", "*"))
		if onA >= 100 && onB >= 100 && len(msgs) >= 100 {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("mail did not flow: %d acked on A, %d on B, %d at Postfix\nA:\n%s\nB:\n%s\n%s",
				onA, onB, len(msgs), nodeA.log.String(), nodeB.log.String(), pf.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	killAt := time.Now()
	nodeA.kill()
	mu.Lock()
	killed = true
	mu.Unlock()
	// B goes on taking mail for a while, then the senders stop.
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var onA, onB int
	for _, a := range acked {
		if a.node == "A" {
			onA++
		} else {
			onB++
		}
	}
	if ackedAfterKill == 0 {
		t.Errorf("node B acknowledged nothing after A was killed")
	}

	// Every acknowledged message reaches Postfix, and B records each as
	// done (A's unfinished ones included).
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var copies map[string][]postfixCopy
	var missing, notDone []string
	deadline = time.Now().Add(120 * time.Second)
	for {
		copies = postfixCopies(t, pf)
		missing, notDone = missing[:0], notDone[:0]
		for id, a := range acked {
			if len(copies[a.marker]) == 0 {
				missing = append(missing, a.marker)
				continue
			}
			m, err := st.Message(ctx, id)
			if err != nil {
				t.Fatalf("message %s: %v", id, err)
			}
			if m.State != store.StateDone {
				notDone = append(notDone, id)
			}
		}
		if len(missing)+len(notDone) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	drained := time.Now()
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d acknowledged messages never reached Postfix, e.g. %v\nB's log:\n%s",
			len(missing), len(acked), missing[:min(5, len(missing))], nodeB.log.String())
	}
	if len(notDone) > 0 {
		t.Errorf("%d delivered messages are not done in the store, e.g. %v", len(notDone), notDone[:min(5, len(notDone))])
	}

	// Duplicates. The one the kill can cause is a message A handed to
	// Postfix and died before recording (A's copy has no "delivered" event,
	// whose detail quotes Postfix's queue id); it came due when its lease
	// ran out and B delivered it again: tried twice, the second copy from B
	// after the kill. A has one connection to Postfix (per_destination =
	// 1), and records each message before it sends the next, so at most
	// one is delivered-but-unrecorded at the kill. Any other duplicate —
	// a copy recorded by the node that sent it and sent again anyway, or
	// two copies from one node — is not explained by the kill.
	byMarker := map[string]string{}
	for id, a := range acked {
		byMarker[a.marker] = id
	}
	killDups, otherDups, takenOver, retried := 0, 0, 0, 0
	for marker, cs := range copies {
		id, ok := byMarker[marker]
		if !ok {
			continue // accepted by A, which died before its 250 reached the client
		}
		m, err := st.Message(ctx, id)
		if err != nil {
			t.Fatalf("message %s: %v", id, err)
		}
		if m.Attempts >= 2 {
			retried++
			if acked[id].node == "A" {
				takenOver++
			}
		}
		if len(cs) < 2 {
			continue
		}
		evs, err := st.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		recorded := map[string]time.Time{} // Postfix queue id → when a node recorded that delivery
		for _, e := range evs {
			if e.Type == store.EventDelivered {
				if q := postfixQueuedRE.FindStringSubmatch(e.Detail); q != nil {
					recorded[q[1]] = e.At
				}
			}
		}
		var story []string
		for _, c := range cs {
			s := fmt.Sprintf("%s accepted by Postfix at kill%+v", c.ehlo, c.at.Sub(killAt).Round(time.Millisecond))
			if at, ok := recorded[c.postfixID()]; ok {
				s += fmt.Sprintf(", recorded at kill%+v", at.Sub(killAt).Round(time.Millisecond))
			} else {
				s += ", never recorded"
			}
			story = append(story, s)
		}
		if m.Attempts < 2 {
			t.Errorf("%s (%s) arrived %d times but was tried %d times: %v", marker, id, len(cs), m.Attempts, story)
		}
		_, aRecorded := recorded[cs[0].postfixID()]
		if len(cs) == 2 && cs[0].ehlo == "a.postern.test" && !aRecorded && cs[1].ehlo == "b.postern.test" && cs[1].at.After(killAt) {
			killDups++
			continue
		}
		otherDups += len(cs) - 1
		t.Errorf("%s (%s, acked on %s, %d attempts) was delivered %d times, not because of the kill: %s",
			marker, id, acked[id].node, m.Attempts, len(cs), strings.Join(story, "; "))
	}
	if retried == 0 {
		t.Errorf("no message was taken over from A: none needed a second attempt")
	}
	if killDups > 1 {
		t.Errorf("%d messages delivered by A and not recorded at the kill; A had one connection, so at most 1 was in flight", killDups)
	}
	t.Logf("acknowledged %d on A, %d on B (%d after A was killed); all at Postfix %s after the kill; "+
		"%d needed 2+ attempts (%d of them acked on A); duplicates: %d in flight at the kill, %d otherwise",
		onA, onB, ackedAfterKill, drained.Sub(killAt).Round(time.Millisecond), retried, takenOver, killDups, otherDups)
	nodeB.stop()
}

// TestStoreCopyThenServeOnPostgres moves an embedded instance to a
// cluster: a message queued (and deferred) on SQLite, copied with `store
// copy --to DSN`, is delivered by a node serving the PostgreSQL database,
// DKIM-signed with the domain's keys; the same API key sends a new
// message there, signed with the copied keys, and dkimpy verifies both.
func TestStoreCopyThenServeOnPostgres(t *testing.T) {
	swaks := needPeer(t, "swaks")
	// The embedded instance delivers to a closed port: every attempt is a
	// temporary failure (connection refused), so the message stays queued.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := portOf(t, ln.Addr().String())
	ln.Close()
	in := newInstance(t, closedPort)
	// A slower retry than newInstance's, so the copied message is due again
	// soon (5 s after its one attempt) rather than after the 30-minute floor
	// a third attempt would reach.
	conf, err := os.ReadFile(in.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in.config, []byte(strings.Replace(string(conf), `retry_first = "1s"`, `retry_first = "5s"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	in.start()
	in.mustCLI("user", "create", "acme")
	txt := in.publishDomain("acme", "acme.test")
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "app"))

	send := func(node *instance, subject string) string {
		t.Helper()
		host, port, _ := net.SplitHostPort(node.addr("submission"))
		out, err := exec.Command(swaks, "--server", host, "--port", port, "--tls", "-a", "PLAIN", "-au", "apikey", "-ap", key,
			"--from", "news@acme.test", "--to", "rcpt@example.test", "--h-From", "News <news@acme.test>",
			"--h-Subject", subject, "--body", "Body of "+subject+".").CombinedOutput()
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		m := ackRE.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("no queue id in:\n%s", out)
		}
		return m[1]
	}
	queued := send(in, "queued on sqlite")
	// Wait for its first attempt to fail, then stop the instance.
	deadline := time.Now().Add(60 * time.Second)
	for {
		show := in.mustCLI("queue", "show", queued)
		if strings.Contains(show, "attempts: 1\n") && strings.Contains(show, "deferred") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no deferred first attempt:\n%s\n%s", show, in.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	in.stop()
	show := in.mustCLI("queue", "show", queued)
	if !strings.Contains(show, "state:    queued") || !strings.Contains(show, "pending") {
		t.Fatalf("before the copy the message should be queued and pending:\n%s", show)
	}

	dsn := testenv.PostgresDSN(t)
	out, errOut, err := in.cli("store", "copy", "--to", dsn)
	if err != nil {
		t.Fatalf("store copy: %v\n%s", err, errOut)
	}
	counts := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		table, n, ok := strings.Cut(l, "\t")
		c, err := strconv.Atoi(n)
		if !ok || err != nil {
			t.Fatalf("store copy: line %q is not TABLE<TAB>ROWS:\n%s", l, out)
		}
		counts[table] = c
	}
	for table, want := range map[string]int{"users": 1, "api_keys": 1, "domains": 1, "messages": 1, "message_recipients": 1} {
		if got, ok := counts[table]; !ok || got != want {
			t.Errorf("store copy: %s: %d rows (listed: %v), want %d\n%s", table, got, ok, want, out)
		}
	}
	if counts["events"] < 1 || counts["secrets"] < 1 {
		t.Errorf("store copy: want the deferral's event and the secrets copied:\n%s", out)
	}
	if !strings.Contains(errOut, `store.driver = "postgres"`) {
		t.Errorf("store copy: stderr does not say what to do next: %q", errOut)
	}
	// A second copy into the now non-empty database is refused.
	if _, errOut, err := in.cli("store", "copy", "--to", dsn); err == nil || !strings.Contains(errOut, "not empty") {
		t.Errorf("a copy into a non-empty database: err %v, stderr %q", err, errOut)
	}

	pf := testenv.StartPostfix(t, "example.test")
	node := newClusterNode(t, dsn, in.dns, "mail.postern.test", portOf(t, pf.Addr))
	node.start()
	fresh := send(node, "sent on postgres")

	var got map[string][]byte
	deadline = time.Now().Add(90 * time.Second)
	for {
		msgs, err := pf.Messages()
		if err != nil {
			t.Fatal(err)
		}
		got = map[string][]byte{}
		for _, m := range msgs {
			for _, s := range []string{"queued on sqlite", "sent on postgres"} {
				if strings.Contains(string(m), "Subject: "+s) {
					got[s] = m
				}
			}
		}
		if len(got) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(got) != 2 {
		show1, _, _ := node.cli("queue", "show", queued)
		show2, _, _ := node.cli("queue", "show", fresh)
		t.Fatalf("%d of 2 messages arrived\n%s\n%s\npostfix:\n%s\nnode:\n%s", len(got), show1, show2, pf.Log(), node.log.String())
	}
	for subject, m := range got {
		if !strings.Contains(string(m), "by mail.postern.test (Postern) with ESMTPSA") {
			t.Errorf("%s: no Postern Received header:\n%s", subject, m)
		}
		if n := strings.Count(string(m), "DKIM-Signature:"); n != 2 {
			t.Fatalf("%s: %d signatures:\n%s", subject, n, m)
		}
		// dkimpy looks keys up only in acme.test's published records.
		verifyDKIM(t, m, txt, 2)
	}
	// The node records both as delivered.
	for _, id := range []string{queued, fresh} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			show := node.mustCLI("queue", "show", id)
			if strings.Contains(show, "state:    done") && strings.Contains(show, "delivered") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue show on the postgres node never says done:\n%s", show)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	node.stop()
}
