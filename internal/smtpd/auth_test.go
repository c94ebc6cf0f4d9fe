package smtpd

import (
	"bytes"
	"testing"
)

func TestParsePlain(t *testing.T) {
	cases := []struct {
		in                  string
		authzid, user, pass string
		ok                  bool
	}{
		{"\x00apikey\x00secret", "", "apikey", "secret", true},
		{"apikey\x00apikey\x00secret", "apikey", "apikey", "secret", true},
		{"\x00\x00secret", "", "", "", false},
		{"\x00apikey\x00", "", "", "", false},
		{"apikey\x00secret", "", "", "", false},
		{"\x00apikey\x00sec\x00ret", "", "", "", false},
		{"", "", "", "", false},
	}
	for _, tc := range cases {
		a, u, p, err := parsePlain([]byte(tc.in))
		if (err == nil) != tc.ok || a != tc.authzid || u != tc.user || p != tc.pass {
			t.Errorf("parsePlain(%q) = %q %q %q %v", tc.in, a, u, p, err)
		}
	}
}

func FuzzParsePlain(f *testing.F) {
	f.Add([]byte("\x00apikey\x00pst_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"))
	f.Add([]byte("z\x00apikey\x00x"))
	f.Add([]byte("\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, u, p, err := parsePlain(b)
		if err != nil {
			if a != "" || u != "" || p != "" {
				t.Fatal("values returned with an error")
			}
			return
		}
		if u == "" || p == "" {
			t.Fatal("empty user or password accepted")
		}
		joined := []byte(a + "\x00" + u + "\x00" + p)
		if !bytes.Equal(joined, b) {
			t.Fatalf("round trip %q != %q", joined, b)
		}
	})
}

// The SASL exchanges, step by step, as go-smtp drives them.
func TestSASLServers(t *testing.T) {
	var got [3]string
	login := func(a, u, p string) error { got = [3]string{a, u, p}; return nil }
	invalid := func() error { return errPlainSyntax }

	p := &plainServer{login: login, invalid: invalid}
	ch, done, err := p.Next(nil)
	if done || err != nil || len(ch) != 0 {
		t.Fatalf("plain without IR: %q %v %v", ch, done, err)
	}
	if _, done, err = p.Next([]byte("\x00apikey\x00k")); !done || err != nil || got != [3]string{"", "apikey", "k"} {
		t.Fatalf("plain: %v %v %v", done, err, got)
	}
	if _, _, err := (&plainServer{login: login, invalid: invalid}).Next([]byte("junk")); err != errPlainSyntax {
		t.Fatalf("plain junk: %v", err)
	}

	l := &loginServer{login: login}
	if ch, done, _ := l.Next(nil); string(ch) != "Username:" || done {
		t.Fatalf("login step 1: %q", ch)
	}
	if ch, done, _ := l.Next([]byte("apikey")); string(ch) != "Password:" || done {
		t.Fatalf("login step 2: %q", ch)
	}
	if _, done, err := l.Next([]byte("k2")); !done || err != nil || got != [3]string{"", "apikey", "k2"} {
		t.Fatalf("login step 3: %v %v", done, got)
	}
	l = &loginServer{login: login}
	if ch, _, _ := l.Next([]byte("apikey")); string(ch) != "Password:" {
		t.Fatalf("login with IR: %q", ch)
	}
}
