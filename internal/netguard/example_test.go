package netguard_test

import (
	"fmt"
	"net/netip"

	"github.com/postern/postern/internal/netguard"
)

func ExamplePrivate() {
	for _, s := range []string{"8.8.8.8", "169.254.169.254", "::ffff:10.0.0.1", "2001:4860:4860::8888"} {
		if r := netguard.Private(netip.MustParseAddr(s)); r != "" {
			fmt.Printf("%s: refused (%s)\n", s, r)
		} else {
			fmt.Printf("%s: public\n", s)
		}
	}
	// Output:
	// 8.8.8.8: public
	// 169.254.169.254: refused (link-local)
	// ::ffff:10.0.0.1: refused (private, RFC 1918, IPv4-mapped)
	// 2001:4860:4860::8888: public
}
