package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmts are the statements a message runs on its way in and out, compiled
// once at Open rather than on every call: SQLite's parse and plan was about
// a seventh of the CPU a message cost (issue 14). The rest of the store,
// administration, runs its queries from strings.
//
// The read statements run on the read pool; database/sql prepares each on
// a read connection the first time it meets that connection, and drops it
// with the connection. The write statements run only inside transactions,
// through tx.StmtContext, which reuses the statement already prepared on
// the single write connection. They are prepared here, before any
// transaction, because preparing on the write pool while a transaction
// holds its one connection would wait for that transaction forever.
//
// A statement stays valid across schema changes: the driver prepares with
// sqlite3_prepare_v2, which recompiles a statement whose schema changed.
type stmts struct {
	// read pool
	apiKey, userByName, allowedIPs, domain, sendersByAddress, limitsOf, messageBody, suppressed *sql.Stmt

	// write connection, inside transactions only
	claimSelect, claimUpdate, pendingRecipients, updateRecipient, insertEvent, insertSuppression,
	delayNotified, finishIfDone, insertMessage, insertRecipient *sql.Stmt
	outbox [len(outboxSizes)]*sql.Stmt // by outboxSizes (webhooks.go)

	all []*sql.Stmt
}

// prepareStmts prepares the statements on r (read) and w (write).
func prepareStmts(ctx context.Context, r, w *pool, d *Dialect) (*stmts, error) {
	s := &stmts{}
	for _, p := range []struct {
		dst   **sql.Stmt
		pool  *pool
		query string
	}{
		{&s.apiKey, r, apiKeyQuery},
		{&s.userByName, r, userByNameQuery},
		{&s.allowedIPs, r, allowedIPsQuery},
		{&s.domain, r, domainQuery},
		{&s.sendersByAddress, r, sendersByAddressQuery},
		{&s.limitsOf, r, limitsOfQuery},
		{&s.messageBody, r, messageBodyQuery},
		{&s.suppressed, r, suppressedQuery},

		{&s.claimSelect, w, claimSelectQuery + d.skipLocked("m")},
		{&s.claimUpdate, w, claimUpdateQuery},
		{&s.pendingRecipients, w, pendingRecipientsQuery},
		{&s.updateRecipient, w, updateRecipientQuery},
		{&s.insertEvent, w, insertEventQuery},
		{&s.insertSuppression, w, insertSuppressionQuery + ignoreExistingSuppression},
		{&s.delayNotified, w, delayNotifiedQuery},
		{&s.finishIfDone, w, finishIfDoneQuery},
		{&s.insertMessage, w, insertMessageQuery},
		{&s.insertRecipient, w, insertRecipientQuery},
	} {
		st, err := p.pool.PrepareContext(ctx, p.query)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("prepare %q: %w", p.query, err), s.close())
		}
		*p.dst = st
		s.all = append(s.all, st)
	}
	for i, n := range outboxSizes {
		st, err := w.PrepareContext(ctx, outboxQuery(n))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("prepare the outbox insert of %d: %w", n, err), s.close())
		}
		s.outbox[i] = st
		s.all = append(s.all, st)
	}
	return s, nil
}

// close closes every statement prepared.
func (s *stmts) close() error {
	var errs []error
	for _, st := range s.all {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
