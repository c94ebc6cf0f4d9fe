// Package quota applies rate limits and quotas to submissions: the
// configured defaults of every user, the overrides kept in the store (per
// user or per key), and counters that make the limits exact.
//
// A message counts against its key, its user and, for a subuser, its
// account. Keys have only the limits set on them; users have the defaults
// unless overridden.
//
// # Where the counters are kept
//
// Both modes decide alike: the decision is ratelimit's (ratelimit.Plan),
// held mail included, and only the place of the counts differs.
//
// With the embedded SQLite store ([New]), one node owns the database file,
// so the counters can live in that process: an exact ratelimit.Limiter,
// seeded at start from the queue itself (every accepted message is a row;
// [Service.Seed]). Keeping them in the store instead would cost a write
// transaction, and its fsync, for every reservation and every give-back,
// on the one writer every commit already queues for: throughput paid for
// nothing, since no other node counts.
//
// With PostgreSQL several nodes serve one database ([NewShared]), and
// counters in one process would let each node admit the limit: N nodes, N
// times the limit. In shared mode the counters are rows of the store
// (store.CounterStore): a reservation reads the live windows of its
// subjects, decides and adds its counts in one transaction that no other
// reservation for those subjects, on any node, runs beside. N nodes thus
// admit the limit once. A reservation given back (Cancel) is a second
// transaction that subtracts what the first added. Each call is judged at
// the time it is given; nodes' clocks should agree (NTP), or one may count
// into a window another thinks ended.
//
// Subjects are stored as their kind and raw id ("key k_1234", "user acme"),
// not ratelimit.Subject.String, which rewrites unusual characters and
// could make two subjects one.
package quota
