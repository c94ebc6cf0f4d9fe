package dnsres_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/postern/postern/internal/dnsres"
)

// answers is a Resolver that gives every lookup the same error.
type answers struct{ err error }

func (a answers) LookupMX(context.Context, string) ([]dnsres.MX, error)  { return nil, a.err }
func (a answers) LookupIP(context.Context, string) ([]netip.Addr, error) { return nil, a.err }
func (a answers) LookupTXT(context.Context, string) ([]string, error)    { return nil, a.err }

type tally map[string]int

func (t tally) DNSLookup(typ string, failed bool) {
	t[typ]++
	if failed {
		t[typ+" failed"]++
	}
}

// TestCounted: every lookup is counted by type; only the ones without
// an answer count as failures.
func TestCounted(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		failed bool
	}{
		{"answer", nil, false},
		{"NXDOMAIN", &dnsres.Error{Type: "MX", Name: "x.test", Reason: "no such domain", Err: dnsres.ErrNXDomain}, false},
		{"bad name", &dnsres.Error{Type: "MX", Name: `"a b"`, Reason: "bad name", Err: dnsres.ErrBadName}, false},
		{"SERVFAIL", &dnsres.Error{Type: "MX", Name: "x.test", Reason: "server failure (SERVFAIL)", Temporary: true}, true},
		{"timeout", &dnsres.Error{Type: "MX", Name: "x.test", Reason: "timeout", Temporary: true, Err: context.DeadlineExceeded}, true},
		{"not ours", errors.New("something else"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := tally{}
			r := dnsres.Counted{Resolver: answers{tt.err}, Counter: n}
			ctx := context.Background()
			if _, err := r.LookupMX(ctx, "x.test"); err != tt.err {
				t.Errorf("LookupMX error %v, want the wrapped resolver's", err)
			}
			r.LookupIP(ctx, "x.test")
			r.LookupIP(ctx, "y.test")
			r.LookupTXT(ctx, "x.test")
			want := tally{"mx": 1, "ip": 2, "txt": 1}
			if tt.failed {
				want["mx failed"], want["ip failed"], want["txt failed"] = 1, 2, 1
			}
			if len(n) != len(want) {
				t.Fatalf("counted %v, want %v", n, want)
			}
			for k, v := range want {
				if n[k] != v {
					t.Errorf("counted %v, want %v", n, want)
				}
			}
		})
	}
}
