package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/postern/postern/internal/testenv"
)

// TestSpamReportThroughPostfix (issue 15, "Spam complaints"): the built
// binary, a real Postfix as both the receiving MTA and the feedback
// loop's MTA, and the in-process DNS server, all on loopback. A message
// from a verified domain goes to alice and bob at Postfix, each with a
// return path of its own. Two complaints (ARF, RFC 5965) built around
// what Postfix delivered are then handed to Postfix by SMTP, as a
// mailbox provider's feedback loop would send them: alice's to her
// return path, the whole delivered message enclosed; bob's to Postern's
// configured feedback address, only the delivered header section
// enclosed. Postfix relays both to Postern's MX listener (its log says
// so, with Postern's reply), each becomes a spamreport event and a
// spam_report suppression of the sending user, the recipients stay
// delivered, and the next message to alice is dropped while carol's is
// delivered.
func TestSpamReportThroughPostfix(t *testing.T) {
	swaks := needPeer(t, "swaks")
	mxPort := freeLoopbackPort(t)
	mx := net.JoinHostPort("127.0.0.1", strconv.Itoa(mxPort))
	pf := testenv.StartPostfixWith(t, testenv.PostfixOptions{
		Domains: []string{"rcpt.test"},
		// The return-path subdomain's MX and the feedback address's
		// domain are Postern: Postfix is told its loopback port.
		Relay: map[string]string{"pst-bounces.acme.test": mx, "mail.postern.test": mx},
	})
	pfHost, pfPort, _ := net.SplitHostPort(pf.Addr)
	p, _ := strconv.Atoi(pfPort)
	in := newInstance(t, p, `feedback_address = "fbl@mail.postern.test"`)
	setMXPort(t, in, mxPort)
	in.dns.Add("rcpt.test. 300 IN MX 10 mx.rcpt.test.", "mx.rcpt.test. 300 IN A 127.0.0.1")
	in.start()

	in.mustCLI("user", "create", "acme")
	in.mustCLI("user", "create", "news", "--parent", "acme")
	zone := in.mustCLI("domain", "add", "acme.test", "--user", "acme")
	for _, l := range strings.Split(strings.TrimSpace(zone), "\n") {
		in.dns.Add(l)
	}
	if _, errOut, err := in.cli("domain", "verify", "acme.test"); err != nil || !strings.Contains(errOut, "return path published") {
		t.Fatalf("domain verify: %v\n%s", err, errOut)
	}
	key := strings.TrimSpace(in.mustCLI("apikey", "create", "--user", "acme", "--name", "admin", "--scopes", "full"))
	host, subPort, _ := net.SplitHostPort(in.addr("submission"))
	send := func(to, subject string) string {
		t.Helper()
		out, err := exec.Command(swaks, "--server", host, "--port", subPort, "--tls", "-a", "PLAIN", "-au", "apikey", "-ap", key,
			"--from", "news@acme.test", "--h-From", "news@acme.test", "--to", to, "--h-Subject", subject).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		id := regexp.MustCompile(`queued as (\w+)`).FindSubmatch(out)
		if id == nil {
			t.Fatalf("no queue id in\n%s", out)
		}
		return string(id[1])
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out\npostern:\n%s\npostfix:\n%s", what, in.log.String(), pf.Log())
			}
			time.Sleep(300 * time.Millisecond)
		}
	}

	id := send("alice@rcpt.test,bob@rcpt.test", "Weekly deals")
	var delivered map[string][]byte // recipient → the message as Postfix delivered it
	waitFor("both delivered", func() bool {
		msgs, _ := pf.Messages()
		delivered = map[string][]byte{}
		for _, m := range msgs {
			if r := regexp.MustCompile(`(?m)^Delivered-To: (\S+)$`).FindSubmatch(m); r != nil {
				delivered[string(r[1])] = m
			}
		}
		return len(delivered) == 2
	})
	returnPath := func(rcpt string, idx int) string {
		t.Helper()
		rp := regexp.MustCompile(`(?m)^Return-Path: <(b-` + id + `-` + strconv.Itoa(idx) + `-[0-9]+-[a-z2-7]+@pst-bounces\.acme\.test)>`).FindSubmatch(delivered[rcpt])
		if rp == nil {
			t.Fatalf("%s: delivered without its VERP return path:\n%s", rcpt, delivered[rcpt])
		}
		return string(rp[1])
	}
	aliceRP := returnPath("alice@rcpt.test", 0)
	returnPath("bob@rcpt.test", 1) // bob's report names it only in what it encloses

	// The feedback loop's reports, given to Postfix like any mail.
	crlf := func(b []byte) []byte {
		return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	}
	hdr := func(m []byte) []byte { return m[:bytes.Index(m, []byte("\n\n"))+1] }
	arf := func(rcpt, partType string, enclosed []byte) []byte {
		return crlf([]byte("From: <staff@fbl.isp.test>\n" +
			"To: <abuse@acme.test>\n" +
			"Subject: FW: Weekly deals\n" +
			"Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\n" +
			"MIME-Version: 1.0\n" +
			"Content-Type: multipart/report; report-type=feedback-report;\n\tboundary=\"arf-b\"\n\n" +
			"--arf-b\nContent-Type: text/plain; charset=us-ascii\n\n" +
			"This is an email abuse report for an email message received from IP 127.0.0.1.\n\n" +
			"--arf-b\nContent-Type: message/feedback-report\n\n" +
			"Feedback-Type: abuse\nUser-Agent: ISP-FBL/2.0\nVersion: 1\n" +
			"Original-Rcpt-To: <" + rcpt + ">\n" +
			"Arrival-Date: " + time.Now().UTC().Format(time.RFC1123Z) + "\n" +
			"Reporting-MTA: dns; fbl.isp.test\nSource-IP: 127.0.0.1\n\n" +
			"--arf-b\nContent-Type: " + partType + "\n\n" + string(enclosed) + "\n" +
			"--arf-b--\n"))
	}
	dir := t.TempDir()
	submit := func(to string, report []byte) {
		t.Helper()
		file := filepath.Join(dir, strconv.FormatInt(time.Now().UnixNano(), 10)+".eml")
		if err := os.WriteFile(file, report, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(swaks, "--server", pfHost, "--port", pfPort, "--from", "<>", "--to", to, "--data", "@"+file).CombinedOutput()
		if err != nil {
			t.Fatalf("swaks to Postfix: %v\n%s", err, out)
		}
	}
	submit(aliceRP, arf("alice@rcpt.test", "message/rfc822", delivered["alice@rcpt.test"]))
	submit("fbl@mail.postern.test", arf("bob@rcpt.test", "text/rfc822-headers", hdr(delivered["bob@rcpt.test"])))

	sg := sgClient{t: t, base: "http://" + in.addr("http")}
	waitFor("both on the spam-report list", func() bool {
		_, arr := sg.must(200, key, "GET", "/v3/suppression/spam_reports", "", nil)
		got := fmt.Sprint(arr)
		return strings.Contains(got, "alice@rcpt.test") && strings.Contains(got, "bob@rcpt.test")
	})
	// Postfix relayed both to Postern's MX, which took each as one spam
	// report.
	for _, to := range []string{aliceRP, "fbl@mail.postern.test"} {
		re := regexp.MustCompile(`to=<` + regexp.QuoteMeta(to) + `>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + strconv.Itoa(mxPort) +
			`, .*status=sent \(250 .*report received for 1 recipient\(s\), 0 bounced, 1 spam report\(s\)\)`)
		if !re.MatchString(pf.Log()) {
			t.Errorf("Postfix did not relay the report to %s to Postern's MX:\n%s", to, pf.Log())
		}
	}
	if _, arr := sg.must(200, key, "GET", "/v3/suppression/bounces", "", nil); len(arr) != 0 {
		t.Errorf("bounces list: %v", arr)
	}
	list := in.mustCLI("suppression", "list", "--user", "acme")
	for _, rcpt := range []string{"alice@rcpt.test", "bob@rcpt.test"} {
		if !regexp.MustCompile(regexp.QuoteMeta(rcpt) + `\s.*spam report \(feedback-type abuse\) from fbl\.isp\.test \(ISP-FBL/2\.0\)`).MatchString(list) {
			t.Errorf("suppression list:\n%s", list)
		}
	}
	if other := in.mustCLI("suppression", "list", "--user", "news"); strings.TrimSpace(other) != "" {
		t.Errorf("another user's list: %q", other)
	}
	show := in.mustCLI("queue", "show", id)
	for _, rcpt := range []string{"alice@rcpt.test", "bob@rcpt.test"} {
		if !regexp.MustCompile(regexp.QuoteMeta(rcpt) + `\s+delivered`).MatchString(show) {
			t.Errorf("%s is no longer delivered:\n%s", rcpt, show)
		}
		if !regexp.MustCompile(`spamreport\s+` + regexp.QuoteMeta(rcpt) + `\s+spam report \(feedback-type abuse\)`).MatchString(show) {
			t.Errorf("no spamreport event for %s:\n%s", rcpt, show)
		}
	}

	// The complaint holds for the user's next message: alice is dropped,
	// carol is not.
	next := send("alice@rcpt.test,carol@rcpt.test", "More deals")
	waitFor("the next message settled", func() bool {
		s := in.mustCLI("queue", "show", next)
		return regexp.MustCompile(`alice@rcpt\.test\s+dropped`).MatchString(s) && regexp.MustCompile(`carol@rcpt\.test\s+delivered`).MatchString(s)
	})
	if s := in.mustCLI("queue", "show", next); !strings.Contains(s, "suppressed: spam report (feedback-type abuse)") {
		t.Errorf("queue show of the next message:\n%s", s)
	}
	if msgs, _ := pf.Messages(); len(msgs) != 3 {
		t.Errorf("%d messages in the Maildir, want 3 (alice, bob, carol; the reports relayed, not delivered there)", len(msgs))
	}
	in.stop()
}
