// Package admin is what operators and tenants manage, as typed operations
// with typed results: users and subusers, API keys, domains, single
// senders, IP access, limits, suppressions, event webhooks' settings and
// the queue. The CLI (cmd/postern), the SendGrid v3 management API
// (internal/web/manageapi) and, later, the console are thin layers over
// it, so an operation means the same wherever it is asked for.
//
// Every operation takes an Actor: the operator (the CLI, which may do
// anything), or an API key acting for its own user or, through
// On-Behalf-Of, for a subuser of its account. An operation checks the
// Actor's scope (SendGrid's names, internal/account) and tenancy itself:
// a key never reaches another tenant, and another tenant's object is
// ErrNotFound, never ErrForbidden, so that its existence is not confirmed.
//
// One logical change is one store transaction.
package admin
