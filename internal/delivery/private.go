package delivery

import (
	"fmt"

	"github.com/postern/postern/internal/netguard"
)

// Which addresses delivery connects to.
//
// An MX record is the recipient domain's to write, and so is every
// address its hosts resolve to: a tenant who controls a domain's DNS
// could otherwise aim Postern at port 25 of a service inside Postern's
// own network (loopback, the LAN, a cloud metadata range). Unless
// delivery.allow_private_networks is on, the worker checks each resolved
// address with netguard.Private (the rule event webhooks follow too)
// right before it dials it, and dials that literal address (Dial
// resolves no names), so no DNS answer can change in between. A
// destination all of whose addresses are refused fails permanently
// (5.4.4, no usable route).

// privateRefusal is the Result for a destination whose every address was
// refused by netguard.Private: permanent, since the same DNS gives the same
// answer next time, with X.4.4 (unable to route, RFC 3463).
func privateRefusal(refused []target) Result {
	t := refused[0]
	more := ""
	switch n := len(refused) - 1; {
	case n == 1:
		more = ", as does 1 more address of the MX hosts"
	case n > 1:
		more = fmt.Sprintf(", as do %d more addresses of the MX hosts", n)
	}
	return Perm(enhNoRoute, "MX host %s resolves to a private address (%s, %s)%s; refused (delivery.allow_private_networks is off)",
		t.Host, t.Addr, netguard.Private(t.Addr), more)
}
