package smtpd

import (
	"bytes"
	"errors"

	"github.com/emersion/go-sasl"
)

// SASL servers of our own: go-sasl has no LOGIN server, and its PLAIN server
// replies with its internal error text. These return only *smtperr.Error
// values built by the session, so every reply is one we chose.

var errPlainSyntax = errors.New("plain: malformed response")

// parsePlain splits a PLAIN message (RFC 4616 §2):
// [authzid] NUL authcid NUL passwd, with no NUL inside the parts.
func parsePlain(b []byte) (authzid, user, pass string, err error) {
	parts := bytes.Split(b, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", errPlainSyntax
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

// plainServer is the server side of SASL PLAIN (RFC 4616).
type plainServer struct {
	login   func(authzid, user, pass string) error
	invalid func() error
	asked   bool
}

func (p *plainServer) Next(response []byte) ([]byte, bool, error) {
	if response == nil && !p.asked {
		// No initial response: send an empty challenge (RFC 4954 §4).
		p.asked = true
		return []byte{}, false, nil
	}
	authzid, user, pass, err := parsePlain(response)
	if err != nil {
		return nil, true, p.invalid()
	}
	return nil, true, p.login(authzid, user, pass)
}

// loginServer is the server side of the obsolete but widely used LOGIN
// mechanism (draft-murchison-sasl-login): "Username:" then "Password:".
type loginServer struct {
	login func(authzid, user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if response != nil {
			// The username came as an initial response.
			l.user = string(response)
			l.step = 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.login("", l.user, string(response))
	}
}

var (
	_ sasl.Server = (*plainServer)(nil)
	_ sasl.Server = (*loginServer)(nil)
)
