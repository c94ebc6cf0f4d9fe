package mailaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Address is a mailbox: Local is the local part's value, unquoted
// (`"ceo@b.test"@sub.test` has the Local `ceo@b.test`), case preserved;
// Domain is the host name or the address literal, brackets included, as
// given.
type Address struct {
	Local, Domain string
}

// The limits of RFC 5321 §4.5.3.1, in octets of the form String writes.
const (
	MaxLocal   = 64  // §4.5.3.1.1
	MaxDomain  = 255 // §4.5.3.1.2
	MaxAddress = 254 // §4.5.3.1.3: a path of 256, less "<" and ">"
	maxLabel   = 63  // RFC 1035 §2.3.4
)

// The errors of Parse, wrapped with a detail that never quotes the input.
var (
	ErrControl   = errors.New("mailaddr: control character")
	ErrUTF8      = errors.New("mailaddr: invalid UTF-8")
	ErrLocalPart = errors.New("mailaddr: bad local part")
	ErrDomain    = errors.New("mailaddr: bad domain")
	ErrTooLong   = errors.New("mailaddr: too long")
)

// Parse parses a mailbox as it stands between the angle brackets of a
// path (RFC 5321 §4.1.2), local part quoted or not. It splits at the last
// "@" outside a quoted string; see the package documentation for what it
// accepts.
func Parse(s string) (Address, error) {
	if err := checkChars(s); err != nil {
		return Address{}, err
	}
	local, domain, err := split(s)
	if err != nil {
		return Address{}, err
	}
	if err := checkDomain(domain); err != nil {
		return Address{}, err
	}
	a := Address{Local: local, Domain: domain}
	lw := len(quoteLocal(local))
	switch {
	case lw > MaxLocal:
		return Address{}, fmt.Errorf("%w: local part of %d octets, at most %d", ErrTooLong, lw, MaxLocal)
	case len(domain) > MaxDomain:
		return Address{}, fmt.Errorf("%w: domain of %d octets, at most %d", ErrTooLong, len(domain), MaxDomain)
	case lw+1+len(domain) > MaxAddress:
		return Address{}, fmt.Errorf("%w: address of %d octets, at most %d", ErrTooLong, lw+1+len(domain), MaxAddress)
	}
	return a, nil
}

// Valid reports whether Parse accepts s.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// String returns the address as RFC 5321 writes it: the local part as a
// Dot-string when it is one, else as a Quoted-string with `\` and `"`
// escaped, then "@" and the domain. For an Address that Parse returned,
// Parse(a.String()) == a.
func (a Address) String() string {
	return quoteLocal(a.Local) + "@" + a.Domain
}

func quoteLocal(l string) string {
	if isDotString(l) {
		return l
	}
	var b strings.Builder
	b.Grow(len(l) + 2)
	b.WriteByte('"')
	for i := 0; i < len(l); i++ {
		if c := l[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(l[i])
	}
	b.WriteByte('"')
	return b.String()
}

// checkChars refuses control characters (C0, DEL, C1) and invalid UTF-8.
func checkChars(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w at octet %d", ErrControl, i)
		}
	}
	if !utf8.ValidString(s) {
		return ErrUTF8
	}
	for i, r := range s {
		if r >= 0x80 && r <= 0x9f {
			return fmt.Errorf("%w (C1) at octet %d", ErrControl, i)
		}
	}
	return nil
}

// split returns the local part's value and the domain.
func split(s string) (local, domain string, err error) {
	if s == "" {
		return "", "", fmt.Errorf("%w: empty address", ErrLocalPart)
	}
	if s[0] == '"' {
		local, rest, err := unquote(s)
		if err != nil {
			return "", "", err
		}
		if local == "" {
			return "", "", fmt.Errorf("%w: empty quoted string", ErrLocalPart)
		}
		d, ok := strings.CutPrefix(rest, "@")
		switch {
		case rest == "":
			return "", "", fmt.Errorf("%w: no @domain", ErrDomain)
		case !ok:
			return "", "", fmt.Errorf("%w: text after the quoted string", ErrLocalPart)
		}
		return local, d, nil
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", "", fmt.Errorf("%w: no @domain", ErrDomain)
	}
	local = s[:at]
	if local == "" {
		return "", "", fmt.Errorf("%w: empty", ErrLocalPart)
	}
	if !isDotString(local) {
		return "", "", fmt.Errorf("%w: not a dot-string (atoms of atext joined by single dots) nor a quoted string", ErrLocalPart)
	}
	return local, s[at+1:], nil
}

// unquote reads the Quoted-string at the start of s (RFC 5321 §4.1.2,
// qtextSMTP and quoted-pairSMTP; RFC 6531 adds UTF-8 to qtextSMTP) and
// returns its value and what follows it. s has no control characters.
func unquote(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], nil
		case c == '\\':
			i++
			if i == len(s) || s[i] >= 0x80 {
				return "", "", fmt.Errorf("%w: a quoted-pair is a backslash and printable US-ASCII", ErrLocalPart)
			}
			b.WriteByte(s[i])
		default: // qtextSMTP: printable ASCII but `"` and `\`, or UTF-8
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quoted string", ErrLocalPart)
}

// isDotString reports whether l is a Dot-string: atoms of atext (RFC 5322
// §3.2.3, with UTF-8 from RFC 6531) joined by single dots.
func isDotString(l string) bool {
	if l == "" || l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; c != '.' && !isAtext(c) {
			return false
		}
	}
	return true
}

// isAtext reports whether c is atext, counting every octet of a non-ASCII
// UTF-8 sequence as atext (the caller has checked the UTF-8 and the C1
// controls).
func isAtext(c byte) bool {
	switch {
	case c >= 0x80, 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkDomain checks a host name or an address literal (RFC 5321 §4.1.2,
// §4.1.3).
func checkDomain(d string) error {
	if d == "" {
		return fmt.Errorf("%w: empty", ErrDomain)
	}
	if d[0] == '[' {
		return checkLiteral(d)
	}
	for _, label := range strings.Split(d, ".") {
		if err := checkLabel(label); err != nil {
			return err
		}
	}
	return nil
}

func checkLiteral(d string) error {
	lit, ok := strings.CutSuffix(d[1:], "]")
	if !ok || strings.ContainsAny(lit, "[]") {
		return fmt.Errorf("%w: unterminated address literal", ErrDomain)
	}
	if len(lit) >= 5 && strings.EqualFold(lit[:5], "IPv6:") {
		ip, err := netip.ParseAddr(lit[5:])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return fmt.Errorf("%w: not an IPv6 address literal", ErrDomain)
		}
		return nil
	}
	ip, err := netip.ParseAddr(lit)
	if err != nil || !ip.Is4() {
		return fmt.Errorf("%w: not an IPv4 address literal (IPv6 takes the IPv6: tag)", ErrDomain)
	}
	return nil
}

// checkLabel checks an LDH label or a U-label.
func checkLabel(l string) error {
	if l == "" {
		return fmt.Errorf("%w: empty label", ErrDomain)
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("%w: a label starts or ends with a hyphen", ErrDomain)
	}
	ascii := true
	for _, r := range l {
		switch {
		case r >= utf8.RuneSelf:
			ascii = false
			if !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) {
				return fmt.Errorf("%w: U+%04X in a label is not a letter, mark or digit", ErrDomain, r)
			}
		case r == '-', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		default:
			return fmt.Errorf("%w: a label has a character other than letters, digits and hyphens", ErrDomain)
		}
	}
	if ascii && len(l) > maxLabel {
		return fmt.Errorf("%w: a label of %d octets, at most %d", ErrDomain, len(l), maxLabel)
	}
	return nil
}
