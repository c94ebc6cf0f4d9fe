package testenv

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Behaviour is how a DNSServer answers one name and type, instead of
// answering from its zone.
type Behaviour int

// The behaviours Set can give a name and type.
const (
	Normal   Behaviour = iota // answer from the zone (Set with Normal removes an override)
	ServFail                  // SERVFAIL
	Refused                   // REFUSED
	Timeout                   // never answer, over UDP or TCP
	Truncate                  // over UDP an empty answer with the TC bit; over TCP the full answer
	Garbage                   // bytes that are not a DNS message (a valid ID, then a compression loop)
	Huge                      // HugeCount records of the type (A, AAAA, MX or TXT) instead of the zone's
	NoChase                   // only the records at the name itself: a CNAME is not followed, as an authoritative server does for a target outside its zone
)

// HugeCount is how many records a Huge answer holds.
const HugeCount = 500

func (b Behaviour) String() string {
	switch b {
	case Normal:
		return "Normal"
	case ServFail:
		return "ServFail"
	case Refused:
		return "Refused"
	case Timeout:
		return "Timeout"
	case Truncate:
		return "Truncate"
	case Garbage:
		return "Garbage"
	case Huge:
		return "Huge"
	case NoChase:
		return "NoChase"
	}
	return fmt.Sprintf("Behaviour(%d)", int(b))
}

// DNSServer is an in-process authoritative DNS server for tests, answering
// from a zone the test fills with Add. Like a recursive resolver, it
// follows a CNAME to its target when the target is in the zone and puts the
// target's records in the answer too.
//
// A name not in the zone (and not above a name in it) is NXDOMAIN, a name
// without records of the asked type NOERROR with no answer (NODATA); both
// carry an SOA in the authority section. A UDP answer larger than the
// query's EDNS0 buffer (512 bytes without EDNS0) is truncated with the TC
// bit set, so the client retries over TCP.
type DNSServer struct {
	Addr string // "127.0.0.1:port", for both UDP and TCP

	t       testing.TB
	queries atomic.Int64

	mu        sync.Mutex
	zone      map[string]map[uint16][]dns.RR // canonical owner name → type → records
	behaviour map[dnsKey]Behaviour
}

type dnsKey struct {
	name  string
	qtype uint16
}

// StartDNS starts a DNSServer on 127.0.0.1, UDP and TCP on the same port,
// with an empty zone. It stops when the test ends.
func StartDNS(t testing.TB) *DNSServer {
	t.Helper()
	s := &DNSServer{
		t:         t,
		zone:      map[string]map[uint16][]dns.RR{},
		behaviour: map[dnsKey]Behaviour{},
	}
	pc, l := dnsListen(t)
	s.Addr = pc.LocalAddr().String()

	handler := dns.HandlerFunc(s.serve)
	servers := []*dns.Server{
		{PacketConn: pc, Handler: handler},
		{Listener: l, Handler: handler},
	}
	var done sync.WaitGroup
	for _, srv := range servers {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		done.Go(func() { errc <- srv.ActivateAndServe() })
		select {
		case <-started:
		case err := <-errc:
			t.Fatalf("testenv: DNS server on %s: %v", s.Addr, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range servers {
			if err := srv.ShutdownContext(ctx); err != nil {
				t.Errorf("testenv: stopping DNS server on %s: %v", s.Addr, err)
			}
		}
		done.Wait()
	})
	return s
}

// dnsListen opens a UDP socket on 127.0.0.1 and a TCP listener on the same
// port, trying other ports when the TCP one is taken.
func dnsListen(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 50 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: DNS server: %v", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		lastErr = err
		pc.Close()
	}
	t.Fatalf("testenv: DNS server: no port free for both UDP and TCP: %v", lastErr)
	return nil, nil
}

// Add puts records into the zone, each a zone-file line with an absolute
// owner name, e.g. "example.test. 300 IN MX 10 mx1.example.test.". Names
// are matched case-insensitively; the records keep their case on the wire.
func (s *DNSServer) Add(rrs ...string) {
	s.t.Helper()
	for _, line := range rrs {
		rr, err := dns.NewRR(line)
		if err != nil {
			s.t.Fatalf("testenv: DNS record %q: %v", line, err)
		}
		if rr == nil {
			s.t.Fatalf("testenv: DNS record %q: no record", line)
		}
		name := dns.CanonicalName(rr.Header().Name)
		s.mu.Lock()
		if s.zone[name] == nil {
			s.zone[name] = map[uint16][]dns.RR{}
		}
		s.zone[name][rr.Header().Rrtype] = append(s.zone[name][rr.Header().Rrtype], rr)
		s.mu.Unlock()
	}
}

// Set makes queries for name and qtype get behaviour instead of the zone's
// answer; qtype dns.TypeANY sets it for every type of the name (an
// override for the exact type wins). It applies to the question's name
// only, not to names reached through a CNAME.
func (s *DNSServer) Set(name string, qtype uint16, behaviour Behaviour) {
	s.t.Helper()
	if behaviour == Huge {
		switch qtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT:
		default:
			s.t.Fatalf("testenv: DNS Huge answers are A, AAAA, MX or TXT, not %s", dns.Type(qtype))
		}
	}
	k := dnsKey{dns.CanonicalName(name), qtype}
	s.mu.Lock()
	defer s.mu.Unlock()
	if behaviour == Normal {
		delete(s.behaviour, k)
		return
	}
	s.behaviour[k] = behaviour
}

// Queries is how many queries the server has received, over UDP and TCP.
func (s *DNSServer) Queries() int {
	return int(s.queries.Load())
}

func (s *DNSServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	s.queries.Add(1)
	q := req.Question[0] // the server's accept function guarantees one
	name := dns.CanonicalName(q.Name)
	udp := w.LocalAddr().Network() == "udp"

	s.mu.Lock()
	b, ok := s.behaviour[dnsKey{name, q.Qtype}]
	if !ok {
		b = s.behaviour[dnsKey{name, dns.TypeANY}]
	}
	s.mu.Unlock()

	var resp *dns.Msg
	switch b {
	case Timeout:
		return
	case Garbage:
		w.Write(dnsGarbage(req.Id))
		return
	case ServFail, Refused:
		resp = new(dns.Msg)
		code := dns.RcodeServerFailure
		if b == Refused {
			code = dns.RcodeRefused
		}
		resp.SetRcode(req, code)
	case Truncate:
		if udp {
			resp = new(dns.Msg)
			resp.SetReply(req)
			resp.Truncated = true
		} else {
			resp = s.answer(req, name, q.Qtype, false)
		}
	case Huge:
		resp = new(dns.Msg)
		resp.SetReply(req)
		resp.Authoritative = true
		resp.Answer = dnsHuge(q.Name, q.Qtype)
	default:
		resp = s.answer(req, name, q.Qtype, b == NoChase)
	}
	resp.RecursionAvailable = true
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		resp.SetEdns0(opt.UDPSize(), false)
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
	}
	if udp {
		resp.Truncate(size)
	}
	if err := w.WriteMsg(resp); err != nil {
		s.t.Logf("testenv: DNS server: answering %s %s: %v", dns.Type(q.Qtype), q.Name, err)
	}
}

// answer builds the reply from the zone.
func (s *DNSServer) answer(req *dns.Msg, name string, qtype uint16, noChase bool) *dns.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	if !s.exists(name) {
		resp.Rcode = dns.RcodeNameError
		resp.Ns = []dns.RR{s.soa(name)}
		return resp
	}
	seen := map[string]bool{}
	for qtype != dns.TypeCNAME && !seen[name] {
		cnames := s.zone[name][dns.TypeCNAME]
		if len(cnames) == 0 {
			break
		}
		seen[name] = true
		resp.Answer = append(resp.Answer, cnames...)
		target := dns.CanonicalName(cnames[0].(*dns.CNAME).Target)
		if noChase || !s.exists(target) {
			return resp // as an authoritative server for a zone without the target
		}
		name = target
	}
	if seen[name] { // a loop: the chain is all there is
		return resp
	}
	rrs := s.zone[name][qtype]
	if len(rrs) == 0 {
		resp.Ns = []dns.RR{s.soa(name)}
	}
	resp.Answer = append(resp.Answer, rrs...)
	return resp
}

// exists reports whether name owns records or is above a name that does
// (an empty non-terminal). Called with s.mu held.
func (s *DNSServer) exists(name string) bool {
	if _, ok := s.zone[name]; ok {
		return true
	}
	for owner := range s.zone {
		if name == "." || strings.HasSuffix(owner, "."+name) {
			return true
		}
	}
	return false
}

// soa is the SOA record of the closest zone cut above name: an SOA added
// to the zone, or one made up for name's top-level domain. Called with
// s.mu held.
func (s *DNSServer) soa(name string) dns.RR {
	for n := name; ; {
		if rrs := s.zone[n][dns.TypeSOA]; len(rrs) > 0 {
			return rrs[0]
		}
		i := strings.IndexByte(n, '.')
		if i < 0 || i == len(n)-1 {
			break
		}
		n = n[i+1:]
	}
	labels := dns.SplitDomainName(name)
	apex := "."
	if len(labels) > 0 {
		apex = labels[len(labels)-1] + "."
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns:      "ns." + strings.TrimPrefix(apex, "."),
		Mbox:    "hostmaster." + strings.TrimPrefix(apex, "."),
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  60,
	}
}

// dnsHuge makes HugeCount records of type qtype owned by name.
func dnsHuge(name string, qtype uint16) []dns.RR {
	rrs := make([]dns.RR, 0, HugeCount)
	for i := range HugeCount {
		hdr := dns.RR_Header{Name: name, Rrtype: qtype, Class: dns.ClassINET, Ttl: 300}
		switch qtype {
		case dns.TypeA:
			rrs = append(rrs, &dns.A{Hdr: hdr, A: net.IPv4(10, 0, byte(i>>8), byte(i))})
		case dns.TypeAAAA:
			ip := net.IP{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: ip})
		case dns.TypeMX:
			rrs = append(rrs, &dns.MX{Hdr: hdr, Preference: uint16(i), Mx: fmt.Sprintf("mx%d.%s", i, name)})
		case dns.TypeTXT:
			rrs = append(rrs, &dns.TXT{Hdr: hdr, Txt: []string{fmt.Sprintf("huge record %d", i)}})
		}
	}
	return rrs
}

// dnsGarbage is a reply that passes the ID and QR checks and then fails to
// parse: the question's name is a compression pointer to itself.
func dnsGarbage(id uint16) []byte {
	return []byte{
		byte(id >> 8), byte(id), 0x81, 0x80, // ID, QR RD RA
		0, 1, 0, 3, 0, 0, 0, 0, // 1 question, 3 answers
		0xc0, 0x0c, 0, 1, 0, 1, // name: pointer to offset 12, itself
		0xde, 0xad, 0xbe, 0xef,
	}
}
