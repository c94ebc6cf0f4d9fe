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
// The queries themselves are store/sqlstore's, shared with PostgreSQL;
// what is SQLite's alone — the DSN and pragmas, the pools, the schema's
// types, the mapping of constraint errors — stays here.
//
// Schema. Migrations are an ordered list in schema.go, each applied once in
// its own transaction and recorded in schema_migrations; a database migrated
// by a newer Postern is refused. Timestamps are BIGINT microseconds since
// the Unix epoch, returned in UTC.
package sqlite
