package submit

import (
	"strings"

	"github.com/postern/postern/internal/message"
)

// Drop returns the header hygiene rule for a Postern named hostname: true
// for a field a client may not supply, which Commit removes before
// stamping, on every way in:
//
//   - X-Originating-IP: Postern writes the one that counts; a forged one
//     would survive beside it, or alone when the user opted out;
//   - Authentication-Results whose authserv-id is hostname (RFC 8601 §5:
//     a receiver removes the ones that claim to be its own);
//   - the spam scanner's fields (X-Spam, X-Spam-*, X-Spamd-*, X-Rspamd-*):
//     only Postern's scanner writes them;
//   - X-SMTPAPI: instructions for Postern, parsed into the message's
//     metadata, never delivered.
func Drop(hostname string) func(message.Field) bool {
	return func(f message.Field) bool {
		name := strings.ToLower(f.Name)
		switch {
		case name == "x-originating-ip", name == "x-smtpapi", name == "x-spam":
			return true
		case strings.HasPrefix(name, "x-spam-"), strings.HasPrefix(name, "x-spamd-"), strings.HasPrefix(name, "x-rspamd-"):
			return true
		case name == "authentication-results":
			return strings.EqualFold(authservID(f.Value()), hostname)
		}
		return false
	}
}

// authservID is the authserv-id of an Authentication-Results value
// (RFC 8601 §2.2): the first token, before any CFWS, version or ";".
func authservID(v string) string {
	v = strings.TrimLeft(v, " \t")
	for v != "" && v[0] == '(' { // a leading comment
		end := strings.IndexByte(v, ')')
		if end < 0 {
			return ""
		}
		v = strings.TrimLeft(v[end+1:], " \t")
	}
	end := strings.IndexAny(v, " \t;(")
	if end < 0 {
		end = len(v)
	}
	return v[:end]
}
