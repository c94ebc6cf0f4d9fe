package smtperr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReply(t *testing.T) {
	refusal := New(C550MailboxUnavailable, SecPolicyUnauthorized, "sender not verified")
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"reply as is", refusal, "550 5.7.1 sender not verified"},
		{"wrapped reply", fmt.Errorf("policy: %w", refusal), "550 5.7.1 sender not verified"},
		{"internal error", errors.New("sqlite: disk I/O error /var/lib/x"), "451 4.3.0 internal error, try again later (session s1)"},
	}
	for _, tc := range cases {
		if got := Reply(tc.err, "s1").Error(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if strings.Contains(Reply(errors.New("secret path"), "s1").Text, "secret") {
		t.Error("internal text leaked")
	}
}

func TestClosingCopies(t *testing.T) {
	e := New(C421Unavailable, SecTempShutdown, "bye")
	c := e.Closing()
	if !c.Close || e.Close {
		t.Fatalf("Closing changed the original or did not set Close: %+v %+v", e, c)
	}
	if !c.Temporary() || New(C554TransactionFailed, SecPermSystem, "x").Temporary() {
		t.Error("Temporary wrong")
	}
}
