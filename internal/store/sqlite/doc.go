// Package sqlite is Postern's embedded storage driver: store.Store on one
// SQLite file, through the pure-Go modernc.org/sqlite (no cgo).
//
// Durability. The database runs in WAL mode with synchronous=FULL, so a
// commit returns only after the write-ahead log is fsynced; Open checks both
// settings and refuses a database where they did not take effect (DESIGN.md,
// "Storage"). EnqueueBatch writes a whole batch in one transaction, which is
// the group commit: one fsync for every message the queue has gathered.
//
// Concurrency. Writes go through a pool of exactly one connection, so they
// queue in Go rather than spin on SQLite's busy handler; transactions begin
// IMMEDIATE, and busy_timeout covers other processes (an admin command run
// beside `postern serve`). Reads use a separate pool of query-only
// connections, which WAL lets run beside the writer.
//
// Prepared statements. What every message runs — the lookups at AUTH, MAIL
// FROM and signing, the insert of a batch, a claim and the record of an
// attempt — is prepared once at Open and reused (stmts.go); inside a
// transaction through tx.StmtContext, which finds the statement already
// prepared on the one write connection. Administration runs its queries
// from strings.
//
// Schema. Migrations are an ordered list in schema.go, each applied once in
// its own transaction and recorded in schema_migrations; a database migrated
// by a newer Postern is refused. Timestamps are BIGINT microseconds since
// the Unix epoch, returned in UTC.
//
// Portability. The queries are plain SQL that PostgreSQL also accepts, save
// the `?` placeholders; what is SQLite's alone — the DSN and pragmas, the
// schema's types, the mapping of constraint errors — stays in sqlite.go and
// schema.go.
package sqlite
