// Package sqlstore is store.Store written once, in the SQL that SQLite and
// PostgreSQL both accept, over database/sql. The drivers (store/sqlite,
// store/postgres) open their pools, apply their own schema migrations and
// hand New a Dialect: how placeholders are written, how a constraint
// violation is recognised, the lock a claim takes, how counters are locked.
//
// Queries are written with `?` placeholders; for PostgreSQL they are
// rewritten to $1, $2 … once per query string. Times are BIGINT
// microseconds since the Unix epoch, booleans INTEGER 0 or 1, in both
// schemas, so that the same statements read and write both.
//
// Transactions. SQLite runs one write transaction at a time (one writer
// connection, BEGIN IMMEDIATE); PostgreSQL runs them at READ COMMITTED
// side by side. What must not race says so in the SQL itself: a claim
// locks the rows it takes and skips the rows others hold (Dialect
// SkipLocked), counters are updated under a per-subject lock
// (Dialect.LockCounters), and uniqueness is left to constraints, whose
// violations become store.ErrExists whichever transaction loses.
//
// Prepared statements. What every message runs — the lookups at AUTH, MAIL
// FROM and signing, the insert of a batch, a claim and the record of an
// attempt — is prepared once at New and reused (stmts.go); inside a
// transaction through tx.StmtContext. Administration runs its queries from
// strings.
package sqlstore
