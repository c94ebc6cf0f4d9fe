package dnsres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/postern/postern/internal/testenv"
)

// quick are the options of tests that expect no answer: one short try.
var quick = Options{Timeout: 200 * time.Millisecond, Attempts: 1}

func start(t *testing.T, opts Options, rrs ...string) (*testenv.DNSServer, *Client) {
	t.Helper()
	s := testenv.StartDNS(t)
	s.Add(rrs...)
	c, err := New(s.Addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// wantTemporary checks that err is a temporary failure whose text holds
// each of parts.
func wantTemporary(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error, want a temporary failure")
	}
	if !IsTemporary(err) || errors.Is(err, ErrNXDomain) || errors.Is(err, ErrBadName) {
		t.Errorf("error %q: IsTemporary %v, NXDOMAIN %v, bad name %v; want temporary only",
			err, IsTemporary(err), errors.Is(err, ErrNXDomain), errors.Is(err, ErrBadName))
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func TestLookupMXSortedByPreference(t *testing.T) {
	_, c := start(t, Options{},
		"example.test. 300 IN MX 20 mx-b.example.test.",
		"example.test. 300 IN MX 10 MX-A.Example.TEST.",
		"example.test. 300 IN MX 10 mx-c.example.test.",
		"example.test. 300 IN MX 30 elsewhere.test.",
		"mx-a.example.test. 300 IN A 192.0.2.1",
	)
	got, err := c.LookupMX(context.Background(), "Example.Test")
	if err != nil {
		t.Fatal(err)
	}
	want := []MX{{"mx-a.example.test", 10}, {"mx-c.example.test", 10}, {"mx-b.example.test", 20}, {"elsewhere.test", 30}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LookupMX = %v, want %v", got, want)
	}
	// A trailing dot changes nothing.
	if got2, err := c.LookupMX(context.Background(), "example.test."); err != nil || !reflect.DeepEqual(got2, want) {
		t.Errorf("LookupMX(fqdn) = %v, %v", got2, err)
	}
}

func TestNoData(t *testing.T) {
	_, c := start(t, Options{}, "host.example.test. 300 IN A 192.0.2.1")
	ctx := context.Background()
	if mxs, err := c.LookupMX(ctx, "host.example.test"); mxs != nil || err != nil {
		t.Errorf("LookupMX = %v, %v; want nil, nil", mxs, err)
	}
	if txts, err := c.LookupTXT(ctx, "host.example.test"); txts != nil || err != nil {
		t.Errorf("LookupTXT = %v, %v; want nil, nil", txts, err)
	}
	// An empty non-terminal exists too.
	if ips, err := c.LookupIP(ctx, "example.test"); ips != nil || err != nil {
		t.Errorf("LookupIP(empty non-terminal) = %v, %v; want nil, nil", ips, err)
	}
}

func TestNXDomain(t *testing.T) {
	s, c := start(t, Options{},
		"example.test. 300 IN MX 10 mx.example.test.",
		"alias.example.test. 300 IN CNAME gone.example.test.",
	)
	ctx := context.Background()
	_, errMX := c.LookupMX(ctx, "nope.example.test")
	_, errIP := c.LookupIP(ctx, "nope.example.test")
	_, errTXT := c.LookupTXT(ctx, "nope.example.test")
	_, errAlias := c.LookupIP(ctx, "alias.example.test")
	for _, err := range []error{errMX, errIP, errTXT, errAlias} {
		if !errors.Is(err, ErrNXDomain) || IsTemporary(err) {
			t.Errorf("error %v: NXDOMAIN %v, temporary %v; want permanent NXDOMAIN", err, errors.Is(err, ErrNXDomain), IsTemporary(err))
		}
	}
	if want := "dnsres: MX nope.example.test: domain does not exist (NXDOMAIN)"; errMX == nil || errMX.Error() != want {
		t.Errorf("error text %q, want %q", errMX, want)
	}
	if errAlias == nil || !strings.Contains(errAlias.Error(), "gone.example.test") {
		t.Errorf("NXDOMAIN at a CNAME target: %v; want the target named", errAlias)
	}
	var e *Error
	if !errors.As(errMX, &e) || e.Type != "MX" || e.Name != "nope.example.test" {
		t.Errorf("error %#v: want Type MX, Name nope.example.test", e)
	}
	if s.Queries() == 0 {
		t.Error("no query reached the server")
	}
}

func TestNullMX(t *testing.T) {
	_, c := start(t, Options{}, "nomail.test. 300 IN MX 0 .")
	got, err := c.LookupMX(context.Background(), "nomail.test")
	if want := []MX{{Host: ".", Pref: 0}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LookupMX = %v, %v; want %v", got, err, want)
	}
}

func TestLookupIP(t *testing.T) {
	s, c := start(t, Options{},
		"mx.example.test. 300 IN AAAA 2001:db8::1",
		"mx.example.test. 300 IN A 192.0.2.1",
		"mx.example.test. 300 IN AAAA 2001:db8::2",
		"mx.example.test. 300 IN A 192.0.2.2",
		"v6.example.test. 300 IN AAAA 2001:db8::6",
		"v4.example.test. 300 IN A 192.0.2.4",
		"v4.example.test. 300 IN TXT hello",
		"half.example.test. 300 IN A 192.0.2.5",
		"broken.example.test. 300 IN TXT \"nothing here\"",
	)
	s.Set("half.example.test", dns.TypeAAAA, testenv.ServFail)
	s.Set("broken.example.test", dns.TypeAAAA, testenv.ServFail)
	ctx := context.Background()
	tests := []struct {
		host string
		want []netip.Addr
	}{
		{"mx.example.test", []netip.Addr{
			netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
			netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
		}},
		{"v6.example.test", []netip.Addr{netip.MustParseAddr("2001:db8::6")}},
		{"v4.example.test", []netip.Addr{netip.MustParseAddr("192.0.2.4")}},
		// An address for one family is enough, whatever the other did.
		{"half.example.test", []netip.Addr{netip.MustParseAddr("192.0.2.5")}},
	}
	for _, tt := range tests {
		got, err := c.LookupIP(ctx, tt.host)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("LookupIP(%s) = %v, %v; want %v", tt.host, got, err, tt.want)
		}
	}
	// No address, and one query failed: temporary.
	_, err := c.LookupIP(ctx, "broken.example.test")
	wantTemporary(t, err, "AAAA broken.example.test", "SERVFAIL")
}

func TestCNAMEChain(t *testing.T) {
	s, c := start(t, Options{},
		"www.example.test. 300 IN CNAME Web.Example.Test.",
		"web.example.test. 300 IN CNAME host.example.test.",
		"host.example.test. 300 IN A 192.0.2.10",
		"host.example.test. 300 IN MX 10 mx.example.test.",
		"host.example.test. 300 IN TXT \"at the end\"",
	)
	ctx := context.Background()
	want := []netip.Addr{netip.MustParseAddr("192.0.2.10")}
	if got, err := c.LookupIP(ctx, "www.example.test"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LookupIP through the chain = %v, %v; want %v", got, err, want)
	}
	if got, err := c.LookupMX(ctx, "www.example.test"); err != nil || len(got) != 1 || got[0].Host != "mx.example.test" {
		t.Errorf("LookupMX through the chain = %v, %v", got, err)
	}

	// The server stops at the first CNAME: the client asks for the target.
	s.Set("www.example.test", dns.TypeTXT, testenv.NoChase)
	before := s.Queries()
	if got, err := c.LookupTXT(ctx, "www.example.test"); err != nil || !reflect.DeepEqual(got, []string{"at the end"}) {
		t.Errorf("LookupTXT with a re-query = %v, %v", got, err)
	}
	if n := s.Queries() - before; n != 2 {
		t.Errorf("%d queries, want 2 (the name, then the CNAME target)", n)
	}
}

func TestCNAMEChainLength(t *testing.T) {
	s := testenv.StartDNS(t)
	// c0 → c1 → … → c9, which has the address: c1 is 8 hops away, c0 is 9.
	for i := range 9 {
		s.Add(fmt.Sprintf("c%d.example.test. 300 IN CNAME c%d.example.test.", i, i+1))
	}
	s.Add("c9.example.test. 300 IN A 192.0.2.9")
	c, err := New(s.Addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, requery := range []bool{false, true} {
		if requery { // every answer stops at its first CNAME
			for i := range 9 {
				s.Set(fmt.Sprintf("c%d.example.test", i), dns.TypeA, testenv.NoChase)
			}
		}
		before := s.Queries()
		got, err := c.LookupIP(context.Background(), "c1.example.test")
		if want := []netip.Addr{netip.MustParseAddr("192.0.2.9")}; err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("requery %v: 8 hops: %v, %v; want %v", requery, got, err, want)
		}
		// A: one query per name; AAAA: one, the server following the chain.
		if requery && s.Queries()-before != 9+1 {
			t.Errorf("requery: %d queries, want 10", s.Queries()-before)
		}
		_, err = c.LookupIP(context.Background(), "c0.example.test")
		wantTemporary(t, err, "CNAME chain longer than 8")
	}
}

func TestCNAMELoop(t *testing.T) {
	s, c := start(t, Options{},
		"loop1.example.test. 300 IN CNAME loop2.example.test.",
		"loop2.example.test. 300 IN CNAME loop3.example.test.",
		"loop3.example.test. 300 IN CNAME LOOP1.example.test.",
		"self.example.test. 300 IN CNAME self.example.test.",
	)
	ctx := context.Background()
	_, err := c.LookupMX(ctx, "loop1.example.test")
	wantTemporary(t, err, "MX loop1.example.test", "CNAME loop at loop1.example.test")
	_, err = c.LookupIP(ctx, "self.example.test")
	wantTemporary(t, err, "CNAME loop")

	// Across re-queries too.
	for _, n := range []string{"loop1", "loop2", "loop3"} {
		s.Set(n+".example.test", dns.TypeTXT, testenv.NoChase)
	}
	_, err = c.LookupTXT(ctx, "loop2.example.test")
	wantTemporary(t, err, "CNAME loop at loop2.example.test")
}

func TestServerFailures(t *testing.T) {
	s, c := start(t, Options{}, "example.test. 300 IN MX 10 mx.example.test.")
	ctx := context.Background()

	s.Set("example.test", dns.TypeMX, testenv.ServFail)
	_, err := c.LookupMX(ctx, "example.test")
	wantTemporary(t, err)
	if want := "dnsres: MX example.test: server failure (SERVFAIL)"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}

	s.Set("example.test", dns.TypeMX, testenv.Refused)
	_, err = c.LookupMX(ctx, "example.test")
	wantTemporary(t, err, "query refused (REFUSED)")

	s.Set("example.test", dns.TypeMX, testenv.Garbage)
	_, err = c.LookupMX(ctx, "example.test")
	wantTemporary(t, err, "MX example.test: malformed answer from "+s.Addr)
}

func TestTimeout(t *testing.T) {
	s, c := start(t, quick, "example.test. 300 IN MX 10 mx.example.test.")
	s.Set("example.test", dns.TypeMX, testenv.Timeout)
	begin := time.Now()
	_, err := c.LookupMX(context.Background(), "example.test")
	wantTemporary(t, err, "no answer from "+s.Addr, "timeout")
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("took %v for one 200ms attempt", took)
	}
	if s.Queries() != 1 {
		t.Errorf("%d queries, want 1", s.Queries())
	}

	// Attempts ask again.
	c2, _ := New(s.Addr, Options{Timeout: 100 * time.Millisecond, Attempts: 3})
	_, err = c2.LookupMX(context.Background(), "example.test")
	wantTemporary(t, err, "timeout")
	if s.Queries() != 4 {
		t.Errorf("%d queries, want 1+3", s.Queries())
	}
}

func TestContextCanceled(t *testing.T) {
	s, c := start(t, Options{Timeout: time.Minute}, "example.test. 300 IN MX 10 mx.example.test.")
	s.Set("example.test", dns.TypeMX, testenv.Timeout)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	begin := time.Now()
	_, err := c.LookupMX(ctx, "example.test")
	wantTemporary(t, err, "abandoned")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v is not context.Canceled", err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("took %v after the context was canceled", took)
	}
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	s, c := start(t, Options{},
		"example.test. 300 IN MX 10 mx1.example.test.",
		"example.test. 300 IN MX 20 mx2.example.test.",
	)
	s.Set("example.test", dns.TypeMX, testenv.Truncate)
	got, err := c.LookupMX(context.Background(), "example.test")
	if want := []MX{{"mx1.example.test", 10}, {"mx2.example.test", 20}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LookupMX = %v, %v; want %v", got, err, want)
	}
	if s.Queries() != 2 {
		t.Errorf("%d queries, want 2 (UDP, then TCP)", s.Queries())
	}
}

func TestHugeAnswerCapped(t *testing.T) {
	s, c := start(t, Options{}, "big.example.test. 300 IN TXT small")
	s.Set("big.example.test", dns.TypeA, testenv.Huge)
	s.Set("big.example.test", dns.TypeAAAA, testenv.Huge)
	s.Set("big.example.test", dns.TypeMX, testenv.Huge)
	s.Set("big.example.test", dns.TypeTXT, testenv.Huge)
	ctx := context.Background()

	ips, err := c.LookupIP(ctx, "big.example.test")
	if err != nil || len(ips) != 2*maxRecords {
		t.Fatalf("LookupIP: %d addresses, %v; want %d", len(ips), err, 2*maxRecords)
	}
	if !ips[0].Is4() || !ips[maxRecords].Is6() {
		t.Errorf("LookupIP: %v first, %v at %d; want IPv4 first", ips[0], ips[maxRecords], maxRecords)
	}
	mxs, err := c.LookupMX(ctx, "big.example.test")
	if err != nil || len(mxs) != maxRecords {
		t.Errorf("LookupMX: %d records, %v; want %d", len(mxs), err, maxRecords)
	}
	txts, err := c.LookupTXT(ctx, "big.example.test")
	if err != nil || len(txts) != maxRecords {
		t.Errorf("LookupTXT: %d records, %v; want %d", len(txts), err, maxRecords)
	}
}

func TestLookupTXT(t *testing.T) {
	_, c := start(t, Options{},
		`example.test. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 " "include:_spf.example.test " "-all"`,
		`example.test. 300 IN TXT "say \"hi\"" " back\\slash" " bell\007 \255"`,
		`_dmarc.example.test. 300 IN TXT "v=DMARC1; p=reject"`,
	)
	ctx := context.Background()
	got, err := c.LookupTXT(ctx, "example.test")
	want := []string{
		"v=spf1 ip4:192.0.2.0/24 include:_spf.example.test -all",
		"say \"hi\" back\\slash bell\x07 \xff",
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LookupTXT = %q, %v; want %q", got, err, want)
	}
	if got, err := c.LookupTXT(ctx, "_dmarc.example.test"); err != nil || !reflect.DeepEqual(got, []string{"v=DMARC1; p=reject"}) {
		t.Errorf("LookupTXT(_dmarc) = %q, %v", got, err)
	}
}

func TestBadNames(t *testing.T) {
	s, c := start(t, Options{})
	ctx := context.Background()
	for _, name := range []string{
		"", ".", "exämple.test", "xn--exmple-cua.test\u00a0", "a..b.test", ".a.test",
		"a b.test", "a\tb.test", "a\\.b.test", "a\x00b.test",
		strings.Repeat("a", 64) + ".test", strings.Repeat("abcdefghi.", 26) + "test",
	} {
		_, errMX := c.LookupMX(ctx, name)
		_, errIP := c.LookupIP(ctx, name)
		_, errTXT := c.LookupTXT(ctx, name)
		for _, err := range []error{errMX, errIP, errTXT} {
			if !errors.Is(err, ErrBadName) || IsTemporary(err) || errors.Is(err, ErrNXDomain) {
				t.Errorf("%q: error %v; want a permanent ErrBadName", name, err)
			}
		}
	}
	if s.Queries() != 0 {
		t.Errorf("%d queries sent for bad names", s.Queries())
	}
	if _, err := c.LookupMX(ctx, "exämple.test"); err == nil || !strings.Contains(err.Error(), "not ASCII") {
		t.Errorf("non-ASCII name: %v", err)
	}
}

func TestFailover(t *testing.T) {
	bad := testenv.StartDNS(t)
	bad.Set("example.test", dns.TypeANY, testenv.Refused)
	good := testenv.StartDNS(t)
	good.Add("example.test. 300 IN MX 10 mx.example.test.")
	silent := testenv.StartDNS(t)
	silent.Set("example.test", dns.TypeANY, testenv.Timeout)

	c := newClient([]string{silent.Addr, bad.Addr, good.Addr}, Options{Timeout: 100 * time.Millisecond})
	got, err := c.LookupMX(context.Background(), "example.test")
	if want := []MX{{"mx.example.test", 10}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("LookupMX = %v, %v; want %v", got, err, want)
	}
	// Only refusals: the refusal is the answer, after one round.
	c = newClient([]string{silent.Addr, bad.Addr}, Options{Timeout: 100 * time.Millisecond})
	_, err = c.LookupMX(context.Background(), "example.test")
	wantTemporary(t, err, "REFUSED")
	if bad.Queries() != 2 {
		t.Errorf("refusing server asked %d times, want 2 (once per lookup)", bad.Queries())
	}
}

func TestNew(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	os.WriteFile(conf, []byte("# comment\nsearch example.test\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"), 0o644)
	c, err := newFromResolvConf(conf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.53:53", "[2001:db8::53]:53"}; !reflect.DeepEqual(c.servers, want) {
		t.Errorf("servers %v, want %v", c.servers, want)
	}
	if c.timeout != 5*time.Second || c.attempts != 2 {
		t.Errorf("defaults: timeout %v, attempts %d", c.timeout, c.attempts)
	}

	empty := filepath.Join(dir, "empty.conf")
	os.WriteFile(empty, []byte("search example.test\n"), 0o644)
	if _, err := newFromResolvConf(empty, Options{}); err == nil {
		t.Error("resolv.conf without nameserver: no error")
	}
	if _, err := newFromResolvConf(filepath.Join(dir, "missing"), Options{}); err == nil {
		t.Error("missing resolv.conf: no error")
	}

	for server, want := range map[string]string{
		"127.0.0.1:5353": "127.0.0.1:5353",
		"[::1]:53":       "[::1]:53",
		"127.0.0.1":      "127.0.0.1:53",
		"::1":            "[::1]:53",
		"dns.test:53":    "dns.test:53",
	} {
		c, err := New(server, Options{Timeout: time.Second, Attempts: 3})
		if err != nil || !reflect.DeepEqual(c.servers, []string{want}) || c.timeout != time.Second || c.attempts != 3 {
			t.Errorf("New(%q) = %+v, %v; want server %s", server, c, err, want)
		}
	}
	if _, err := New("dns.test", Options{}); err == nil {
		t.Error("New without a port: no error")
	}
}

// rawServer answers each UDP query on 127.0.0.1 with the datagrams reply
// returns.
func rawServer(t *testing.T, reply func(q *dns.Msg) [][]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			for _, b := range reply(q) {
				pc.WriteTo(b, addr)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func pack(t *testing.T, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWireChecks(t *testing.T) {
	a := func(name, ip string) dns.RR {
		rr, _ := dns.NewRR(name + " 300 IN A " + ip)
		return rr
	}
	tests := []struct {
		name  string
		reply func(q *dns.Msg) []*dns.Msg
		want  string // "" for success with 192.0.2.1
	}{
		{"a stray answer with another ID is ignored", func(q *dns.Msg) []*dns.Msg {
			stray := new(dns.Msg).SetReply(q)
			stray.Id = q.Id + 1
			stray.Answer = []dns.RR{a(q.Question[0].Name, "192.0.2.66")}
			good := new(dns.Msg).SetReply(q)
			good.Answer = []dns.RR{a(q.Question[0].Name, "192.0.2.1")}
			return []*dns.Msg{stray, good}
		}, ""},
		{"records of other owners are ignored", func(q *dns.Msg) []*dns.Msg {
			r := new(dns.Msg).SetReply(q)
			r.Answer = []dns.RR{a("evil.test.", "192.0.2.66"), a(q.Question[0].Name, "192.0.2.1")}
			r.Extra = []dns.RR{a(q.Question[0].Name, "192.0.2.67")}
			return []*dns.Msg{r}
		}, ""},
		{"answer to another question", func(q *dns.Msg) []*dns.Msg {
			r := new(dns.Msg).SetReply(q)
			r.Question[0].Name = "evil.test."
			return []*dns.Msg{r}
		}, "malformed answer: answer to another question"},
		{"a query, not a response", func(q *dns.Msg) []*dns.Msg {
			r := new(dns.Msg).SetReply(q)
			r.Response = false
			return []*dns.Msg{r}
		}, "not a response"},
		{"header-only REFUSED", func(q *dns.Msg) []*dns.Msg {
			r := new(dns.Msg).SetRcode(q, dns.RcodeRefused)
			r.Question = nil
			return []*dns.Msg{r}
		}, "query refused (REFUSED)"},
		{"NOTIMP", func(q *dns.Msg) []*dns.Msg {
			return []*dns.Msg{new(dns.Msg).SetRcode(q, dns.RcodeNotImplemented)}
		}, "unexpected response code (NOTIMP)"},
		{"two CNAMEs for one name", func(q *dns.Msg) []*dns.Msg {
			r := new(dns.Msg).SetReply(q)
			c1, _ := dns.NewRR(q.Question[0].Name + " 300 IN CNAME a.test.")
			c2, _ := dns.NewRR(q.Question[0].Name + " 300 IN CNAME b.test.")
			r.Answer = []dns.RR{c1, c2, a("a.test.", "192.0.2.1")}
			return []*dns.Msg{r}
		}, "several CNAMEs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := rawServer(t, func(q *dns.Msg) [][]byte {
				if q.Question[0].Qtype != dns.TypeA {
					return [][]byte{pack(t, new(dns.Msg).SetReply(q))}
				}
				var out [][]byte
				for _, m := range tt.reply(q) {
					out = append(out, pack(t, m))
				}
				return out
			})
			c, _ := New(addr, quick)
			got, err := c.LookupIP(context.Background(), "host.example.test")
			if tt.want == "" {
				if want := []netip.Addr{netip.MustParseAddr("192.0.2.1")}; err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("LookupIP = %v, %v; want %v", got, err, want)
				}
				return
			}
			wantTemporary(t, err, tt.want)
		})
	}
}

func TestIsTemporary(t *testing.T) {
	if IsTemporary(nil) || IsTemporary(errors.New("x")) || IsTemporary(ErrNXDomain) {
		t.Error("IsTemporary true for nil, a foreign error or ErrNXDomain")
	}
	wrapped := fmt.Errorf("delivery: %w", &Error{Type: "MX", Name: "x.test", Reason: "r", Temporary: true})
	if !IsTemporary(wrapped) {
		t.Error("IsTemporary false for a wrapped temporary *Error")
	}
}
