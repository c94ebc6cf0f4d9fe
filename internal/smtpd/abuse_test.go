package smtpd_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/smtpd"
)

func TestIPAllowLists(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	// A second implicit-TLS listener on ::1, for IPv6 clients.
	ln6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	go e.srv.Serve(ln6, smtpd.Submissions)

	elsewhere, _, _ := e.accounts.CreateKey(ctx, "acme", "elsewhere", nil, netip.MustParsePrefix("192.0.2.0/24"))
	local, _, _ := e.accounts.CreateKey(ctx, "acme", "local", nil, netip.MustParsePrefix("127.0.0.0/8"))
	v6only, _, _ := e.accounts.CreateKey(ctx, "acme", "v6", nil, netip.MustParsePrefix("::1/128"))

	authFrom := func(addr, key string) error {
		c, err := smtp.DialTLS(addr, e.client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.Auth(plain(key))
	}
	v4, v6 := e.addr[smtpd.Submissions], ln6.Addr().String()

	se := wantCode(t, authFrom(v4, elsewhere), 535, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(se.Message, "127.0.0.1 is not allowed") {
		t.Errorf("text %q", se.Message)
	}
	if err := authFrom(v4, local); err != nil {
		t.Errorf("key list allows 127.0.0.0/8: %v", err)
	}
	if err := authFrom(v6, v6only); err != nil {
		t.Errorf("IPv6 key from ::1: %v", err)
	}
	wantCode(t, authFrom(v4, v6only), 535, smtp.EnhancedCode{5, 7, 1})

	// The account's list applies to every key, on top of the key's own.
	acme, _ := e.store.UserByName(ctx, "acme")
	if err := e.store.AddAllowedIP(ctx, acme.ID, "10.0.0.0/8", time.Now()); err != nil {
		t.Fatal(err)
	}
	wantCode(t, authFrom(v4, e.key), 535, smtp.EnhancedCode{5, 7, 1})
	wantCode(t, authFrom(v4, local), 535, smtp.EnhancedCode{5, 7, 1})
	if err := e.store.AddAllowedIP(ctx, acme.ID, "127.0.0.1/32", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := authFrom(v4, e.key); err != nil {
		t.Errorf("account list allows 127.0.0.1: %v", err)
	}
	wantCode(t, authFrom(v6, v6only), 535, smtp.EnhancedCode{5, 7, 1}) // ::1 is not on the account's list
	e.wantQueueEmpty()
}

func TestSuspension(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	early := e.dial(smtpd.Submission)
	if err := early.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetSuspended(ctx, "acme", time.Now(), "spam"); err != nil {
		t.Fatal(err)
	}
	c := e.dial(smtpd.Submission)
	se := wantCode(t, c.Auth(plain(e.key)), 535, smtp.EnhancedCode{5, 7, 1})
	if !strings.Contains(se.Message, "suspended") {
		t.Errorf("text %q", se.Message)
	}
	// A session authenticated before the suspension starts nothing more.
	wantCode(t, early.Mail("app@example.test", nil), 550, smtp.EnhancedCode{5, 7, 1})
	e.store.SetSuspended(ctx, "acme", time.Time{}, "")
	c2 := e.dial(smtpd.Submission)
	if err := c2.Auth(plain(e.key)); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	e.wantQueueEmpty()
}

func TestOriginatingIPOptOut(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := e.store.SetHideOriginatingIP(context.Background(), "acme", true); err != nil {
		t.Fatal(err)
	}
	c := e.dial(smtpd.Submission)
	if err := c.Auth(plain(e.key)); err != nil {
		t.Fatal(err)
	}
	text, err := send(c, "app@example.test", []string{"a@example.test"}, testMsg)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := e.store.MessageBody(context.Background(), queuedAs.FindStringSubmatch(text)[1])
	if strings.Contains(string(body), "X-Originating-IP") {
		t.Errorf("X-Originating-IP present after opt-out:\n%s", body)
	}
}
