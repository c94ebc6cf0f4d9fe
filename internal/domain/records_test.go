package domain

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

var testConfig = Config{
	SPFInclude:     "_spf.postern.example.com",
	SPFIPs:         []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")},
	ReturnPathHost: "mail.postern.example.com",
}

// fixedEd25519 is an Ed25519 key from a fixed seed, so records are known.
var fixedEd25519 = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

func TestRecords(t *testing.T) {
	rsaKey, _ := testKeys()
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaP := base64.StdEncoding.EncodeToString(der)
	edP := base64.StdEncoding.EncodeToString(fixedEd25519.Public().(ed25519.PublicKey))

	got := Records("Example.TEST.", testConfig, []SelectorKey{
		{Selector: "pst202611r", Public: &rsaKey.PublicKey},
		{Selector: "pst202611e", Public: fixedEd25519.Public()},
		{Selector: "bogus", Public: "not a key"},
	})
	want := []Record{
		{Name: "pst202611r._domainkey.example.test", Type: "TXT", Value: "v=DKIM1; k=rsa; p=" + rsaP, Purpose: PurposeDKIMRSA, Required: true},
		{Name: "pst202611e._domainkey.example.test", Type: "TXT", Value: "v=DKIM1; k=ed25519; p=" + edP, Purpose: PurposeDKIMEd25519, Required: true},
		{Name: "example.test", Type: "TXT", Value: "v=spf1 include:_spf.postern.example.com ip4:192.0.2.10 ip6:2001:db8::10 ~all", Purpose: PurposeSPF},
		{Name: "pst-bounces.example.test", Type: "MX", Value: "10 mail.postern.example.com.", Purpose: PurposeReturnPath},
		{Name: "pst-bounces.example.test", Type: "TXT", Value: "v=spf1 include:_spf.postern.example.com ip4:192.0.2.10 ip6:2001:db8::10 -all", Purpose: PurposeReturnPath},
		{Name: "_dmarc.example.test", Type: "TXT", Value: "v=DMARC1; p=none; rua=mailto:dmarc@example.test", Purpose: PurposeDMARC},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g := got[i]
		if g.Note == "" {
			t.Errorf("record %d has no note", i)
		}
		g.Note = ""
		if g != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
	if !strings.Contains(got[2].Note, "add \"include:_spf.postern.example.com ip4:192.0.2.10 ip6:2001:db8::10\"") {
		t.Errorf("SPF note %q does not say which mechanism to add", got[2].Note)
	}
	if len(edP) != 44 { // RFC 8463: the raw 32-byte key, not an SPKI
		t.Errorf("Ed25519 p= is %d characters, want 44", len(edP))
	}
}

func TestRecordsMinimalConfig(t *testing.T) {
	got := Records("example.test", Config{ReturnPathLabel: "b"}, []SelectorKey{{Selector: "s", Public: fixedEd25519.Public()}})
	var kinds []string
	for _, r := range got {
		kinds = append(kinds, string(r.Purpose)+" "+r.Name)
	}
	want := "dkim-ed25519 s._domainkey.example.test|dmarc _dmarc.example.test"
	if strings.Join(kinds, "|") != want {
		t.Errorf("records %q, want %q", strings.Join(kinds, "|"), want)
	}
	got = Records("example.test", Config{SPFIPs: []netip.Addr{netip.MustParseAddr("::ffff:192.0.2.1")}, ReturnPathHost: "mx.test", ReturnPathLabel: "b"}, nil)
	if got[0].Value != "v=spf1 ip4:192.0.2.1 ~all" || got[1].Name != "b.example.test" || got[1].Value != "10 mx.test." {
		t.Errorf("records %+v", got)
	}
}

func TestZoneLines(t *testing.T) {
	rsaKey, _ := testKeys()
	recs := Records("example.test", testConfig, []SelectorKey{{Selector: "r", Public: &rsaKey.PublicKey}, {Selector: "e", Public: fixedEd25519.Public()}})
	lines := ZoneLines(recs)
	if len(lines) != len(recs) {
		t.Fatalf("%d lines for %d records", len(lines), len(recs))
	}

	v := recs[0].Value
	if len(v) <= 255 || len(v) > 510 {
		t.Fatalf("RSA record of %d bytes: the test wants two strings", len(v))
	}
	wantRSA := `r._domainkey.example.test. 3600 IN TXT "` + v[:255] + `" "` + v[255:] + `"`
	if lines[0] != wantRSA {
		t.Errorf("RSA line:\n got %s\nwant %s", lines[0], wantRSA)
	}
	wantEd := `e._domainkey.example.test. 3600 IN TXT "v=DKIM1; k=ed25519; p=O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="`
	if lines[1] != wantEd {
		t.Errorf("Ed25519 line:\n got %s\nwant %s", lines[1], wantEd)
	}
	if want := "pst-bounces.example.test. 3600 IN MX 10 mail.postern.example.com."; lines[3] != want {
		t.Errorf("MX line %q, want %q", lines[3], want)
	}

	// Every line is a valid zone-file record holding the record's value.
	for i, line := range lines {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if txt, ok := rr.(*dns.TXT); ok {
			for _, s := range txt.Txt {
				if len(s) > 255 {
					t.Errorf("line %d: string of %d bytes", i, len(s))
				}
			}
			if joined := strings.Join(txt.Txt, ""); joined != recs[i].Value {
				t.Errorf("line %d holds %q, want %q", i, joined, recs[i].Value)
			}
		}
	}
}

func TestZoneLinesQuoting(t *testing.T) {
	long := strings.Repeat("a", 254) + `"b` // the quote is byte 255: it must stay whole in the first string
	tests := []struct {
		rec  Record
		want string
	}{
		{Record{Name: "x.test", Type: "TXT", Value: `say "hi" \ bye`}, `x.test. 3600 IN TXT "say \"hi\" \\ bye"`},
		{Record{Name: "x.test.", Type: "TXT", Value: "tab\there\x01é"}, `x.test. 3600 IN TXT "tab\009here\001\195\169"`},
		{Record{Name: "x.test", Type: "TXT", Value: ""}, `x.test. 3600 IN TXT ""`},
		{Record{Name: "x.test", Type: "TXT", Value: long}, `x.test. 3600 IN TXT "` + strings.Repeat("a", 254) + `\"" "b"`},
		{Record{Name: "x.test", Type: "TXT", Value: strings.Repeat("z", 510)}, `x.test. 3600 IN TXT "` + strings.Repeat("z", 255) + `" "` + strings.Repeat("z", 255) + `"`},
	}
	for _, tt := range tests {
		got := ZoneLines([]Record{tt.rec})[0]
		if got != tt.want {
			t.Errorf("ZoneLines(%q):\n got %s\nwant %s", tt.rec.Value, got, tt.want)
		}
		rr, err := dns.NewRR(got)
		if err != nil {
			t.Errorf("%q: %v", got, err)
			continue
		}
		if n := len(rr.(*dns.TXT).Txt); n != (len(tt.rec.Value)+254)/255 && !(n == 1 && tt.rec.Value == "") {
			t.Errorf("%q: %d strings", got, n)
		}
	}
}
