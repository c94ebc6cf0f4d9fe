package dnsres

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParseAnswer feeds raw bytes, as they could come from the network,
// through dns.Msg.Unpack and then parseAnswer and the record conversions,
// for the message's own question and for fixed ones.
func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte{}) // the corpus in testdata/fuzz/FuzzParseAnswer holds real answers
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := new(dns.Msg)
		if err := resp.Unpack(data); err != nil {
			return
		}
		var questions []dns.Question
		if len(resp.Question) > 0 {
			questions = append(questions, resp.Question[0])
		}
		for _, qtype := range []uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA, dns.TypeTXT} {
			questions = append(questions, dns.Question{Name: "example.test.", Qtype: qtype, Qclass: dns.ClassINET})
		}
		for _, q := range questions {
			start := dns.CanonicalName(q.Name)
			a, err := parseAnswer(resp, q, []string{start})
			if err != nil {
				if err.Reason == "" {
					t.Errorf("%v: error without a reason", q)
				}
				if (err.Err == ErrNXDomain) == err.Temporary {
					t.Errorf("%v: error %q: NXDOMAIN %v, temporary %v", q, err.Reason, err.Err == ErrNXDomain, err.Temporary)
				}
				continue
			}
			if len(a.chain) == 0 || a.chain[0] != start || len(a.chain) > maxHops+1 {
				t.Fatalf("%v: chain %q", q, a.chain)
			}
			if len(a.records) > maxRecords {
				t.Fatalf("%v: %d records", q, len(a.records))
			}
			end := a.chain[len(a.chain)-1]
			for _, rr := range a.records {
				if h := rr.Header(); h.Rrtype != q.Qtype || dns.CanonicalName(h.Name) != end {
					t.Fatalf("%v: record %v not of the type or not owned by %s", q, rr, end)
				}
			}
			for _, mx := range mxRecords(a.records) {
				if mx.Host != strings.ToLower(mx.Host) || (mx.Host != "." && strings.HasSuffix(mx.Host, ".")) {
					t.Errorf("MX host %q", mx.Host)
				}
			}
			for _, ip := range ipRecords(a.records) {
				if !ip.IsValid() || (q.Qtype == dns.TypeA && !ip.Is4()) || (q.Qtype == dns.TypeAAAA && !ip.Is6()) {
					t.Errorf("%v: address %v", q, ip)
				}
			}
			txts := txtRecords(a.records)
			// The joined strings are the bytes on the wire: packing them
			// again as one record gives them back.
			for _, txt := range txts {
				if len(txt) > 255 {
					continue
				}
				rr := &dns.TXT{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{escapeTXT(txt)}}
				m := &dns.Msg{Answer: []dns.RR{rr}}
				b, err := m.Pack()
				if err != nil {
					t.Fatalf("packing %q: %v", txt, err)
				}
				var back dns.Msg
				if err := back.Unpack(b); err != nil {
					t.Fatal(err)
				}
				if got := txtRecords(back.Answer); len(got) != 1 || got[0] != txt {
					t.Fatalf("TXT %q came back as %q", txt, got)
				}
			}
		}
	})
}

// escapeTXT escapes s the way miekg/dns presents character strings.
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			b.WriteString("\\")
			b.WriteByte('0' + c/100)
			b.WriteByte('0' + c/10%10)
			b.WriteByte('0' + c%10)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestUnescapeTXT(t *testing.T) {
	for in, want := range map[string]string{
		``:             "",
		`plain`:        "plain",
		`a\"b`:         `a"b`,
		`a\\b`:         `a\b`,
		`\007\255\000`: "\x07\xff\x00",
		`\256`:         "256",
		`\12`:          "12",
		`end\`:         `end\`,
		`\;`:           ";",
	} {
		if got := unescapeTXT(in); got != want {
			t.Errorf("unescapeTXT(%q) = %q, want %q", in, got, want)
		}
	}
}
