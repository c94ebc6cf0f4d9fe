package returnpath

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testCodec = Codec{Key: []byte("0123456789abcdef0123456789abcdef"), Label: "pst-bounces", Lifetime: 30 * 24 * time.Hour}

const testID = "0g2r4t6v8a0c2e4g6i8k0m2o4q"

// testNow is the clock of the tests; testHour the start of its hour, the
// Date that Parse returns for an address made at testNow.
var (
	testNow  = time.Date(2026, 12, 1, 12, 34, 56, 0, time.UTC)
	testHour = testNow.Truncate(time.Hour)
)

// v1Address makes an address the way Postern did before return paths
// carried a date.
func v1Address(c Codec, id string, idx int, dom string) string {
	i := strconv.Itoa(idx)
	return prefix + id + "-" + i + "-" + c.mac(contextV1, id, i, dom) + "@" + c.Label + "." + dom
}

func TestRoundTrip(t *testing.T) {
	for _, tok := range []Token{
		{MessageID: testID, Idx: 0, Domain: "acme.test", Date: testHour},
		{MessageID: testID, Idx: 41, Domain: "mail.acme.test", Date: testHour.Add(-24 * time.Hour)},
		{MessageID: testID, Idx: maxIdx, Domain: "x.example", Date: testHour.Add(time.Hour)},
	} {
		addr := testCodec.Address(tok)
		local := addr[:strings.IndexByte(addr, '@')]
		if len(local) > 64 || strings.Trim(local, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Errorf("%s: local part is not short lower-case letters, digits and hyphens", addr)
		}
		if !strings.HasSuffix(addr, "@pst-bounces."+tok.Domain) {
			t.Errorf("%s: not on the return-path subdomain", addr)
		}
		for _, variant := range []string{addr, strings.ToUpper(addr)} {
			got, err := testCodec.Parse(variant, testNow)
			if err != nil || got != tok {
				t.Errorf("Parse(%s) = %+v, %v; want %+v", variant, got, err, tok)
			}
		}
	}
}

func TestParseRefuses(t *testing.T) {
	good := testCodec.Address(Token{MessageID: testID, Idx: 3, Domain: "acme.test", Date: testNow})
	local, host, _ := strings.Cut(good, "@")
	mac := local[strings.LastIndexByte(local, '-')+1:]
	flipped := map[byte]byte{'a': 'b'}[mac[0]]
	if flipped == 0 {
		flipped = 'a'
	}
	otherKey := Codec{Key: []byte("another key"), Label: "pst-bounces", Lifetime: testCodec.Lifetime}
	hour := strconv.FormatInt(testNow.Unix()/3600, 10)
	cases := []struct {
		name, addr string
		want       error
	}{
		{"other domain, same token", local + "@pst-bounces.other.test", ErrForged},
		{"other recipient index", strings.Replace(local, "-3-", "-4-", 1) + "@" + host, ErrForged},
		{"changed MAC", local[:len(local)-len(mac)] + string(flipped) + mac[1:] + "@" + host, ErrForged},
		{"another installation's key", otherKey.Address(Token{MessageID: testID, Idx: 3, Domain: "acme.test", Date: testNow}), ErrForged},
		{"v1, another installation's key", v1Address(otherKey, testID, 3, "acme.test"), ErrForged},
		{"v1", v1Address(testCodec, testID, 3, "acme.test"), ErrExpired},
		{"leading zero date", strings.Replace(local, "-"+hour+"-", "-0"+hour+"-", 1) + "@" + host, ErrNotReturnPath},
		{"date over the maximum", strings.Replace(local, "-"+hour+"-", "-10000000-", 1) + "@" + host, ErrNotReturnPath},
		{"no date", strings.Replace(local, "-"+hour+"-", "--", 1) + "@" + host, ErrNotReturnPath},
		{"not on the subdomain", local + "@acme.test", ErrNotReturnPath},
		{"subdomain alone", local + "@pst-bounces.", ErrNotReturnPath},
		{"ordinary address", "postmaster@pst-bounces.acme.test", ErrNotReturnPath},
		{"no at", "b-x", ErrNotReturnPath},
		{"leading zero index", strings.Replace(local, "-3-", "-03-", 1) + "@" + host, ErrNotReturnPath},
		{"negative index", strings.Replace(local, "-3-", "--3-", 1) + "@" + host, ErrNotReturnPath},
		{"short id", "b-0g2r-3-" + mac + "@" + host, ErrNotReturnPath},
		{"id outside the alphabet", "b-" + strings.Repeat("z", idLen) + "-3-" + mac + "@" + host, ErrNotReturnPath},
		{"extra field", local + "-x@" + host, ErrNotReturnPath},
		{"empty", "", ErrNotReturnPath},
	}
	for _, tc := range cases {
		if _, err := testCodec.Parse(tc.addr, testNow); !errors.Is(err, tc.want) {
			t.Errorf("%s: Parse(%q) = %v, want %v", tc.name, tc.addr, err, tc.want)
		}
	}
	if _, err := (Codec{Key: testCodec.Key, Lifetime: testCodec.Lifetime}).Parse(good, testNow); !errors.Is(err, ErrNotReturnPath) {
		t.Errorf("a codec without a label accepted %s: %v", good, err)
	}
}

// FuzzParse: any address either fails to parse or yields a token whose
// address parses back to it. The committed corpus (testdata/fuzz) holds
// current, expired, future-dated and v1 addresses of testCodec, valid at
// testNow.
func FuzzParse(f *testing.F) {
	f.Add(testCodec.Address(Token{MessageID: testID, Idx: 7, Domain: "acme.test", Date: testNow}))
	f.Add("b-" + testID + "-7-" + strconv.FormatInt(testNow.Unix()/3600, 10) + "-aaaaaaaaaaaaaaaa@pst-bounces.acme.test")
	f.Add("postmaster@pst-bounces.acme.test")
	f.Fuzz(func(t *testing.T, addr string) {
		tok, err := testCodec.Parse(addr, testNow)
		if err != nil {
			if !errors.Is(err, ErrNotReturnPath) && !errors.Is(err, ErrForged) && !errors.Is(err, ErrExpired) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		back, err := testCodec.Parse(testCodec.Address(tok), testNow)
		if err != nil || back != tok {
			t.Fatalf("%q → %+v does not round-trip: %+v %v", addr, tok, back, err)
		}
	})
}
