package mailauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"math/big"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKeys are generated once per test binary: RSA-2048 generation costs.
var testKeys = sync.OnceValue(func() []Key {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return []Key{
		{Domain: "example.test", Selector: "rsa1", Signer: rk},
		{Domain: "example.test", Selector: "ed1", Signer: ek},
	}
})

// fakeDNS is an in-memory TXT zone; names are matched without a final dot.
type fakeDNS map[string][]string

func (z fakeDNS) lookup(_ context.Context, name string) ([]string, error) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	recs, ok := z[name]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	if len(recs) == 1 && recs[0] == "TIMEOUT" {
		return nil, &net.DNSError{Err: "timeout", Name: name, IsTimeout: true, IsTemporary: true}
	}
	return recs, nil
}

func zoneFor(t testing.TB, keys []Key) fakeDNS {
	t.Helper()
	z := fakeDNS{}
	for _, k := range keys {
		rec, err := PublicKeyRecord(k.Signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		z[k.Selector+"._domainkey."+k.Domain] = []string{rec}
	}
	return z
}

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// testMessages are the shapes the issue names, CRLF.
func testMessages() map[string][]byte {
	long := strings.Repeat("0123456789", 99) // 990 characters
	return map[string][]byte{
		"plain": crlf(`From: Alice <alice@example.test>
To: Bob <bob@example.org>
Subject: Hello
Date: Mon, 02 Jan 2006 15:04:05 +0000
Message-ID: <plain@example.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Hello Bob.
`),
		"long-lines": crlf(`From: alice@example.test
To: bob@example.org
Subject: long
Date: Mon, 02 Jan 2006 15:04:05 +0000

` + long + "\n" + long + "\n"),
		"8bit-utf8": crlf(`From: =?utf-8?q?Z=C3=B6e?= <zoe@example.test>
To: bob@example.org
Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=
Date: Mon, 02 Jan 2006 15:04:05 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße aus Köln — ünïcödé, 日本語, emoji 📬.
`),
		"folded-headers": crlf("From: Alice\n <alice@example.test>\nTo: bob@example.org,\n\tcarol@example.org,\n   dave@example.org\nCc:   erin@example.org   \nSubject: a subject that is\n folded   over\n\tthree lines\nDate: Mon, 02 Jan 2006 15:04:05 +0000\nReferences: <a@x.test>\n <b@x.test>\nList-Unsubscribe: <mailto:unsub@example.test>,\n <https://example.test/u>\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n\nbody  with   spaces   \t\n"),
		"trailing-blank-lines": crlf(`From: alice@example.test
To: bob@example.org
Subject: trailing
Date: Mon, 02 Jan 2006 15:04:05 +0000

text

   
	

`),
		"multipart": crlf(`From: alice@example.test
To: bob@example.org
Reply-To: replies@example.test
In-Reply-To: <parent@example.org>
Subject: multipart
Date: Mon, 02 Jan 2006 15:04:05 +0000
Message-ID: <mp@example.test>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

This is a multi-part message.

--b1
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9
--b1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+Y2Fmw6k8L3A+Cg==
--b1--
`),
	}
}

var tagRE = regexp.MustCompile(`(?s)^DKIM-Signature:(.*?)\r\n(?:[^ \t]|$)`)

// firstSignatureTags returns the tags of the first DKIM-Signature of msg.
func firstSignatureTags(t *testing.T, msg []byte) map[string]string {
	t.Helper()
	m := tagRE.FindSubmatch(msg)
	if m == nil {
		t.Fatalf("no DKIM-Signature at the top of:\n%s", msg)
	}
	return parseTags(string(m[1]))
}

func TestSignTags(t *testing.T) {
	keys := testKeys()
	before := time.Now().Unix()
	msg := testMessages()["folded-headers"]
	signed, err := Sign(msg, keys[:1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	if !bytes.HasSuffix(signed, msg) {
		t.Fatal("signed message does not end with the original message")
	}
	tags := firstSignatureTags(t, signed)
	want := map[string]string{
		"v": "1", "a": "rsa-sha256", "c": "relaxed/relaxed", "d": "example.test", "s": "rsa1",
		// Every field of signedHeaders once more than it occurs.
		"h": "from:from:to:to:cc:cc:subject:subject:date:date:message-id:reply-to:in-reply-to:references:references:" +
			"mime-version:content-type:content-transfer-encoding:list-unsubscribe:list-unsubscribe:" +
			"list-unsubscribe-post:list-unsubscribe-post",
	}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("%s=%q, want %q", k, tags[k], v)
		}
	}
	if _, ok := tags["l"]; ok {
		t.Error("l= present: the body length must never be limited")
	}
	ts, err := strconv.ParseInt(tags["t"], 10, 64)
	if err != nil || ts < before || ts > after {
		t.Errorf("t=%q, want a time in [%d, %d]", tags["t"], before, after)
	}
	for _, line := range strings.SplitAfter(string(signed[:len(signed)-len(msg)]), "\r\n") {
		if len(line) > 998 { // RFC 5322 section 2.1.1
			t.Errorf("signature line of %d characters: %q", len(line), line)
		}
	}
}

func TestSignTwoKeysOrder(t *testing.T) {
	keys := testKeys()
	msg := testMessages()["plain"]
	signed, err := Sign(msg, keys, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(t.Context(), signed, zoneFor(t, keys).lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d results, want 2", len(res))
	}
	for i, want := range []Result{
		{Domain: "example.test", Selector: "rsa1", Algorithm: AlgRSASHA256, OK: true},
		{Domain: "example.test", Selector: "ed1", Algorithm: AlgEd25519SHA256, OK: true},
	} {
		if res[i] != want {
			t.Errorf("result %d = %+v, want %+v", i, res[i], want)
		}
	}
}

func TestSignErrors(t *testing.T) {
	keys := testKeys()
	small := smallRSA{N: new(big.Int).Lsh(big.NewInt(1), 511), E: 65537}
	for name, tc := range map[string]struct {
		msg  []byte
		keys []Key
	}{
		"no keys":       {testMessages()["plain"], nil},
		"no From":       {crlf("To: bob@example.org\n\nhi\n"), keys},
		"no header end": {crlf("From: a@example.test\nTo: b@example.org\n"), keys},
		"no selector":   {testMessages()["plain"], []Key{{Domain: "example.test", Signer: keys[0].Signer}}},
		"no signer":     {testMessages()["plain"], []Key{{Domain: "example.test", Selector: "x"}}},
		"short RSA":     {testMessages()["plain"], []Key{{Domain: "example.test", Selector: "x", Signer: small}}},
	} {
		t.Run(name, func(t *testing.T) {
			if out, err := Sign(tc.msg, tc.keys, time.Now()); err == nil {
				t.Errorf("Sign succeeded:\n%s", out)
			}
		})
	}
}

func TestSignAllMessagesVerify(t *testing.T) {
	keys := testKeys()
	zone := zoneFor(t, keys)
	for name, msg := range testMessages() {
		t.Run(name, func(t *testing.T) {
			signed, err := Sign(msg, keys, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(t.Context(), signed, zone.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 2 || !res[0].OK || !res[1].OK {
				t.Fatalf("results %+v", res)
			}
			for tname, tampered := range tamper(signed) {
				res, err := Verify(t.Context(), tampered, zone.lookup)
				if err != nil {
					t.Fatalf("%s: %v", tname, err)
				}
				for _, r := range res {
					if r.OK {
						t.Errorf("%s: signature %s verified", tname, r.Selector)
					}
				}
			}
		})
	}
}

// tamper returns altered copies of a signed message: body changed, From
// changed, a second From added above the first and at the end of the header.
func tamper(signed []byte) map[string][]byte {
	s := string(signed)
	hdrEnd := strings.Index(s, "\r\n\r\n") + 2
	from := regexp.MustCompile(`(?m)^From:`)
	loc := from.FindStringIndex(s)
	return map[string][]byte{
		"body changed":  []byte(s[:hdrEnd] + "\r\nX" + s[hdrEnd+2:]),
		"From changed":  []byte(s[:loc[1]] + " mallory@evil.test\r\nX-Old:" + s[loc[1]:]),
		"second From":   []byte(s[:loc[0]] + "From: mallory@evil.test\r\n" + s[loc[0]:]),
		"From appended": []byte(s[:hdrEnd] + "From: mallory@evil.test\r\n" + s[hdrEnd:]),
	}
}

func TestVerifyTable(t *testing.T) {
	keys := testKeys()
	good := zoneFor(t, keys)
	signed, err := Sign(testMessages()["multipart"], keys, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := string(signed)
	badBody := []byte(strings.Replace(s, "caf=C3=A9", "cafe", 1))

	revoked := fakeDNS{}
	for k, v := range good {
		revoked[k] = v
	}
	revoked["ed1._domainkey.example.test"] = []string{"v=DKIM1; k=ed25519; p="}
	missing := fakeDNS{"rsa1._domainkey.example.test": good["rsa1._domainkey.example.test"]}
	tempfail := fakeDNS{"rsa1._domainkey.example.test": good["rsa1._domainkey.example.test"], "ed1._domainkey.example.test": {"TIMEOUT"}}
	wrongKey := fakeDNS{"rsa1._domainkey.example.test": good["rsa1._domainkey.example.test"], "ed1._domainkey.example.test": {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}}
	wrongAlg := fakeDNS{"rsa1._domainkey.example.test": good["rsa1._domainkey.example.test"], "ed1._domainkey.example.test": good["rsa1._domainkey.example.test"]}

	type want struct {
		ok, temp bool
		errHas   string
	}
	for _, tc := range []struct {
		name string
		msg  []byte
		zone fakeDNS
		want [2]want // rsa1, ed1
	}{
		{"good", signed, good, [2]want{{ok: true}, {ok: true}}},
		{"bad body hash", badBody, good, [2]want{{errHas: "body hash"}, {errHas: "body hash"}}},
		{"missing key", signed, missing, [2]want{{ok: true}, {errHas: "no key"}}},
		{"revoked key", signed, revoked, [2]want{{ok: true}, {errHas: "revoked"}}},
		{"temporary DNS failure", signed, tempfail, [2]want{{ok: true}, {temp: true, errHas: "unavailable"}}},
		{"other key", signed, wrongKey, [2]want{{ok: true}, {errHas: "signature"}}},
		{"key of other algorithm", signed, wrongAlg, [2]want{{ok: true}, {errHas: "algorithm"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(t.Context(), tc.msg, tc.zone.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 2 {
				t.Fatalf("%d results, want 2", len(res))
			}
			for i, w := range tc.want {
				r := res[i]
				if r.OK != w.ok || r.Temporary != w.temp || (r.Err == nil) != w.ok {
					t.Errorf("result %d = %+v, want %+v", i, r, w)
				}
				if w.errHas != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), w.errHas)) {
					t.Errorf("result %d error %v, want it to mention %q", i, r.Err, w.errHas)
				}
			}
		})
	}
}

func TestVerifyEdges(t *testing.T) {
	zone := zoneFor(t, testKeys())
	t.Run("unsigned", func(t *testing.T) {
		res, err := Verify(t.Context(), testMessages()["plain"], zone.lookup)
		if err != nil || len(res) != 0 {
			t.Errorf("got %v, %v; want no results, no error", res, err)
		}
	})
	t.Run("no header end", func(t *testing.T) {
		if _, err := Verify(t.Context(), crlf("DKIM-Signature: v=1\nFrom: a@b\n"), zone.lookup); err == nil {
			t.Error("no error")
		}
	})
	t.Run("malformed signature", func(t *testing.T) {
		res, err := Verify(t.Context(), crlf("DKIM-Signature: v=1; a=rsa-sha256; d=example.test; s\nFrom: a@b\n\nx\n"), zone.lookup)
		if err != nil || len(res) != 1 || res[0].OK || res[0].Err == nil {
			t.Errorf("got %+v, %v; want one failed result", res, err)
		}
	})
	t.Run("too many signatures", func(t *testing.T) {
		signed, err := Sign(testMessages()["plain"], testKeys()[1:], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		sig := signed[:bytes.Index(signed, []byte("\r\nFrom:"))+2]
		msg := append(bytes.Repeat(sig, MaxSignatures+2), testMessages()["plain"]...)
		res, err := Verify(t.Context(), msg, zone.lookup)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != MaxSignatures+2 {
			t.Fatalf("%d results", len(res))
		}
		for i, r := range res {
			if ok := i < MaxSignatures; r.OK != ok {
				t.Errorf("result %d: %+v", i, r)
			}
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := Verify(ctx, testMessages()["plain"], zone.lookup); err == nil {
			t.Error("no error")
		}
	})
}

// smallRSA is a crypto.Signer whose public key is a 512-bit RSA key.
type smallRSA rsa.PublicKey

func (k smallRSA) Public() crypto.PublicKey { p := rsa.PublicKey(k); return &p }
func (k smallRSA) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, nil
}
