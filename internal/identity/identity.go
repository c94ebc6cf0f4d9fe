// Package identity connects a submitted message to the sender identities
// its user has proven: today, DKIM signing for the user's (or its
// account's) verified domains, with both of the domain's keys (RFC 6376,
// RFC 8463). Enforcement of verified senders is the next step (issue 4).
package identity

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/domain"
	"github.com/postern/postern/internal/mailauth"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/store"
)

// Signer signs messages for verified domains.
type Signer struct {
	Store store.Store
	Now   func() time.Time
}

// FromDomain returns the domain of the message's single From address, or
// "" when there is not exactly one From field with exactly one address.
func FromDomain(msg []byte) string {
	h, err := message.ParseHeader(msg)
	if err != nil {
		return ""
	}
	froms := h.Values("From")
	if len(froms) != 1 {
		return ""
	}
	list, err := mail.ParseAddressList(froms[0])
	if err != nil || len(list) != 1 {
		return ""
	}
	addr := list[0].Address
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// Sign returns msg signed with the keys of its From domain when that
// domain is usable by p (its user's or its account's, verified or vouched
// for by the operator); otherwise msg unchanged and "" for the domain.
func (s *Signer) Sign(ctx context.Context, p account.Principal, msg []byte) ([]byte, string, error) {
	name := FromDomain(msg)
	if name == "" {
		return msg, "", nil
	}
	d, err := s.Store.Domain(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return msg, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("identity: domain %s: %w", name, err)
	}
	if !d.Usable() || (d.UserID != p.User.ID && d.UserID != p.Account.ID) {
		return msg, "", nil
	}
	var keys []mailauth.Key
	for _, k := range []struct {
		sel string
		pem []byte
	}{{d.RSASelector, d.RSAKey}, {d.EdSelector, d.EdKey}} {
		signer, err := domain.ParsePrivateKey(k.pem)
		if err != nil {
			return nil, "", fmt.Errorf("identity: domain %s key %s: %w", name, k.sel, err)
		}
		keys = append(keys, mailauth.Key{Domain: name, Selector: k.sel, Signer: signer})
	}
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	signed, err := mailauth.Sign(msg, keys, now)
	if err != nil {
		return nil, "", fmt.Errorf("identity: sign for %s: %w", name, err)
	}
	return signed, name, nil
}
