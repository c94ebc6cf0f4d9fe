// Package queue is Postern's durable message queue.
//
// Enqueue returns only when the message — envelope and body — is committed
// and synced by the store (DESIGN.md, "Storage"): the SMTP server replies
// 250 after that and never before. Concurrent Enqueue calls are batched by
// one committer goroutine into a single store transaction (group commit), so
// N sessions finishing DATA at the same moment share one fsync.
//
// The delivery worker (a later issue) consumes the queue through the store.
package queue
