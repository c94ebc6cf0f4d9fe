package unsub

import (
	"errors"
	"testing"
)

// FuzzToken: Decode never panics and refuses what it did not make; a
// token made from the input's fields always decodes to them; and any
// single byte of that token changed is refused.
func FuzzToken(f *testing.F) {
	c := Codec{Key: testKey}
	seed, _ := c.Encode(Token{UserID: 9, MessageID: "01jd2c9w3yq8b7x5k4m2n1p0rs", Recipient: "alice@rcpt.test"})
	f.Add(seed, int64(9), "01jd2c9w3yq8b7x5k4m2n1p0rs", "alice@rcpt.test", uint16(3), byte('x'))
	f.Fuzz(func(t *testing.T, tok string, user int64, msgID, rcpt string, at uint16, to byte) {
		if got, err := c.Decode(tok); err == nil {
			// Only a token this key made decodes: it must round-trip.
			again, err := c.Encode(got)
			if err != nil || again != tok {
				t.Fatalf("Decode(%q) = %+v, which encodes to %q, %v", tok, got, again, err)
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Decode error %v is not ErrInvalid", err)
		}
		in := Token{UserID: user, MessageID: msgID, Recipient: rcpt}
		made, err := c.Encode(in)
		if err != nil {
			return // out of bounds: refused at the source
		}
		if got, err := c.Decode(made); err != nil || got != in {
			t.Fatalf("round trip of %+v: %+v, %v", in, got, err)
		}
		i := int(at) % len(made)
		if made[i] == to {
			return
		}
		changed := made[:i] + string(to) + made[i+1:]
		if got, err := c.Decode(changed); err == nil {
			t.Fatalf("token %q with byte %d changed to %q decoded: %+v", made, i, to, got)
		}
	})
}
