package store

import "time"

// SuppressionKind is the list a suppression is on; the names are those
// of SendGrid's lists.
type SuppressionKind string

// The kinds of suppression.
const (
	// SuppressBounce: a permanent failure about the address (RFC 3463
	// X.1.X, 5.2.1), in delivery or in a bounce received later.
	SuppressBounce SuppressionKind = "bounce"
	// SuppressBlock: a receiver's refusal that is not about the address.
	SuppressBlock SuppressionKind = "block"
	// SuppressInvalid: an address that cannot receive mail at all.
	SuppressInvalid SuppressionKind = "invalid"
	// SuppressSpamReport: the recipient reported the mail as spam.
	SuppressSpamReport SuppressionKind = "spam_report"
	// SuppressUnsubscribe: a global unsubscribe, asked by the recipient
	// or added by the user or the operator.
	SuppressUnsubscribe SuppressionKind = "unsubscribe"
)

// SuppressionKinds returns every kind, in a new slice.
func SuppressionKinds() []SuppressionKind {
	return []SuppressionKind{SuppressBounce, SuppressBlock, SuppressInvalid, SuppressSpamReport, SuppressUnsubscribe}
}

// SuppressionFilter selects a user's suppressions. Zero fields select
// everything.
type SuppressionFilter struct {
	UserID int64
	Kind   SuppressionKind // "": every kind
	// Address is one address (compared lower-cased); AddressPrefix
	// selects the addresses that start with it, "%" standing for any run
	// of characters (SendGrid's email query parameter).
	Address       string
	AddressPrefix string
	// Since and Until bound the time the entry was added, both inclusive.
	Since, Until time.Time
	// Limit (0: no limit) and Offset page through the result.
	Limit, Offset int
}
