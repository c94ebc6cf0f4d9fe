package submit

import "github.com/postern/postern/internal/mailaddr"

// ValidAddress checks an address already split from its path, as the SMTP
// engine hands it (local-part@domain, the local part quoted or not): an
// RFC 5321 §4.1.2 mailbox as mailaddr.Parse accepts it, a dot-string or
// quoted-string local part, no control character anywhere (they would
// reach logs, terminals and DSNs), and a domain that is a host name or an
// address literal.
func ValidAddress(addr string) bool { return mailaddr.Valid(addr) }
