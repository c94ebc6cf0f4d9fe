package domain

import (
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/postern/postern/internal/dnsres"
	"github.com/postern/postern/internal/testenv"
)

// fakeResolver answers TXT and MX lookups from maps; a name absent from
// both is NXDOMAIN, a name in fail gets that error.
type fakeResolver struct {
	txt  map[string][]string
	mx   map[string][]dnsres.MX
	fail map[string]error
}

func (f fakeResolver) lookup(name string) error {
	if err := f.fail[name]; err != nil {
		return err
	}
	if _, ok := f.txt[name]; ok {
		return nil
	}
	if _, ok := f.mx[name]; ok {
		return nil
	}
	return &dnsres.Error{Name: name, Reason: "NXDOMAIN", Err: dnsres.ErrNXDomain}
}

func (f fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if err := f.lookup(name); err != nil {
		return nil, err
	}
	return f.txt[name], nil
}

func (f fakeResolver) LookupMX(_ context.Context, name string) ([]dnsres.MX, error) {
	if err := f.lookup(name); err != nil {
		return nil, err
	}
	return f.mx[name], nil
}

func (f fakeResolver) LookupIP(context.Context, string) ([]netip.Addr, error) {
	return nil, errors.New("not used")
}

// testRecords are the records of example.test with the test keys, and the
// base64 p= of each DKIM key.
func testRecords(t *testing.T) (recs []Record, rsaP, edP string) {
	t.Helper()
	rsaKey, _ := testKeys()
	recs = Records("example.test", testConfig, []SelectorKey{
		{Selector: "r", Public: &rsaKey.PublicKey},
		{Selector: "e", Public: fixedEd25519.Public()},
	})
	_, rsaP, _ = strings.Cut(recs[0].Value, "p=")
	_, edP, _ = strings.Cut(recs[1].Value, "p=")
	return recs, rsaP, edP
}

// checkOne verifies the single record rec against txt records (or MX
// records) at its name and returns the check.
func checkOne(t *testing.T, rec Record, txts []string, mxs []dnsres.MX) Check {
	t.Helper()
	r := fakeResolver{txt: map[string][]string{}, mx: map[string][]dnsres.MX{}}
	if rec.Type == "MX" {
		r.mx[rec.Name] = mxs
	} else {
		r.txt[rec.Name] = txts
	}
	checks, _ := Verify(context.Background(), r, "example.test", []Record{rec})
	return checks[0]
}

func TestVerifyDKIMMatching(t *testing.T) {
	recs, rsaP, edP := testRecords(t)
	rsaRec, edRec := recs[0], recs[1]
	otherP := base64.StdEncoding.EncodeToString(make([]byte, 32))
	spaced := rsaP[:100] + " \t" + rsaP[100:300] + "\r\n " + rsaP[300:]
	tests := []struct {
		name    string
		rec     Record
		txts    []string
		problem string // "" for OK
	}{
		{"exact", rsaRec, []string{rsaRec.Value}, ""},
		{"order and spacing", rsaRec, []string{"p=" + rsaP + " ;k = rsa;v=DKIM1;"}, ""},
		{"whitespace inside p", rsaRec, []string{"v=DKIM1; k=rsa; p=" + spaced}, ""},
		{"k absent means rsa", rsaRec, []string{"v=DKIM1; p=" + rsaP}, ""},
		{"v absent", rsaRec, []string{"k=rsa; p=" + rsaP}, ""},
		{"k upper case", rsaRec, []string{"k=RSA; p=" + rsaP}, ""},
		{"other tags", rsaRec, []string{"v=DKIM1; h=sha1:sha256; s=email; t=y; n=hi; k=rsa; p=" + rsaP}, ""},
		{"ed25519", edRec, []string{"v=DKIM1; k=ed25519; p=" + edP}, ""},
		{"missing", rsaRec, nil, "missing"},
		{"different key", edRec, []string{"v=DKIM1; k=ed25519; p=" + otherP}, "different key"},
		{"p truncated", rsaRec, []string{"v=DKIM1; k=rsa; p=" + rsaP[:200]}, "different key"},
		{"different type", edRec, []string{"v=DKIM1; p=" + edP}, "different key type (k=rsa, expected k=ed25519)"},
		{"revoked", rsaRec, []string{"v=DKIM1; k=rsa; p="}, "key revoked"},
		{"no p", rsaRec, []string{"v=DKIM1; k=rsa"}, "no p= tag"},
		{"upper-case tag names", rsaRec, []string{"V=DKIM1; K=rsa; P=" + rsaP}, "tag names are case-sensitive"},
		{"wrong version", rsaRec, []string{"v=DKIM2; k=rsa; p=" + rsaP}, "v=DKIM2, not DKIM1"},
		{"syntax error", rsaRec, []string{"v=DKIM1; k=rsa; p=" + rsaP + "; k=rsa"}, "duplicate tag"},
		{"h without sha256", rsaRec, []string{"h=sha1; p=" + rsaP}, "h= does not allow sha256"},
		{"s without email", rsaRec, []string{"s=tlsrpt; p=" + rsaP}, "s= does not allow email"},
		{"two matching", rsaRec, []string{rsaRec.Value, rsaRec.Value}, ""},
		{"one of two matching", rsaRec, []string{rsaRec.Value, "v=DKIM1; p=" + otherP}, "2 TXT records at this name, 1 not matching"},
		{"none of two matching", rsaRec, []string{"hello", "v=DKIM1; p=" + otherP}, "none matching"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checkOne(t, tt.rec, tt.txts, nil)
			if tt.problem == "" {
				if !c.OK || c.Problem != "" {
					t.Errorf("not OK: %q", c.Problem)
				}
				return
			}
			if c.OK || !strings.Contains(c.Problem, tt.problem) {
				t.Errorf("OK %v, problem %q; want %q", c.OK, c.Problem, tt.problem)
			}
			if len(c.Found) != len(tt.txts) {
				t.Errorf("found %q, want %q", c.Found, tt.txts)
			}
		})
	}
}

func TestVerifySPFMXDMARCMatching(t *testing.T) {
	recs, _, _ := testRecords(t)
	spf, rpMX, rpSPF, dmarc := recs[2], recs[3], recs[4], recs[5]
	tests := []struct {
		name    string
		rec     Record
		txts    []string
		mxs     []dnsres.MX
		problem string
	}{
		{"spf exact", spf, []string{"google-site-verification=x", spf.Value}, nil, ""},
		{"spf merged", spf, []string{"v=spf1 mx include:_spf.other.test include:_SPF.postern.example.com. +ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"}, nil, ""},
		{"spf lacks ips", spf, []string{"v=spf1 include:_spf.postern.example.com -all"}, nil, "lacks ip4:192.0.2.10 ip6:2001:db8::10"},
		{"spf mechanisms after all", spf, []string{"v=spf1 -all include:_spf.postern.example.com ip4:192.0.2.10 ip6:2001:db8::10"}, nil, "lacks include:_spf.postern.example.com ip4:192.0.2.10 ip6:2001:db8::10"},
		{"spf fail qualifier", spf, []string{"v=spf1 -include:_spf.postern.example.com ip4:192.0.2.10 ip6:2001:db8::10 ~all"}, nil, "lacks include:_spf.postern.example.com"},
		{"spf other range", spf, []string{"v=spf1 include:_spf.postern.example.com ip4:198.51.100.0/24 ip6:2001:db8::10 ~all"}, nil, "lacks ip4:192.0.2.10"},
		{"spf not spf", spf, []string{"v=spf10 include:_spf.postern.example.com", "hello"}, nil, "missing"},
		{"spf two records", spf, []string{spf.Value, "v=spf1 -all"}, nil, "2 v=spf1 records: receivers treat that as a permerror (RFC 7208 §4.5)"},
		{"bad expected record", Record{Name: "example.test", Type: "TXT", Purpose: PurposeSPF}, []string{spf.Value}, nil, "expected record is not an SPF record"},
		{"return-path spf", rpSPF, []string{rpSPF.Value}, nil, ""},
		{"mx", rpMX, nil, []dnsres.MX{{Host: "backup.test", Pref: 5}, {Host: "mail.postern.example.com", Pref: 20}}, ""},
		{"mx other host", rpMX, nil, []dnsres.MX{{Host: "mail.other.test", Pref: 10}}, "different host"},
		{"mx missing", rpMX, nil, nil, "missing"},
		{"dmarc suggested", dmarc, []string{dmarc.Value}, nil, ""},
		{"dmarc other", dmarc, []string{"v=DMARC1;p=reject;sp=none"}, nil, ""},
		{"dmarc missing", dmarc, []string{"something else"}, nil, "missing"},
		{"dmarc two", dmarc, []string{"v=DMARC1; p=none", "v=DMARC1; p=reject"}, nil, "2 DMARC records"},
		{"dmarc no p", dmarc, []string{"v=DMARC1; rua=mailto:x@example.test"}, nil, "no p= tag"},
		{"dmarc bad p", dmarc, []string{"v=DMARC1; p=maybe"}, nil, "p= must be"},
		{"dmarc v not first", dmarc, []string{"v=DMARC1 ; p=none; v=DMARC1"}, nil, "duplicate tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checkOne(t, tt.rec, tt.txts, tt.mxs)
			if tt.problem == "" {
				if !c.OK || c.Problem != "" {
					t.Errorf("not OK: %q (found %q)", c.Problem, c.Found)
				}
				return
			}
			if c.OK || !strings.Contains(c.Problem, tt.problem) {
				t.Errorf("OK %v, problem %q; want %q", c.OK, c.Problem, tt.problem)
			}
		})
	}
}

// startDNS serves example.test from a testenv DNS server: lines in zone
// form, plus an unrelated record so the domain exists.
func startDNS(t *testing.T, lines ...string) (*testenv.DNSServer, dnsres.Resolver) {
	t.Helper()
	s := testenv.StartDNS(t)
	s.Add("example.test. 3600 IN A 192.0.2.1")
	s.Add(lines...)
	c, err := dnsres.New(s.Addr, dnsres.Options{Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// problems maps each record's purpose and type to its problem ("" if OK).
func problems(checks []Check) map[string]string {
	m := map[string]string{}
	for _, c := range checks {
		m[string(c.Record.Purpose)+" "+c.Record.Type] = c.Problem
		if c.OK != (c.Problem == "") {
			panic("OK and Problem disagree")
		}
	}
	return m
}

func TestVerifyAgainstDNS(t *testing.T) {
	recs, rsaP, _ := testRecords(t)
	lines := ZoneLines(recs)
	// The RSA value as several strings split at odd places, not at 255.
	v := recs[0].Value
	split := `r._domainkey.example.test. 3600 IN TXT "` + v[:7] + `" "` + v[7:100] + `" "` + v[100:101] + `" "` + v[101:350] + `" "` + v[350:] + `"`

	ctx := context.Background()
	t.Run("right", func(t *testing.T) {
		_, r := startDNS(t, lines...)
		checks, verified := Verify(ctx, r, "example.test", recs)
		if !verified {
			t.Errorf("not verified:\n%s", Format(checks))
		}
		for _, c := range checks {
			if !c.OK {
				t.Errorf("%s %s: %s", c.Record.Name, c.Record.Type, c.Problem)
			}
		}
		if AnyTemporary(checks) {
			t.Error("AnyTemporary")
		}
	})
	t.Run("split", func(t *testing.T) {
		_, r := startDNS(t, append([]string{split}, lines[1:]...)...)
		checks, verified := Verify(ctx, r, "example.test", recs)
		if !verified {
			t.Errorf("split record not verified:\n%s", Format(checks))
		}
		if got := checks[0].Found; len(got) != 1 || got[0] != v {
			t.Errorf("found %q, want the joined value", got)
		}
	})
	t.Run("wrong", func(t *testing.T) {
		wrongP := rsaP[:50] + "A" + rsaP[51:]
		if wrongP == rsaP {
			wrongP = rsaP[:50] + "B" + rsaP[51:]
		}
		wrong := ZoneLines([]Record{{Name: recs[0].Name, Type: "TXT", Value: "v=DKIM1; k=rsa; p=" + wrongP}})
		_, r := startDNS(t, append(wrong, lines[1:]...)...)
		checks, verified := Verify(ctx, r, "example.test", recs)
		if verified {
			t.Error("verified with a different RSA key")
		}
		if p := problems(checks); p["dkim-rsa TXT"] != "different key" || p["dkim-ed25519 TXT"] != "" {
			t.Errorf("problems %q", p)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, r := startDNS(t, lines[0], lines[2]) // no Ed25519 key, no return path, no DMARC
		checks, verified := Verify(ctx, r, "example.test", recs)
		if verified {
			t.Error("verified without the Ed25519 record")
		}
		p := problems(checks)
		want := map[string]string{
			"dkim-rsa TXT":     "",
			"dkim-ed25519 TXT": "NXDOMAIN",
			"spf TXT":          "",
			"return-path MX":   "NXDOMAIN",
			"return-path TXT":  "NXDOMAIN",
			"dmarc TXT":        "NXDOMAIN",
		}
		for k, w := range want {
			if p[k] != w {
				t.Errorf("%s: problem %q, want %q", k, p[k], w)
			}
		}
	})
	t.Run("missing at an existing name", func(t *testing.T) {
		_, r := startDNS(t, append([]string{`e._domainkey.example.test. 3600 IN A 192.0.2.1`}, lines[0])...)
		checks, verified := Verify(ctx, r, "example.test", recs[:3])
		if verified {
			t.Error("verified without the Ed25519 record")
		}
		if p := problems(checks); p["dkim-ed25519 TXT"] != "missing" || p["spf TXT"] != "missing" {
			t.Errorf("problems %q", p)
		}
	})
	t.Run("two SPF records", func(t *testing.T) {
		_, r := startDNS(t, append(lines, `example.test. 3600 IN TXT "v=spf1 mx -all"`)...)
		checks, verified := Verify(ctx, r, "example.test", recs)
		if !verified {
			t.Error("SPF is advice: the DKIM records alone verify the domain")
		}
		if p := problems(checks)["spf TXT"]; !strings.Contains(p, "permerror") {
			t.Errorf("SPF problem %q", p)
		}
		if got := checks[2].Found; len(got) != 2 {
			t.Errorf("found %q, want both SPF records", got)
		}
	})
	t.Run("NXDOMAIN domain", func(t *testing.T) {
		s := testenv.StartDNS(t)
		s.Add("other.test. 3600 IN A 192.0.2.1")
		r, err := dnsres.New(s.Addr, dnsres.Options{Timeout: 2 * time.Second, Attempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		checks, verified := Verify(ctx, r, "example.test", recs)
		if verified {
			t.Error("verified")
		}
		for _, c := range checks {
			if c.OK || c.Problem != "NXDOMAIN" || c.Temporary {
				t.Errorf("%s %s: OK %v problem %q temporary %v", c.Record.Name, c.Record.Type, c.OK, c.Problem, c.Temporary)
			}
		}
	})
	t.Run("SERVFAIL", func(t *testing.T) {
		s, r := startDNS(t, lines...)
		s.Set("e._domainkey.example.test.", dns.TypeTXT, testenv.ServFail)
		checks, verified := Verify(ctx, r, "example.test", recs)
		if verified {
			t.Error("verified though a DKIM lookup failed")
		}
		c := checks[1]
		if c.OK || !c.Temporary || !strings.HasPrefix(c.Problem, "temporary DNS failure: ") || !strings.Contains(c.Problem, "SERVFAIL") {
			t.Errorf("check %+v", c)
		}
		if !AnyTemporary(checks) {
			t.Error("AnyTemporary false")
		}
		if !checks[0].OK {
			t.Errorf("RSA check: %q", checks[0].Problem)
		}
	})
	t.Run("lookups asked once", func(t *testing.T) {
		s, r := startDNS(t, lines...)
		before := s.Queries()
		Verify(ctx, r, "example.test", append(recs, recs...))
		// r, e, domain TXT, return-path MX and TXT, _dmarc: 6 questions.
		if n := s.Queries() - before; n != 6 {
			t.Errorf("%d queries, want 6", n)
		}
	})
}

func TestVerifyNoRequiredRecords(t *testing.T) {
	recs, _, _ := testRecords(t)
	r := fakeResolver{txt: map[string][]string{"example.test": {recs[2].Value}}}
	if _, verified := Verify(context.Background(), r, "example.test", recs[2:3]); verified {
		t.Error("verified without any DKIM record")
	}
	if _, verified := Verify(context.Background(), r, "example.test", nil); verified {
		t.Error("verified with no records")
	}
}

func TestVerifyNameOutsideDomain(t *testing.T) {
	recs, _, _ := testRecords(t)
	r := fakeResolver{txt: map[string][]string{recs[0].Name: {recs[0].Value}}}
	checks, verified := Verify(context.Background(), r, "other.test", recs[:1])
	if verified || !strings.Contains(checks[0].Problem, "not a name under other.test") {
		t.Errorf("verified %v, problem %q", verified, checks[0].Problem)
	}
}

func TestFormat(t *testing.T) {
	checks := []Check{
		{Record: Record{Name: "e._domainkey.example.test", Type: "TXT", Value: "v=DKIM1; k=ed25519; p=abc"}, OK: true, Found: []string{"v=DKIM1; k=ed25519; p=abc"}},
		{Record: Record{Name: "r._domainkey.example.test", Type: "TXT", Value: "v=DKIM1; k=rsa; p=xyz"}, Found: []string{"v=DKIM1; k=rsa; p=old", "evil\x1b[31m\n"}, Problem: "different key"},
		{Record: Record{Name: "pst-bounces.example.test", Type: "MX", Value: "10 mail.postern.example.com."}, Problem: "NXDOMAIN"},
	}
	want := "✓ e._domainkey.example.test TXT v=DKIM1; k=ed25519; p=abc\n" +
		`✗ r._domainkey.example.test TXT: different key; found: "v=DKIM1; k=rsa; p=old", "evil\x1b[31m\n"; expected: v=DKIM1; k=rsa; p=xyz` + "\n" +
		"✗ pst-bounces.example.test MX: NXDOMAIN; found: nothing; expected: 10 mail.postern.example.com.\n"
	if got := Format(checks); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
	if Format(nil) != "" {
		t.Error("Format(nil) not empty")
	}
}

// TestVerifyOptionalKey: bring-your-own key means that key alone. The
// record of an Optional key (the generated companion of a brought one) is
// advised: the domain verifies by the brought key's record, and the
// companion's check is still reported, so that its signature can start
// once it is found.
func TestVerifyOptionalKey(t *testing.T) {
	rsaKey, _ := testKeys()
	recs := Records("example.test", testConfig, []SelectorKey{
		{Selector: "brought", Public: &rsaKey.PublicKey},
		{Selector: "e", Public: fixedEd25519.Public(), Optional: true},
	})
	if !recs[0].Required || recs[1].Required || !strings.Contains(recs[1].Note, "optional") {
		t.Fatalf("records %+v", recs[:2])
	}
	published := map[string][]string{"brought._domainkey.example.test": {recs[0].Value}}
	cases := []struct {
		name           string
		txt            map[string][]string
		verified, edOK bool
	}{
		{"brought key only", published, true, false},
		{"both", map[string][]string{"brought._domainkey.example.test": {recs[0].Value}, "e._domainkey.example.test": {recs[1].Value}}, true, true},
		{"companion only", map[string][]string{"e._domainkey.example.test": {recs[1].Value}}, false, true},
		{"neither", nil, false, false},
	}
	for _, tc := range cases {
		checks, verified := Verify(context.Background(), fakeResolver{txt: tc.txt}, "example.test", recs[:2])
		if verified != tc.verified || checks[1].OK != tc.edOK {
			t.Errorf("%s: verified %v, companion OK %v; want %v, %v", tc.name, verified, checks[1].OK, tc.verified, tc.edOK)
		}
	}
	// An optional key alone verifies nothing: at least one required
	// record must match.
	if _, verified := Verify(context.Background(), fakeResolver{txt: map[string][]string{"e._domainkey.example.test": {recs[1].Value}}},
		"example.test", recs[1:2]); verified {
		t.Error("verified by an optional record alone")
	}
}
