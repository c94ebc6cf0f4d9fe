package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/postern/postern/internal/mailaddr"
	"github.com/postern/postern/internal/store"
)

// The scopes of suppression management (SendGrid's names; SendGrid's
// description names no asm.* scopes for global unsubscribes, and Postern
// knows none, so they take these too).
const (
	ScopeSuppressionCreate = "suppression.create"
	ScopeSuppressionRead   = "suppression.read"
	ScopeSuppressionDelete = "suppression.delete"
)

// MaxSuppressionsPerRequest bounds the addresses added or deleted at once.
const MaxSuppressionsPerRequest = 1000

// Suppression is an entry of one of a user's suppression lists. Every
// kind suppresses delivery to the address.
type Suppression struct {
	Email   string // lower-cased
	Kind    store.SuppressionKind
	Reason  string
	Status  string // the enhanced status code in Reason ("5.1.1"); "" when there is none
	Created time.Time
}

func suppression(s store.Suppression) Suppression {
	return Suppression{Email: s.Address, Kind: s.Kind, Reason: s.Reason, Status: enhancedStatus(s.Reason), Created: s.CreatedAt}
}

// ParseSuppressionKind reads a kind by its name ("bounce", "block",
// "invalid", "spam_report", "unsubscribe").
func ParseSuppressionKind(s string) (store.SuppressionKind, error) {
	k := store.SuppressionKind(strings.TrimSpace(s))
	if !slices.Contains(store.SuppressionKinds(), k) {
		return "", Invalid("kind", "%.32q is not a kind of suppression (bounce, block, invalid, spam_report, unsubscribe)", s)
	}
	return k, nil
}

// SuppressionQuery selects entries of the Actor's user.
type SuppressionQuery struct {
	Kind store.SuppressionKind // "": every kind
	// EmailPrefix selects addresses that start with it, "%" standing for
	// any run of characters (SendGrid's email parameter).
	EmailPrefix string
	// Since and Until bound when an entry was added, both inclusive; zero:
	// unbounded.
	Since, Until  time.Time
	Limit, Offset int // Limit 0: all
}

// ListSuppressions returns the entries of the Actor's user that q
// selects, by address.
func (s *Service) ListSuppressions(ctx context.Context, a Actor, q SuppressionQuery) ([]Suppression, error) {
	if err := a.need(ScopeSuppressionRead); err != nil {
		return nil, err
	}
	if q.Kind != "" {
		if _, err := ParseSuppressionKind(string(q.Kind)); err != nil {
			return nil, err
		}
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, Invalid("limit", "limit and offset cannot be negative")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return nil, Invalid("end_time", "the end of the time range is before its start")
	}
	list, err := s.Store.FindSuppressions(ctx, store.SuppressionFilter{UserID: a.User.ID, Kind: q.Kind,
		AddressPrefix: q.EmailPrefix, Since: q.Since, Until: q.Until, Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, fmt.Errorf("admin: list suppressions: %w", err)
	}
	out := make([]Suppression, 0, len(list))
	for _, e := range list {
		out = append(out, suppression(e))
	}
	return out, nil
}

// GetSuppression returns the entry of email on the list of kind;
// ErrNotFound when the address is not on it.
func (s *Service) GetSuppression(ctx context.Context, a Actor, kind store.SuppressionKind, email string) (Suppression, error) {
	if err := a.need(ScopeSuppressionRead); err != nil {
		return Suppression{}, err
	}
	if _, err := ParseSuppressionKind(string(kind)); err != nil {
		return Suppression{}, err
	}
	list, err := s.Store.FindSuppressions(ctx, store.SuppressionFilter{UserID: a.User.ID, Kind: kind, Address: lookupAddress(email)})
	if err != nil {
		return Suppression{}, fmt.Errorf("admin: suppression: %w", err)
	}
	if len(list) == 0 {
		return Suppression{}, fmt.Errorf("%w: suppression", ErrNotFound)
	}
	return suppression(list[0]), nil
}

// SuppressionsAdded is what AddSuppressions did.
type SuppressionsAdded struct {
	// Emails is every address asked for, canonical and lower-cased, each
	// once, in the order given.
	Emails []string
	// Added are the entries that are new: an address on the list already
	// is left as it is.
	Added []Suppression
}

// AddSuppressions puts addresses on the list of kind in one transaction.
// Each address must be one that mail can be sent to (mailaddr.Parse); it
// is kept in its canonical form, lower-cased. A key adds global
// unsubscribes only, as SendGrid's API allows; the operator adds any kind
// (a list brought from elsewhere). An empty reason says who added it.
func (s *Service) AddSuppressions(ctx context.Context, a Actor, kind store.SuppressionKind, emails []string, reason string) (SuppressionsAdded, error) {
	if err := a.need(ScopeSuppressionCreate); err != nil {
		return SuppressionsAdded{}, err
	}
	if _, err := ParseSuppressionKind(string(kind)); err != nil {
		return SuppressionsAdded{}, err
	}
	if !a.Operator && kind != store.SuppressUnsubscribe {
		return SuppressionsAdded{}, Invalid("kind", "only global unsubscribes can be added")
	}
	addrs, err := checkEmails("recipient_emails", emails)
	if err != nil {
		return SuppressionsAdded{}, err
	}
	if reason == "" {
		reason = "added by the operator"
		if !a.Operator {
			reason = "added through the API with key " + a.Key.ID
		}
	}
	now := s.now()
	entries := make([]store.Suppression, 0, len(addrs))
	for _, addr := range addrs {
		entries = append(entries, store.Suppression{UserID: a.User.ID, Address: addr, Kind: kind, Reason: reason, CreatedAt: now})
	}
	added, err := s.Store.AddSuppressions(ctx, entries)
	if err != nil {
		return SuppressionsAdded{}, fmt.Errorf("admin: add suppressions: %w", err)
	}
	out := SuppressionsAdded{Emails: addrs, Added: make([]Suppression, 0, len(added))}
	for _, e := range added {
		out.Added = append(out.Added, suppression(e))
	}
	return out, nil
}

// DeleteSuppression takes email off the list of kind, or off every list
// with kind "" (the address can be sent to again); ErrNotFound when it
// was on none of them.
func (s *Service) DeleteSuppression(ctx context.Context, a Actor, kind store.SuppressionKind, email string) error {
	if err := a.need(ScopeSuppressionDelete); err != nil {
		return err
	}
	if kind != "" {
		if _, err := ParseSuppressionKind(string(kind)); err != nil {
			return err
		}
	}
	n, err := s.Store.DeleteSuppressions(ctx, a.User.ID, kind, []string{lookupAddress(email)})
	switch {
	case err != nil:
		return fmt.Errorf("admin: delete suppression: %w", err)
	case n == 0:
		return fmt.Errorf("%w: suppression", ErrNotFound)
	}
	return nil
}

// DeleteSuppressions takes addresses off the list of kind in one
// transaction and returns how many were on it; addresses that were not
// are no error.
func (s *Service) DeleteSuppressions(ctx context.Context, a Actor, kind store.SuppressionKind, emails []string) (int, error) {
	if err := a.need(ScopeSuppressionDelete); err != nil {
		return 0, err
	}
	if _, err := ParseSuppressionKind(string(kind)); err != nil {
		return 0, err
	}
	switch {
	case len(emails) == 0:
		return 0, Invalid("emails", "at least one email is required")
	case len(emails) > MaxSuppressionsPerRequest:
		return 0, Invalid("emails", "at most %d emails at once", MaxSuppressionsPerRequest)
	}
	keys := make([]string, 0, len(emails))
	for _, e := range emails {
		keys = append(keys, lookupAddress(e))
	}
	n, err := s.Store.DeleteSuppressions(ctx, a.User.ID, kind, keys)
	if err != nil {
		return 0, fmt.Errorf("admin: delete suppressions: %w", err)
	}
	return n, nil
}

// DeleteAllSuppressions empties the list of kind and returns how many
// entries it had.
func (s *Service) DeleteAllSuppressions(ctx context.Context, a Actor, kind store.SuppressionKind) (int, error) {
	if err := a.need(ScopeSuppressionDelete); err != nil {
		return 0, err
	}
	if _, err := ParseSuppressionKind(string(kind)); err != nil {
		return 0, err
	}
	n, err := s.Store.DeleteSuppressions(ctx, a.User.ID, kind, nil)
	if err != nil {
		return 0, fmt.Errorf("admin: delete all suppressions: %w", err)
	}
	return n, nil
}

// checkEmails parses addresses to add: at least one, at most
// MaxSuppressionsPerRequest, each valid; canonical, lower-cased, without
// repeats.
func checkEmails(field string, emails []string) ([]string, error) {
	switch {
	case len(emails) == 0:
		return nil, Invalid(field, "at least one email address is required")
	case len(emails) > MaxSuppressionsPerRequest:
		return nil, Invalid(field, "at most %d email addresses at once", MaxSuppressionsPerRequest)
	}
	out := make([]string, 0, len(emails))
	for _, e := range emails {
		addr, err := mailaddr.Parse(strings.TrimSpace(e))
		if err != nil {
			return nil, Invalid(field, "%.64q is not an email address", e)
		}
		if k := strings.ToLower(addr.String()); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// lookupAddress is the stored form of an address to look up or delete:
// canonical when it parses, else as given (lower-cased), so that an entry
// stored before addresses were checked can still be found and removed.
func lookupAddress(e string) string {
	e = strings.TrimSpace(e)
	if addr, err := mailaddr.Parse(e); err == nil {
		return strings.ToLower(addr.String())
	}
	return strings.ToLower(e)
}

// enhancedStatus finds the first RFC 3463 status code (class 2, 4 or 5)
// in a delivery result or bounce reason.
func enhancedStatus(reason string) string {
	for i := 0; i < len(reason); i++ {
		c := reason[i]
		if c != '2' && c != '4' && c != '5' || i > 0 && (asciiDigit(reason[i-1]) || reason[i-1] == '.') {
			continue
		}
		j, ok := i+1, true
		for part := 0; part < 2 && ok; part++ {
			if j >= len(reason) || reason[j] != '.' {
				ok = false
				break
			}
			j++
			n := 0
			for j < len(reason) && asciiDigit(reason[j]) && n < 3 {
				j, n = j+1, n+1
			}
			ok = n > 0
		}
		if ok && (j == len(reason) || !asciiDigit(reason[j]) && reason[j] != '.') {
			return reason[i:j]
		}
	}
	return ""
}

func asciiDigit(c byte) bool { return '0' <= c && c <= '9' }
