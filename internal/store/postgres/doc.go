// Package postgres is Postern's cluster storage driver: store.Store on a
// PostgreSQL database that every `postern serve` node shares, through
// jackc/pgx/v5's database/sql adapter. The SQL is store/sqlstore's, the
// same the embedded SQLite driver runs; what is PostgreSQL's alone is here.
//
// Durability. Open refuses a server whose commits are not durable when
// they return (fsync off, synchronous_commit off). EnqueueBatch commits a
// whole batch in one transaction, as on SQLite: the group commit.
//
// Concurrency. Transactions run at READ COMMITTED on a pool of
// connections, side by side and from several nodes. A claim of due
// messages is SELECT … FOR UPDATE OF m SKIP LOCKED followed by the update
// of their next attempt in the same transaction: two nodes claiming at
// once take different messages, and neither waits for the other. The
// saved next attempt is the claim's lease: a node that dies mid-delivery
// leaves its messages to be claimed again by another node when it ends.
// Rate-limit counters are read and updated under a transaction-scoped
// advisory lock per subject, taken in sorted order, so N nodes admit a
// limit once, not N times.
//
// Schema. Migrations are an ordered list in schema.go; nodes starting at
// once take a session advisory lock, so exactly one applies each
// migration. A database migrated by a newer Postern is refused. Version 1
// is SQLite's schema as of its version 14; text is collated "C" so that
// ordering is byte-wise on both drivers.
package postgres
