package submit

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/postern/postern/internal/message"
	"github.com/postern/postern/internal/queue"
	"github.com/postern/postern/internal/store"
)

// Notices is the funnel's door for Postern's own mail: delivery status
// notifications, delay notices and sender confirmations. What it checks
// and what it skips, and why:
//
//   - checked: line endings, line length and header syntax, exactly as for
//     a client's message (Postern's own text can have bugs too); header
//     hygiene; Date and Message-ID when missing (no Received: the message
//     starts here);
//   - skipped: authentication, identity, rate limits and quotas (no key
//     sent it; a DSN must go out even when the user is over a limit), and
//     the spam scan (Postern wrote the text; a DSN quotes the user's own
//     message, which was scanned when it came in);
//   - DKIM: not signed. Postern's own mail comes from its hostname, which
//     has no signing key; its envelope sender is the null sender, so a
//     notice never bounces.
//
// Prepare returns the record without storing it, so that the delivery
// worker can commit a DSN in the same transaction as the attempt that
// caused it; Send stores it through the queue.
type Notices struct {
	Hostname string
	Queue    Enqueuer // for Send; nil when only Prepare is used
	Now      func() time.Time
	Rand     io.Reader // nil: crypto/rand
}

// Notice is one message of Postern's own.
type Notice struct {
	UserID int64  // the user the notice is about (whose mail bounced, who asked)
	To     string // the single recipient
	Body   []byte // a complete RFC 5322 message written by Postern
}

// Prepare checks and stamps n and returns its queue record, from the null
// sender.
func (s Notices) Prepare(n Notice) (store.NewMessage, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	if err := message.CheckLineEndings(n.Body); err != nil {
		return store.NewMessage{}, fmt.Errorf("submit: notice: %w", err)
	}
	if err := message.CheckLineLength(n.Body, MaxDataLine); err != nil {
		return store.NewMessage{}, fmt.Errorf("submit: notice: %w", err)
	}
	h, err := message.ParseHeader(n.Body)
	if err != nil {
		return store.NewMessage{}, fmt.Errorf("submit: notice: %w", err)
	}
	id, err := queue.NewID(now, r)
	if err != nil {
		return store.NewMessage{}, fmt.Errorf("submit: notice: %w", err)
	}
	body, _, err := message.PrepareParsed(n.Body, h, message.Stamp{
		Hostname: s.Hostname,
		Now:      now,
		Rand:     r,
		Drop:     Drop(s.Hostname),
	})
	if err != nil {
		return store.NewMessage{}, fmt.Errorf("submit: notice: %w", err)
	}
	return store.NewMessage{ID: id, UserID: n.UserID, From: "", Recipients: []string{n.To}, Body: body, CreatedAt: now}, nil
}

// Send prepares n and commits it to the queue; it returns the queue id once
// the commit is synced.
func (s Notices) Send(ctx context.Context, n Notice) (string, error) {
	if s.Queue == nil {
		return "", fmt.Errorf("submit: notice: no queue")
	}
	m, err := s.Prepare(n)
	if err != nil {
		return "", err
	}
	if err := s.Queue.Enqueue(ctx, m); err != nil {
		return "", fmt.Errorf("submit: notice: %w", err)
	}
	return m.ID, nil
}
