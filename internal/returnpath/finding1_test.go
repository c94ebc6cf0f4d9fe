package returnpath

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFinding1ReturnPathExpires: a return path is refused as expired
// once its lifetime has passed since the delivery attempt that made it,
// whatever the hour of that attempt; its date is covered by the MAC.
func TestFinding1ReturnPathExpires(t *testing.T) {
	life := testCodec.Lifetime
	for _, made := range []time.Time{
		time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 1, 0, 1, 0, 0, time.UTC),
		time.Date(2026, 12, 1, 12, 30, 0, 0, time.UTC),
		time.Date(2026, 12, 1, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 12, 1, 23, 30, 0, 0, time.FixedZone("UTC-11", -11*3600)),
	} {
		tok := Token{MessageID: testID, Idx: 4, Domain: "acme.test", Date: made}
		addr := testCodec.Address(tok)
		for _, at := range []time.Time{made, made.Add(life - time.Hour)} {
			got, err := testCodec.Parse(addr, at)
			if err != nil || got.MessageID != testID || got.Idx != 4 || got.Domain != "acme.test" {
				t.Errorf("made %s, parsed %s: %+v, %v; want the token", made, at, got, err)
			}
		}
		if _, err := testCodec.Parse(addr, made.Add(life+time.Hour)); !errors.Is(err, ErrExpired) {
			t.Errorf("made %s, parsed %s after: %v, want ErrExpired", made, life+time.Hour, err)
		}
		// A later attempt makes a fresh address, valid a lifetime after it.
		retry := made.Add(5 * 24 * time.Hour)
		fresh := testCodec.Address(Token{MessageID: testID, Idx: 4, Domain: "acme.test", Date: retry})
		if fresh == addr {
			t.Errorf("an attempt 5 days later made the same address %s", addr)
		}
		if _, err := testCodec.Parse(fresh, made.Add(life+time.Hour)); err != nil {
			t.Errorf("the retry's address %s: %v", fresh, err)
		}
		// Moving the date, later or earlier, breaks the MAC.
		local, host, _ := strings.Cut(addr, "@")
		f := strings.Split(local, "-")
		if len(f) != 5 {
			t.Fatalf("%s: want b-MSGID-IDX-DATE-MAC", addr)
		}
		h, err := strconv.Atoi(f[3])
		if err != nil {
			t.Fatalf("%s: date %q: %v", addr, f[3], err)
		}
		for _, d := range []int{1, -1, 24 * 365} {
			f[3] = strconv.Itoa(h + d)
			tampered := strings.Join(f, "-") + "@" + host
			if _, err := testCodec.Parse(tampered, made); !errors.Is(err, ErrForged) {
				t.Errorf("date moved by %dh, %s: %v, want ErrForged", d, tampered, err)
			}
		}
	}
}

// TestFinding1ReturnPathFuture: a date more than a day ahead of the
// clock was not made by this server's clock and is refused; a day of
// skew is allowed.
func TestFinding1ReturnPathFuture(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	soon := testCodec.Address(Token{MessageID: testID, Idx: 0, Domain: "acme.test", Date: now.Add(23 * time.Hour)})
	if _, err := testCodec.Parse(soon, now); err != nil {
		t.Errorf("23h ahead, within the skew: %v", err)
	}
	later := testCodec.Address(Token{MessageID: testID, Idx: 0, Domain: "acme.test", Date: now.Add(26 * time.Hour)})
	if _, err := testCodec.Parse(later, now); !errors.Is(err, ErrForged) {
		t.Errorf("26h ahead: %v, want ErrForged", err)
	}
}

// TestFinding1ReturnPathUndated: a token without a date (zero Date, or
// one made before dates were carried, v1) never verifies as current, and
// a codec without a lifetime refuses everything: no way to fail open.
func TestFinding1ReturnPathUndated(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	zero := testCodec.Address(Token{MessageID: testID, Idx: 0, Domain: "acme.test"})
	if _, err := testCodec.Parse(zero, now); !errors.Is(err, ErrExpired) {
		t.Errorf("zero date %s: %v, want ErrExpired", zero, err)
	}
	if _, err := testCodec.Parse(v1Address(testCodec, testID, 3, "acme.test"), now); !errors.Is(err, ErrExpired) {
		t.Errorf("v1 token: %v, want ErrExpired", err)
	}
	if _, err := testCodec.Parse(v1Address(Codec{Key: []byte("other"), Label: "pst-bounces"}, testID, 3, "acme.test"), now); !errors.Is(err, ErrForged) {
		t.Errorf("v1 token of another key: %v, want ErrForged", err)
	}
	noLife := Codec{Key: testCodec.Key, Label: testCodec.Label}
	fresh := noLife.Address(Token{MessageID: testID, Idx: 0, Domain: "acme.test", Date: now})
	if _, err := noLife.Parse(fresh, now); !errors.Is(err, ErrExpired) {
		t.Errorf("codec without a lifetime: %v, want ErrExpired", err)
	}
}

// TestFinding1AddressLength: with the longest index and the longest
// date, the local part stays within RFC 5321 §4.5.3.1.1's 64 octets.
func TestFinding1AddressLength(t *testing.T) {
	for _, date := range []time.Time{time.Unix(maxHour*3600, 0), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)} {
		addr := testCodec.Address(Token{MessageID: testID, Idx: maxIdx, Domain: "acme.test", Date: date})
		local := addr[:strings.IndexByte(addr, '@')]
		if len(local) > 64 {
			t.Errorf("%s: local part of %d octets", addr, len(local))
		}
		t.Logf("%s: %d octets", local, len(local))
	}
}
