// Package jobs runs the periodic work of a node that must happen once per
// period for the whole installation, not once per node: the domain
// re-checks, retention. Each job runs on a timer on every node, and a
// lease in the store (store.LeaseStore) lets one node through per period;
// the lease lasts one period, so when its holder dies, another node takes
// the job over at the next period. On one node the lease is always free
// for it: a single instance behaves as before.
//
// A job's panic is recovered, counted and logged; the job runs again at
// its next period.
package jobs
