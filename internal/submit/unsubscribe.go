package submit

import (
	"log/slog"

	"github.com/postern/postern/internal/account"
	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/unsub"
)

// ListUnsubscribe makes the one-click unsubscribe URL (RFC 8058) of
// recipient rcpt of message msgID sent by user userID
// (internal/unsub.Links).
type ListUnsubscribe interface {
	URL(userID int64, rcpt, msgID string) (string, error)
}

// listUnsubscribe adds List-Unsubscribe and List-Unsubscribe-Post to the
// message of a user who has list_unsubscribe on, when it has exactly one
// recipient (one body cannot name several) and no List-Unsubscribe of
// the sender's own, which is left as it is. It is stamped before the
// DKIM signature, which covers both fields; the body is never changed.
// A URL that cannot be made (an address too long for a token), or a
// header too full for two more fields, leaves the message without them,
// and is logged.
func (tx *Tx) listUnsubscribe(p account.Principal, id string, msg []byte, h message.Header, log *slog.Logger) ([]byte, message.Header) {
	if !p.User.ListUnsubscribe || len(tx.rcpts) != 1 || len(h.Values(unsub.HeaderList)) > 0 {
		return msg, h
	}
	url, err := tx.f.cfg.ListUnsubscribe.URL(p.User.ID, tx.rcpts[0], id)
	if err != nil {
		log.Warn("list-unsubscribe not added", "err", err)
		return msg, h
	}
	if url == "" {
		return msg, h
	}
	out, oh, err := message.AddFields(msg, h, unsub.Headers(url))
	if err != nil {
		// A header at its limits takes no more: sent without, as the
		// scanner's fields are.
		log.Warn("list-unsubscribe not added", "err", err)
		return msg, h
	}
	return out, oh
}
