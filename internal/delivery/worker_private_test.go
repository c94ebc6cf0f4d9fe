package delivery_test

import (
	"context"
	"strings"
	"testing"

	"github.com/postern/postern/internal/dsn"
	"github.com/postern/postern/internal/store"
)

// privateMX publishes three destinations that lead to loopback: an MX
// with an A record, an MX with the IPv4-mapped IPv6 form of the address,
// and a domain without MX that is its own mail host (implicit MX).
func privateMX(e *wenv) string {
	e.dns.Add(
		"priv.test. 300 IN MX 10 mx.priv.test.", "mx.priv.test. 300 IN A 127.0.0.1",
		"mapped.test. 300 IN MX 10 mx.mapped.test.", "mx.mapped.test. 300 IN AAAA ::ffff:127.0.0.1",
		"implicit.test. 300 IN A 127.0.0.1",
	)
	return e.enqueue("app@acme.test", "u@priv.test", "u@mapped.test", "u@implicit.test")
}

// TestFinding9PrivateMXRefusedByDefault guards finding 9, "Delivery
// connects to whatever DNS returns": a tenant's MX record could aim
// Postern at a port-25 service inside its own network. With
// delivery.allow_private_networks off, such a destination fails
// permanently, with the reason, a DSN goes back, and nothing connects.
func TestFinding9PrivateMXRefusedByDefault(t *testing.T) {
	e := newWorkerEnv(t, wopts{refusePrivate: true})
	id := privateMX(e)
	e.round()
	const off = "; refused (delivery.allow_private_networks is off)"
	e.wantState(id, "u@priv.test", store.RcptBounced,
		"permanent failure 5.4.4: MX host mx.priv.test resolves to a private address (127.0.0.1, loopback)"+off)
	e.wantState(id, "u@mapped.test", store.RcptBounced,
		"permanent failure 5.4.4: MX host mx.mapped.test resolves to a private address (::ffff:127.0.0.1, loopback, IPv4-mapped)"+off)
	e.wantState(id, "u@implicit.test", store.RcptBounced,
		"permanent failure 5.4.4: MX host implicit.test resolves to a private address (127.0.0.1, loopback)"+off)
	if n := e.sink.Connections(); n != 0 {
		t.Fatalf("%d connections to the sink on loopback, want none", n)
	}
	ds := e.dsns()
	if len(ds) != 1 || len(ds[0].Recipients) != 3 {
		t.Fatalf("DSNs %+v, want one for the three recipients", ds)
	}
	for _, r := range ds[0].Recipients {
		if r.Action != dsn.Failed || r.Status != [3]int{5, 4, 4} || !strings.Contains(r.Diagnostic, "private address") {
			t.Errorf("DSN recipient %+v", r)
		}
	}
	// About the destination's DNS, not the address: nothing suppressed.
	if supp, _ := e.st.Suppressions(context.Background(), e.user.ID); len(supp) != 0 {
		t.Errorf("suppressed: %+v", supp)
	}
}

// TestFinding9PrivateMXAllowedWithKey: with
// delivery.allow_private_networks on, the same destinations are
// delivered to.
func TestFinding9PrivateMXAllowedWithKey(t *testing.T) {
	e := newWorkerEnv(t, wopts{})
	id := privateMX(e)
	e.round()
	for _, rcpt := range []string{"u@priv.test", "u@mapped.test", "u@implicit.test"} {
		e.wantState(id, rcpt, store.RcptDelivered, "250")
		if got := len(e.delivered(rcpt)); got != 1 {
			t.Errorf("%s: %d copies delivered, want 1", rcpt, got)
		}
	}
	if len(e.dsns()) != 0 {
		t.Error("a DSN for delivered mail")
	}
}
