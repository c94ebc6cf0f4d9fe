// Package policy holds the pure decisions about a submission: may this key
// send this mail now? The SMTP server asks a Hook at MAIL, RCPT and after
// DATA; identity checks (sender verification), rate limits and spam scanning
// plug in here in later issues. A Hook returns an *smtperr.Error to refuse.
package policy

import (
	"context"
	"net/netip"

	"github.com/postern/postern/internal/store"
)

// Tx is what is known of a transaction when the hook is asked.
type Tx struct {
	Key        store.APIKey
	User       store.User // the key's user
	Account    store.User // its top-level account (== User for an account)
	ClientIP   netip.Addr
	Helo       string
	From       string
	Recipients []string // those accepted so far
}

// Hook decides on a transaction. nil means go on.
type Hook interface {
	Mail(ctx context.Context, tx *Tx) error
	Rcpt(ctx context.Context, tx *Tx, rcpt string) error
	// Data sees the message as it will be stored, headers added.
	Data(ctx context.Context, tx *Tx, msg []byte) error
}

// Allow is the Hook that refuses nothing.
type Allow struct{}

func (Allow) Mail(context.Context, *Tx) error         { return nil }
func (Allow) Rcpt(context.Context, *Tx, string) error { return nil }
func (Allow) Data(context.Context, *Tx, []byte) error { return nil }

var _ Hook = Allow{}
