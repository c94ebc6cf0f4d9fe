package smtpd

import (
	"strings"

	"github.com/postern/postern/internal/smtperr"
)

// parsePathArg reads the argument of MAIL ("FROM:") or RCPT ("TO:"): a
// path in angle brackets (RFC 5321 §4.1.2), then ESMTP parameters. The
// path comes back without its brackets and without a source route
// (§4.1.1.3: accepted, ignored); its syntax is the funnel's to judge. A
// '>' inside a quoted local part does not end the path. Parameter names
// are upper-cased. No reply echoes what the client sent.
// The refusals of parsePathArg: fixed texts, nothing of the input.
const (
	textPathSyntax  = "Syntax: MAIL FROM:<address> or RCPT TO:<address>"
	textPathControl = "Control characters are not allowed in an address"
)

func parsePathArg(arg, prefix string) (path string, params map[string]string, e *smtperr.Error) {
	bad := smtperr.New(smtperr.C501ArgumentSyntax, smtperr.SecBadArguments, textPathSyntax)
	control := smtperr.New(smtperr.C501ArgumentSyntax, smtperr.SecBadArguments, textPathControl)
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", nil, bad
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", nil, bad
	}
	end, quoted := -1, false
	for i := 1; i < len(rest); i++ {
		c := rest[i]
		if c < 0x20 || c == 0x7f {
			return "", nil, control
		}
		switch {
		case quoted && c == '\\':
			i++ // the quoted pair's second octet, whatever it is
			if i < len(rest) && (rest[i] < 0x20 || rest[i] == 0x7f) {
				return "", nil, control
			}
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			end = i
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 {
		return "", nil, bad
	}
	path = rest[1:end]
	if strings.HasPrefix(path, "@") {
		// A source route: "@a.test,@b.test:user@c.test".
		colon := strings.IndexByte(path, ':')
		if colon < 0 {
			return "", nil, bad
		}
		path = path[colon+1:]
	}
	params = map[string]string{}
	for _, p := range strings.Fields(rest[end+1:]) {
		k, v, _ := strings.Cut(p, "=")
		if k == "" || !printableASCII(p) {
			return "", nil, bad
		}
		params[strings.ToUpper(k)] = v
	}
	return path, params, nil
}
