package dnsres

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

const (
	// maxHops is how many CNAMEs a lookup follows, in answers and by
	// asking again.
	maxHops = 8
	// maxRecords is how many records of an answer a lookup uses.
	maxRecords = 100
)

// answer is what one response says about the question asked.
type answer struct {
	// records are those of the asked type and class IN owned by the end
	// of the chain, at most maxRecords.
	records []dns.RR
	// chain is the names from the first one asked to the end of the
	// CNAME chain, canonical (lowercase, fully qualified).
	chain []string
	// final is true when the answer speaks for the end of the chain: it
	// has records there, or no CNAME was followed, or the authority
	// section holds an SOA (RFC 2308 §2.2: NODATA at the target). When
	// false, the answer stops at a CNAME and the target must be asked.
	final bool
}

// parseAnswer checks resp, the response to question q, and extracts what
// it says. chain holds the names followed so far: the first name asked
// first, q.Name (canonical) last. A failure is a *Error without Type and
// Name, which the caller fills in.
func parseAnswer(resp *dns.Msg, q dns.Question, chain []string) (answer, *Error) {
	if !resp.Response || resp.Opcode != dns.OpcodeQuery {
		return answer{}, malformed("not a response to a query")
	}
	// Some servers send only the header with an error code.
	if len(resp.Question) == 0 && resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return answer{}, rcodeFailure(resp.Rcode)
	}
	if len(resp.Question) != 1 {
		return answer{}, malformed(fmt.Sprintf("%d questions", len(resp.Question)))
	}
	if rq := resp.Question[0]; rq.Qtype != q.Qtype || rq.Qclass != q.Qclass ||
		dns.CanonicalName(rq.Name) != dns.CanonicalName(q.Name) {
		return answer{}, malformed("answer to another question")
	}
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return answer{}, rcodeFailure(resp.Rcode)
	}

	a := answer{chain: append([]string(nil), chain...)}
	end := a.chain[len(a.chain)-1]
	for q.Qtype != dns.TypeCNAME {
		target, err := cnameOf(resp.Answer, end)
		if err != nil {
			return answer{}, err
		}
		if target == "" {
			break
		}
		for _, n := range a.chain {
			if n == target {
				return answer{}, &Error{Reason: fmt.Sprintf("CNAME loop at %s", strings.TrimSuffix(target, ".")), Temporary: true}
			}
		}
		if len(a.chain) > maxHops {
			return answer{}, &Error{Reason: fmt.Sprintf("CNAME chain longer than %d", maxHops), Temporary: true}
		}
		a.chain = append(a.chain, target)
		end = target
	}
	if resp.Rcode == dns.RcodeNameError { // RFC 6604: about the end of the chain
		reason := "domain does not exist (NXDOMAIN)"
		if len(a.chain) > 1 {
			reason = fmt.Sprintf("domain does not exist (NXDOMAIN for %s, the CNAME target)", strings.TrimSuffix(end, "."))
		}
		return answer{}, &Error{Reason: reason, Err: ErrNXDomain}
	}
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype != q.Qtype || h.Class != dns.ClassINET || dns.CanonicalName(h.Name) != end {
			continue
		}
		if len(a.records) == maxRecords {
			break
		}
		a.records = append(a.records, rr)
	}
	a.final = len(a.records) > 0 || len(a.chain) == len(chain) || hasSOA(resp.Ns)
	return a, nil
}

// cnameOf returns the canonical target of the CNAME owned by name in rrs,
// or "" if there is none.
func cnameOf(rrs []dns.RR, name string) (string, *Error) {
	target := ""
	for _, rr := range rrs {
		c, ok := rr.(*dns.CNAME)
		if !ok || c.Hdr.Class != dns.ClassINET || dns.CanonicalName(c.Hdr.Name) != name {
			continue
		}
		t := dns.CanonicalName(c.Target)
		if target != "" && t != target {
			return "", malformed(fmt.Sprintf("several CNAMEs for %s", strings.TrimSuffix(name, ".")))
		}
		target = t
	}
	return target, nil
}

func hasSOA(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeSOA {
			return true
		}
	}
	return false
}

func malformed(why string) *Error {
	return &Error{Reason: "malformed answer: " + why, Temporary: true}
}

func rcodeFailure(rcode int) *Error {
	name := dns.RcodeToString[rcode]
	if name == "" {
		name = fmt.Sprintf("RCODE%d", rcode)
	}
	switch rcode {
	case dns.RcodeServerFailure:
		return &Error{Reason: "server failure (" + name + ")", Temporary: true}
	case dns.RcodeRefused:
		return &Error{Reason: "query refused (" + name + ")", Temporary: true}
	}
	return &Error{Reason: "unexpected response code (" + name + ")", Temporary: true}
}

// mxRecords converts MX records, sorted by preference.
func mxRecords(rrs []dns.RR) []MX {
	var mxs []MX
	for _, rr := range rrs {
		if mx, ok := rr.(*dns.MX); ok {
			host := strings.ToLower(mx.Mx)
			if host != "." {
				host = strings.TrimSuffix(host, ".")
			}
			mxs = append(mxs, MX{Host: host, Pref: mx.Preference})
		}
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
	return mxs
}

// ipRecords converts A and AAAA records.
func ipRecords(rrs []dns.RR) []netip.Addr {
	var addrs []netip.Addr
	for _, rr := range rrs {
		var (
			addr netip.Addr
			ok   bool
		)
		switch rr := rr.(type) {
		case *dns.A:
			addr, ok = netip.AddrFromSlice(rr.A.To4())
		case *dns.AAAA:
			addr, ok = netip.AddrFromSlice(rr.AAAA.To16())
		}
		if ok {
			addrs = append(addrs, addr)
		}
	}
	return addrs
}

// txtRecords converts TXT records, each record's strings joined.
func txtRecords(rrs []dns.RR) []string {
	var txts []string
	for _, rr := range rrs {
		if txt, ok := rr.(*dns.TXT); ok {
			var b strings.Builder
			for _, s := range txt.Txt {
				b.WriteString(unescapeTXT(s))
			}
			txts = append(txts, b.String())
		}
	}
	return txts
}

// unescapeTXT undoes the escaping miekg/dns applies to character strings
// when it unpacks them (\" \\ and \DDD for bytes outside printable ASCII),
// giving back the bytes on the wire.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
