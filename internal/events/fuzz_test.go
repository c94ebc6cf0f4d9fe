package events

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"
)

// FuzzParseKey: ParseKey never panics, and a key it accepts is a P-256
// key that marshals back and signs verifiably.
func FuzzParseKey(f *testing.F) {
	k, err := NewKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := MarshalKey(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		k, err := ParseKey(der)
		if err != nil {
			return
		}
		back, err := MarshalKey(k)
		if err != nil {
			t.Fatalf("MarshalKey of a parsed key: %v", err)
		}
		k2, err := ParseKey(back)
		if err != nil || !k2.Equal(k) {
			t.Fatalf("round trip: %v", err)
		}
		s, err := NewSigner(k)
		if err != nil {
			t.Fatalf("NewSigner of a parsed key: %v", err)
		}
		sig, ts, err := s.Sign([]byte("[]"), time.Unix(1, 0), rand.Reader)
		if err != nil {
			// Failing to sign is an error, never a panic or a bad
			// signature.
			return
		}
		h := sha256.Sum256([]byte(ts + "[]"))
		raw, _ := decodeB64(sig)
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], raw) {
			t.Fatal("signature of a parsed key does not verify")
		}
	})
}

// FuzzMarshalJSON: whatever the custom arguments, the event is valid
// JSON, its standard keys keep their values, and every custom argument
// that is not a standard key is there.
func FuzzMarshalJSON(f *testing.F) {
	f.Add("user_id", "42", "welcome")
	f.Add("email", "evil@example.org", "")
	f.Add("k\x00\"\\", "\xff\xfe<>&", "\u2028")
	f.Fuzz(func(t *testing.T, key, val, cat string) {
		ev := Event{Email: "a@example.org", Timestamp: 5, Event: Bounce, Reason: "r", Type: BounceHard,
			Categories: []string{cat}, CustomArgs: map[string]string{key: val}}
		b, err := ev.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		if m["email"] != "a@example.org" || m["timestamp"] != 5.0 || m["event"] != "bounce" || m["reason"] != "r" || m["type"] != "bounce" {
			t.Fatalf("standard keys changed: %s", b)
		}
		if !StandardKey(key) {
			if _, ok := m[toValidUTF8(key)]; !ok {
				t.Fatalf("custom arg %q missing: %s", key, b)
			}
		}
	})
}

// TestMarshalJSONNoDuplicateKeys: custom argument keys that differ only
// in invalid UTF-8 give one key, not two that encode alike.
func TestMarshalJSONNoDuplicateKeys(t *testing.T) {
	ev := Event{Email: "a@example.org", Timestamp: 1, Event: Processed,
		CustomArgs: map[string]string{"k\xa9": "1", "k\xaa": "2", "\xffemail": "3"}}
	b, err := ev.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"email\":\"a@example.org\",\"timestamp\":1,\"event\":\"processed\",\"k\uFFFD\":\"1\",\"\uFFFDemail\":\"3\"}"
	if string(b) != want {
		t.Fatalf("got %s\nwant %s", b, want)
	}
}
