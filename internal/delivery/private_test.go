package delivery

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestPrivateRefusal(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	one := privateRefusal([]target{{Host: "mx.example.test", Addr: loop}})
	if !one.Permanent || one.Code != 0 || one.Enhanced != [3]int{5, 4, 4} || one.String() !=
		"permanent failure 5.4.4: MX host mx.example.test resolves to a private address (127.0.0.1, loopback); refused (delivery.allow_private_networks is off)" {
		t.Errorf("one: %#v %q", one, one.String())
	}
	three := privateRefusal([]target{
		{Host: "mx1.example.test", Addr: netip.MustParseAddr("10.0.0.1")},
		{Host: "mx1.example.test", Addr: netip.MustParseAddr("fd00::1")},
		{Host: "mx2.example.test", Addr: loop},
	})
	if want := "MX host mx1.example.test resolves to a private address (10.0.0.1, private, RFC 1918), as do 2 more addresses of the MX hosts; refused"; !strings.Contains(three.Line, want) {
		t.Errorf("three: %q, want %q", three.Line, want)
	}
}

// Dial connects only to IP literals, so that no name is resolved between
// the caller's check of an address and the connect.
func TestDialRefusesNames(t *testing.T) {
	c, res, err := Dial(context.Background(), "localhost:25", "mx.example.test", ClientOptions{})
	if err == nil || c != nil || res.OK() || !strings.Contains(res.Line, "not an IP address") {
		t.Fatalf("Dial(localhost:25): %v %#v %v", c, res, err)
	}
}
