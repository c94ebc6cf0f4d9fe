package account

import (
	"errors"
	"fmt"
)

// maxUserName is the longest user name, in bytes.
const maxUserName = 63

// ValidUserName checks a user or subuser name: 1 to 63 characters from
// a–z, 0–9, '.', '_' and '-', starting with a letter or digit
// (^[a-z0-9][a-z0-9._-]{0,62}$). "apikey" is reserved, so that the SMTP
// username can never be mistaken for an account.
func ValidUserName(name string) error {
	switch {
	case name == "":
		return errors.New("account: empty user name")
	case len(name) > maxUserName:
		return fmt.Errorf("account: user name longer than %d characters", maxUserName)
	case name == Username:
		return fmt.Errorf("account: user name %q is reserved", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		case i == 0:
			return fmt.Errorf("account: invalid user name %q: must start with a-z or 0-9", name)
		default:
			return fmt.Errorf("account: invalid user name %q: only a-z, 0-9, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}
