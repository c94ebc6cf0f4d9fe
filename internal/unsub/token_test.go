package unsub

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestRoundTrip(t *testing.T) {
	c := Codec{Key: testKey}
	for _, tt := range []Token{
		{UserID: 1, MessageID: "01jd2c9w3yq8b7x5k4m2n1p0rs", Recipient: "alice@rcpt.test"},
		{UserID: 1<<63 - 1, MessageID: strings.Repeat("m", MaxMessageID), Recipient: strings.Repeat("r", MaxRecipient)},
		{UserID: 42, MessageID: "x", Recipient: "Ünïcödé@exämple.test"},
	} {
		tok, err := c.Encode(tt)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", tt, err)
		}
		if len(tok) > MaxTokenLen || strings.ContainsAny(tok, "=+/\r\n") {
			t.Errorf("token %q: %d characters (max %d), or not base64url without padding", tok, len(tok), MaxTokenLen)
		}
		got, err := c.Decode(tok)
		if err != nil || got != tt {
			t.Errorf("Decode(Encode(%+v)) = %+v, %v", tt, got, err)
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	c := Codec{Key: testKey}
	for name, tt := range map[string]Token{
		"no user":          {MessageID: "m", Recipient: "a@b.test"},
		"negative user":    {UserID: -1, MessageID: "m", Recipient: "a@b.test"},
		"no message":       {UserID: 1, Recipient: "a@b.test"},
		"no recipient":     {UserID: 1, MessageID: "m"},
		"long message":     {UserID: 1, MessageID: strings.Repeat("m", MaxMessageID+1), Recipient: "a@b.test"},
		"long recipient":   {UserID: 1, MessageID: "m", Recipient: strings.Repeat("r", MaxRecipient+1)},
		"control in rcpt":  {UserID: 1, MessageID: "m", Recipient: "a@b.test\r\nBcc: x@y.test"},
		"space in message": {UserID: 1, MessageID: "m 1", Recipient: "a@b.test"},
	} {
		if tok, err := c.Encode(tt); err == nil {
			t.Errorf("%s: Encode = %q, want an error", name, tok)
		}
	}
	if _, err := (Codec{Key: []byte("short")}).Encode(Token{UserID: 1, MessageID: "m", Recipient: "a@b.test"}); err == nil {
		t.Error("a short key was taken")
	}
}

func TestDecodeRefuses(t *testing.T) {
	c := Codec{Key: testKey}
	good, err := c.Encode(Token{UserID: 7, MessageID: "01jd2c9w3yq8b7x5k4m2n1p0rs", Recipient: "bob@rcpt.test"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	if len(raw)%3 == 0 {
		t.Fatal("the test token needs padding in standard base64")
	}
	reencode := func(f func([]byte) []byte) string {
		b := append([]byte(nil), raw...)
		return base64.RawURLEncoding.EncodeToString(f(b))
	}
	other, _ := Codec{Key: []byte("another key, just as long as the first")}.Encode(Token{UserID: 7, MessageID: "01jd2c9w3yq8b7x5k4m2n1p0rs", Recipient: "alice@rcpt.test"})
	for name, tok := range map[string]string{
		"empty":            "",
		"other key":        other,
		"truncated":        good[:len(good)-1],
		"truncated more":   good[:len(good)-8],
		"one char more":    good + "A",
		"padded":           base64.URLEncoding.EncodeToString(raw),
		"padding appended": good + "==",
		"std alphabet":     strings.NewReplacer("-", "+", "_", "/").Replace(good) + "/",
		"line break":       good[:10] + "\n" + good[10:],
		"space":            good[:10] + " " + good[10:],
		"percent-encoded":  good[:10] + "%41" + good[10:],
		"too long":         strings.Repeat("A", MaxTokenLen+1),
		"version 2":        reencode(func(b []byte) []byte { b[0] = 2; return b }),
		"user changed":     reencode(func(b []byte) []byte { b[8] ^= 1; return b }),
		"rcpt changed":     reencode(func(b []byte) []byte { b[len(b)-33] ^= 0x20; return b }),
		"mac changed":      reencode(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"mac cut":          reencode(func(b []byte) []byte { return b[:len(b)-1] }),
		"byte appended":    reencode(func(b []byte) []byte { return append(b, 0) }),
		"only a mac":       base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
	} {
		if got, err := c.Decode(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Decode(%q) = %+v, %v; want ErrInvalid", name, tok, got, err)
		}
	}
	// Non-zero trailing bits: the same bytes, another spelling.
	last := good[len(good)-1]
	idx := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
	alt := good[:len(good)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[idx|1])
	if alt == good {
		t.Fatal("the test token's trailing bits are set already")
	}
	if _, err := c.Decode(alt); !errors.Is(err, ErrInvalid) {
		t.Errorf("trailing bits set: %v, want ErrInvalid", err)
	}
	if _, err := (Codec{}).Decode(good); !errors.Is(err, ErrInvalid) {
		t.Errorf("no key: %v", err)
	}
}

func TestLinks(t *testing.T) {
	l := Links{Codec: Codec{Key: testKey}, Base: "https://mail.example.test/"}
	u, err := l.URL(3, "bob@rcpt.test", "01jd2c9w3yq8b7x5k4m2n1p0rs")
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(u, "https://mail.example.test/unsubscribe/")
	if !ok {
		t.Fatalf("URL %q", u)
	}
	if got, err := l.Codec.Decode(tok); err != nil || got.Recipient != "bob@rcpt.test" || got.UserID != 3 {
		t.Errorf("the URL's token: %+v, %v", got, err)
	}
	h := Headers(u)
	if h[HeaderList] != "<"+u+">" || h[HeaderPost] != "List-Unsubscribe=One-Click" {
		t.Errorf("Headers = %v", h)
	}
	if len("List-Unsubscribe: <https://mail.example.test/unsubscribe/>")+MaxTokenLen > 998 {
		t.Error("a longest token does not fit a header line (RFC 5322 §2.1.1)")
	}
	if _, err := (Links{Codec: l.Codec, Base: "ftp://x"}).URL(3, "bob@rcpt.test", "m"); err == nil {
		t.Error("an ftp base was taken")
	}
}
