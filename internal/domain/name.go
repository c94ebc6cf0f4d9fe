package domain

import (
	"fmt"
	"net/netip"
	"strings"
)

// MaxNameLen is the longest domain name, in octets, without its final dot
// (RFC 1035 §2.3.4: 255 octets on the wire).
const MaxNameLen = 253

// CheckName returns name as a sending domain is stored: lower case,
// without one final dot (the absolute form names the same domain). It
// refuses anything else than a DNS host name of at least two labels (RFC
// 1123 §2.1, RFC 952): each label 1 to 63 letters, digits and hyphens,
// neither starting nor ending with a hyphen; at most MaxNameLen octets;
// a top-level label that is not all digits, so that no IP address passes
// for a name. An internationalized name is written as its IDNA A-labels
// (RFC 5890 §2.3.2.1, "xn--…"), which are host-name labels already; a
// U-label ("bücher") is refused with that advice. Underscores are refused:
// they belong to service labels (_dmarc, _domainkey), not to a domain
// mail is sent from.
func CheckName(name string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	if problem := nameProblem(n); problem != "" {
		return "", fmt.Errorf("%q is not a domain name: %s", name, problem)
	}
	return n, nil
}

func nameProblem(n string) string {
	switch {
	case n == "":
		return "it is empty"
	case len(n) > MaxNameLen:
		return fmt.Sprintf("longer than %d characters", MaxNameLen)
	}
	if _, err := netip.ParseAddr(strings.Trim(n, "[]")); err == nil {
		return "an IP address, not a name"
	}
	labels := strings.Split(n, ".")
	if len(labels) < 2 {
		return "it needs at least two labels, such as example.com"
	}
	for _, l := range labels {
		switch {
		case l == "":
			return "an empty label (two dots in a row, or a dot at the start)"
		case len(l) > 63:
			return "a label longer than 63 characters"
		case l[0] == '-' || l[len(l)-1] == '-':
			return "a label starts or ends with a hyphen"
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
			case c >= 0x80:
				return "write an internationalized name as its IDNA A-labels (xn--…)"
			default:
				return "only letters, digits, hyphens and dots may be used"
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "the last label is all digits (an IP address?)"
	}
	return ""
}

// CheckSelector returns a DKIM selector as it is stored, lower case. RFC
// 6376 §3.1: a selector is one or more host-name labels separated by
// dots (sub-domain *("." sub-domain)), each 1 to 63 letters, digits and
// hyphens, neither starting nor ending with a hyphen; at most 200 octets
// in all, so that "selector._domainkey.domain" stays a valid name for
// any sending domain of reasonable length.
func CheckSelector(sel string) (string, error) {
	s := strings.ToLower(sel)
	problem := ""
	switch {
	case s == "":
		problem = "it is empty"
	case len(s) > maxSelectorLen:
		problem = fmt.Sprintf("longer than %d characters", maxSelectorLen)
	}
	for l := range strings.SplitSeq(s, ".") {
		if problem != "" {
			break
		}
		switch {
		case l == "":
			problem = "an empty label"
		case len(l) > 63:
			problem = "a label longer than 63 characters"
		case l[0] == '-' || l[len(l)-1] == '-':
			problem = "a label starts or ends with a hyphen"
		}
		for i := 0; i < len(l) && problem == ""; i++ {
			if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				problem = "only letters, digits, hyphens and dots may be used"
			}
		}
	}
	if problem != "" {
		return "", fmt.Errorf("%q is not a DKIM selector: %s", sel, problem)
	}
	return s, nil
}

// maxSelectorLen bounds a selector (see CheckSelector).
const maxSelectorLen = 200
