package testenv

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsAsk sends one query for name and qtype to s over network ("udp" or
// "tcp"), with EDNS0 and a 1232-byte buffer.
func dnsAsk(t *testing.T, s *DNSServer, network, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	c := &dns.Client{Net: network, Timeout: 300 * time.Millisecond}
	r, _, err := c.Exchange(m, s.Addr)
	return r, err
}

func mustAsk(t *testing.T, s *DNSServer, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	r, err := dnsAsk(t, s, network, name, qtype)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", dns.Type(qtype), name, network, err)
	}
	return r
}

// answers renders the answer section, one record a line, TTLs included.
func answers(r *dns.Msg) string {
	var b strings.Builder
	for _, rr := range r.Answer {
		b.WriteString(strings.ReplaceAll(rr.String(), "\t", " "))
		b.WriteString("\n")
	}
	return b.String()
}

func testZone(t *testing.T) *DNSServer {
	s := StartDNS(t)
	s.Add(
		"example.test. 300 IN MX 10 mx1.example.test.",
		"example.test. 300 IN MX 20 mx2.example.test.",
		"example.test. 300 IN TXT \"v=spf1 \" \"-all\"",
		"mx1.example.test. 300 IN A 192.0.2.1",
		"mx1.example.test. 300 IN AAAA 2001:db8::1",
		"www.example.test. 300 IN CNAME web.example.test.",
		"web.example.test. 300 IN CNAME host.example.test.",
		"host.example.test. 300 IN A 192.0.2.10",
		"out.example.test. 300 IN CNAME elsewhere.invalid.",
		"loop1.example.test. 300 IN CNAME loop2.example.test.",
		"loop2.example.test. 300 IN CNAME loop1.example.test.",
		"a.b.deep.example.test. 300 IN A 192.0.2.20",
	)
	return s
}

func TestDNSServerAnswersFromZone(t *testing.T) {
	s := testZone(t)
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr = %q, want 127.0.0.1:port", s.Addr)
	}
	for _, network := range []string{"udp", "tcp"} {
		r := mustAsk(t, s, network, "EXAMPLE.test.", dns.TypeMX)
		want := "example.test. 300 IN MX 10 mx1.example.test.\nexample.test. 300 IN MX 20 mx2.example.test.\n"
		if r.Rcode != dns.RcodeSuccess || answers(r) != want {
			t.Errorf("%s: MX: rcode %s, answer\n%swant\n%s", network, dns.RcodeToString[r.Rcode], answers(r), want)
		}
		if !r.Authoritative || r.Question[0].Name != "EXAMPLE.test." {
			t.Errorf("%s: AA %v, question %v", network, r.Authoritative, r.Question)
		}
	}
	r := mustAsk(t, s, "udp", "example.test.", dns.TypeTXT)
	if txt, ok := r.Answer[0].(*dns.TXT); !ok || strings.Join(txt.Txt, "|") != "v=spf1 |-all" {
		t.Errorf("TXT answer %v", r.Answer)
	}
	if got := s.Queries(); got != 3 {
		t.Errorf("Queries() = %d, want 3", got)
	}
}

func TestDNSServerNXDomainAndNoData(t *testing.T) {
	s := testZone(t)
	tests := []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"nope.example.test.", dns.TypeA, dns.RcodeNameError},
		{"other.test.", dns.TypeMX, dns.RcodeNameError},
		{"mx1.example.test.", dns.TypeMX, dns.RcodeSuccess},   // exists with other types
		{"deep.example.test.", dns.TypeA, dns.RcodeSuccess},   // empty non-terminal
		{"b.deep.example.test.", dns.TypeA, dns.RcodeSuccess}, // empty non-terminal
	}
	for _, tt := range tests {
		r := mustAsk(t, s, "udp", tt.name, tt.qtype)
		if r.Rcode != tt.rcode || len(r.Answer) != 0 {
			t.Errorf("%s %s: rcode %s, %d answers; want %s, none", dns.Type(tt.qtype), tt.name,
				dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tt.rcode])
		}
		if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("%s %s: authority %v, want an SOA", dns.Type(tt.qtype), tt.name, r.Ns)
		}
	}
}

func TestDNSServerCNAME(t *testing.T) {
	s := testZone(t)
	tests := []struct {
		name, want string
		qtype      uint16
	}{
		{"www.example.test.", "www.example.test. 300 IN CNAME web.example.test.\n" +
			"web.example.test. 300 IN CNAME host.example.test.\n" +
			"host.example.test. 300 IN A 192.0.2.10\n", dns.TypeA},
		{"www.example.test.", "www.example.test. 300 IN CNAME web.example.test.\n" +
			"web.example.test. 300 IN CNAME host.example.test.\n", dns.TypeMX}, // NODATA at the target
		{"out.example.test.", "out.example.test. 300 IN CNAME elsewhere.invalid.\n", dns.TypeA},
		{"loop1.example.test.", "loop1.example.test. 300 IN CNAME loop2.example.test.\n" +
			"loop2.example.test. 300 IN CNAME loop1.example.test.\n", dns.TypeA},
		{"www.example.test.", "www.example.test. 300 IN CNAME web.example.test.\n", dns.TypeCNAME},
	}
	for _, tt := range tests {
		r := mustAsk(t, s, "udp", tt.name, tt.qtype)
		if r.Rcode != dns.RcodeSuccess || answers(r) != tt.want {
			t.Errorf("%s %s: rcode %s, answer\n%swant\n%s", dns.Type(tt.qtype), tt.name,
				dns.RcodeToString[r.Rcode], answers(r), tt.want)
		}
	}

	s.Set("www.example.test.", dns.TypeA, NoChase)
	r := mustAsk(t, s, "udp", "www.example.test.", dns.TypeA)
	if want := "www.example.test. 300 IN CNAME web.example.test.\n"; answers(r) != want {
		t.Errorf("NoChase: answer\n%swant\n%s", answers(r), want)
	}
	s.Set("www.example.test.", dns.TypeA, Normal)
	if r := mustAsk(t, s, "udp", "www.example.test.", dns.TypeA); len(r.Answer) != 3 {
		t.Errorf("after Set(Normal): %d answers, want 3", len(r.Answer))
	}
}

func TestDNSServerBehaviours(t *testing.T) {
	s := testZone(t)
	s.Set("example.test", dns.TypeMX, ServFail)
	s.Set("mx1.example.test.", dns.TypeANY, Refused)
	s.Set("mx1.example.test.", dns.TypeAAAA, Timeout)

	for _, network := range []string{"udp", "tcp"} {
		if r := mustAsk(t, s, network, "example.test.", dns.TypeMX); r.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s: ServFail: rcode %s", network, dns.RcodeToString[r.Rcode])
		}
		if r := mustAsk(t, s, network, "mx1.example.test.", dns.TypeA); r.Rcode != dns.RcodeRefused {
			t.Errorf("%s: Refused for TypeANY: rcode %s", network, dns.RcodeToString[r.Rcode])
		}
		r, err := dnsAsk(t, s, network, "mx1.example.test.", dns.TypeAAAA)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%s: Timeout: answer %v, error %v; want a timeout", network, r, err)
		}
	}
	// Other types of the name are unaffected.
	if r := mustAsk(t, s, "udp", "example.test.", dns.TypeTXT); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("TXT next to a ServFail MX: rcode %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

func TestDNSServerTruncate(t *testing.T) {
	s := testZone(t)
	s.Set("example.test.", dns.TypeMX, Truncate)
	r := mustAsk(t, s, "udp", "example.test.", dns.TypeMX)
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP: TC %v, %d answers; want TC and none", r.Truncated, len(r.Answer))
	}
	r = mustAsk(t, s, "tcp", "example.test.", dns.TypeMX)
	if r.Truncated || len(r.Answer) != 2 {
		t.Errorf("TCP: TC %v, %d answers; want the full answer", r.Truncated, len(r.Answer))
	}
}

func TestDNSServerHuge(t *testing.T) {
	s := testZone(t)
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT} {
		s.Set("big.example.test.", qtype, Huge)
		r := mustAsk(t, s, "udp", "big.example.test.", qtype)
		if !r.Truncated || len(r.Answer) >= HugeCount {
			t.Errorf("%s over UDP: TC %v, %d answers; want truncated", dns.Type(qtype), r.Truncated, len(r.Answer))
		}
		r = mustAsk(t, s, "tcp", "big.example.test.", qtype)
		if r.Truncated || len(r.Answer) != HugeCount {
			t.Errorf("%s over TCP: TC %v, %d answers; want %d", dns.Type(qtype), r.Truncated, len(r.Answer), HugeCount)
		}
		seen := map[string]bool{}
		for _, rr := range r.Answer {
			seen[rr.String()] = true
		}
		if len(seen) != HugeCount {
			t.Errorf("%s over TCP: %d distinct records, want %d", dns.Type(qtype), len(seen), HugeCount)
		}
	}
}

func TestDNSServerGarbage(t *testing.T) {
	s := testZone(t)
	s.Set("example.test.", dns.TypeMX, Garbage)
	for _, network := range []string{"udp", "tcp"} {
		r, err := dnsAsk(t, s, network, "example.test.", dns.TypeMX)
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			t.Errorf("%s: answer %v, error %v; want a parse error", network, r, err)
		}
	}
}

func TestDNSServerUDPWithoutEDNS(t *testing.T) {
	s := testZone(t)
	s.Set("big.example.test.", dns.TypeA, Huge)
	m := new(dns.Msg)
	m.SetQuestion("big.example.test.", dns.TypeA)
	r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	r.Compress = true // as it was sent
	if !r.Truncated || r.Len() > dns.MinMsgSize {
		t.Errorf("TC %v, %d bytes; want truncated to 512", r.Truncated, r.Len())
	}
}
