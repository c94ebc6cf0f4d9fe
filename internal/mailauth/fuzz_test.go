package mailauth

import (
	"context"
	"strings"
	"testing"
)

// signedKeysOf is the h= list for fields, the way Sign made it from
// splitHeader's fields before signedKeys read the names itself.
func signedKeysOf(fields []headerField) []string {
	count := make(map[string]int)
	for _, f := range fields {
		count[strings.ToLower(f.Name)]++
	}
	if count["from"] == 0 {
		return nil
	}
	var keys []string
	for _, name := range signedHeaders {
		for range count[name] + 1 {
			keys = append(keys, name)
		}
	}
	return keys
}

// FuzzVerify feeds untrusted messages (headers, DKIM-Signature tags) to
// Verify and the header and tag parsers. The corpus is in testdata/fuzz.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s=s; h=from; bh=; b=\r\nFrom: a@example.test\r\n\r\nbody\r\n"))
	f.Add([]byte("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n d=example.test; s=ed1; h=From:From; bh=AAAA; b=AAAA\r\nFrom: a\r\n\r\n"))
	f.Add([]byte("dkim-signature:;;;=;==\n\tx\nFrom:\n\n"))
	zone := fakeDNS{
		"s._domainkey.example.test":   {"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"},
		"ed1._domainkey.example.test": {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="},
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields, ended := splitHeader(msg)
		for _, fl := range fields {
			parseTags(fl.Value)
		}
		// Sign's reading of the field names agrees with splitHeader's.
		keys, ok := signedKeys(msg)
		if want := signedKeysOf(fields); ok != ended || ended && strings.Join(keys, ":") != strings.Join(want, ":") {
			t.Fatalf("signedKeys = %q, %v; from splitHeader %q, %v", keys, ok, want, ended)
		}
		res, err := Verify(context.Background(), msg, zone.lookup)
		if err != nil {
			return
		}
		for _, r := range res {
			if r.OK != (r.Err == nil) {
				t.Fatalf("inconsistent result %+v", r)
			}
		}
	})
}
