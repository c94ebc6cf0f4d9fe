package store

import "time"

// MessageFilter selects messages for queue administration. The zero value
// selects every message.
type MessageFilter struct {
	// UserID: only this user's messages; 0: every user's.
	UserID int64
	// State: only messages in this state; "": any.
	State MessageState
	// Retried: only messages tried at least once (Attempts > 0).
	Retried bool
	// Recipient: only messages with at least one recipient in this state;
	// "": any.
	Recipient RecipientState
	// Since: only messages created at or after Since; zero: any time.
	Since time.Time
	// After is a cursor: the id of the last message of the previous page;
	// only messages after it in listing order follow. An id that is not a
	// stored message is ErrNotFound.
	After string
	// Offset skips that many matching messages (after After).
	Offset int
	// Limit returns at most that many messages; 0: no limit.
	Limit int
}
