// Package lockout decides when a client that keeps failing SMTP AUTH is
// refused, and bounds how many connections one address and the whole server
// may hold. It is pure logic: it stores nothing on disk, starts no
// goroutine, and every decision takes the current time as an argument, so
// tests drive it with an injected clock.
//
// # What is counted
//
// The unit is a client prefix (Prefix): an IPv4 address (/32), or the /64
// of an IPv6 address, since one IPv6 host usually holds a whole /64 and
// could otherwise walk through it. An IPv4-mapped IPv6 address
// (::ffff:192.0.2.1) is the IPv4 address it maps.
//
// A Tracker keeps two counters. Failed AUTHs are counted per client
// prefix: Config.PerIP failures within Config.Window lock the prefix out,
// and while it is locked out every AUTH from it is refused, whatever key
// it presents — Check is asked before the credentials are looked at, so a
// valid key does not get an attacker past the lockout. Failures are also
// counted per key id (the public part of an API key, see package account);
// the per-key rule is described below.
//
// The first lockout lasts Config.Backoff; each further lockout of the same
// client doubles the previous length, up to Config.MaxBackoff. After
// Config.Forget without failures the repetition is forgotten and the next
// lockout is Backoff again. The failures that started a lockout are spent:
// when it ends, the client has PerIP fresh attempts before the next (longer)
// one. Failures reported for a client that is locked out are not counted
// (Check refused them before any credential was looked at), but they do
// keep the repetition from being forgotten.
//
// # A successful AUTH does not clear the address
//
// Succeed does not reset a prefix's failure count or its repetition. An
// attacker holding one valid key must not be able to wipe the counter
// between guesses at other keys by logging in with the key it has. Succeed
// only forgives the failures the same prefix made against the key id it
// just proved it owns (see below).
//
// # The per-key rule: lock the guessers, not the owner
//
// A key id is public — it is printed by "postern apikey list", written in
// logs and may travel in Received headers — so anyone can aim failed AUTHs
// at a victim's key id. If too many failures against one id locked that id
// for everyone, an attacker could keep a legitimate user's application
// from sending at will. Postern does not do that.
//
// Instead, when a key id has had Config.PerKey failures within
// Config.Window (from any mix of prefixes), the key id is refused only to
// the prefixes that themselves failed against it within that window, each
// for its own backoff (doubling per repetition like the per-prefix
// lockout). While the key id stays over its threshold, any further prefix
// that fails against it is refused for that id from its first failure.
// The owner, connecting from a prefix that has not failed against the id,
// keeps working; an owner whose application fails against its own key
// while it is under attack is refused for that id too, for Backoff.
// Succeed removes a prefix's own failures from the key id's count, so an
// owner's earlier typo does not count it among the guessers.
//
// A key lockout does not make guessing the secret feasible for an
// attacker with many addresses either way: a secret is 160 random bits.
// The lockouts exist to cut noise and load, and the per-prefix counter
// stops a single client outright.
//
// # Memory
//
// Every prefix, key id and (prefix, key id) pair with recent failures
// holds one entry, at most Config.MaxEntries in all; beyond that the least
// recently used entries are evicted. Check and Fail refresh the entries
// they read, so a client that keeps knocking keeps its lockout in memory.
// An evicted entry loses its count and its repetition; a client able to
// produce that many fresh entries could already change addresses. Check
// never creates an entry.
//
// # Connections
//
// Conns counts open connections per client prefix (an IPv4 address or an
// IPv6 /64), per IPv6 /48 and in total, and refuses a new one beyond any
// limit, so that a single address or site cannot take every slot and slow
// or idle clients cannot exhaust the server. The server keeps one Conns
// per kind of listener (submission, MX), so strangers on the public MX
// port cannot take the slots of paying tenants.
//
// # Fixed failure delay
//
// Pace tells a caller how long to sleep so that an AUTH failure reply goes
// out a fixed time after the AUTH began, whatever the cause — malformed
// key, unknown id, wrong secret, lockout — so that timing reveals nothing.
//
// No RFC defines these rules; RFC 4954 §6 lets a server refuse AUTH with
// 535 5.7.8 (bad credentials) or a temporary 454 4.7.0, which is how the
// caller replies.
package lockout
