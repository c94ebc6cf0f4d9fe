// Package ratelimit decides whether a message may be sent now, under the
// rate limits and quotas of the subjects it is sent as: the API key, its
// user and, when there is one, the parent account.
//
// It is pure logic with time passed in; it stores nothing durable and
// replies nothing on the wire. The caller (the SMTP session through the
// policy hook) turns a [Decision] into a reply and the CLI shows [Limiter.Usage].
//
// # Limits
//
// A [Limit] bounds messages, recipients or both over one [Period]: a minute,
// an hour, a day or a month. Windows are fixed and calendar-aligned in UTC
// ([Window]): 14:00:00–15:00:00, midnight to midnight, the 1st of the month
// 00:00 to the 1st of the next. A message counts 1 message and N recipients
// against every subject of the request. Defaults come from the config and
// per-subject overrides replace them period by period ([Merge]).
//
// # Decisions
//
// A message that would take a window over a reject-mode limit is refused
// with the time until that window ends (the longest among the blocking
// ones); the SMTP layer answers "451 4.7.0" (RFC 3463 §3.8, X.7.0 "other or
// undefined security status") with [Decision.Reason], which names the
// subject and the limit and never anything internal. A blocking month limit
// is a quota: the refusal is permanent ([Decision.Permanent], a 5.7.0 reply)
// until the next month. A message with more recipients than a recipients
// limit allows could never pass, whatever the window: it is refused
// permanently rather than sent into a retry loop.
//
// A message that exceeds only hold-mode limits is accepted and held: it
// must be delivered no earlier than [Decision.HoldUntil], the latest end
// among the exceeded windows.
//
// # Held mail is counted where it is released
//
// A held message is counted in the windows that contain its release time,
// not in the current ones, so that mail held back in one window cannot
// burst the next one. [Decide] judges a single instant from the current
// windows' usage. [Limiter.Reserve] goes further: when the release time's
// windows are already full of earlier held mail, it looks at the next
// release time, and so on, and it applies every limit — reject-mode ones
// included — to the windows the message is finally counted in. A sender
// therefore cannot hold an unbounded backlog: past a few thousand steps of
// backlog the message is refused for now.
//
// # Exactness
//
// [Limiter] keeps every counter in memory, under one mutex, and checks and
// reserves in one step, so concurrent sessions never over-admit. Counts are
// taken at MAIL/DATA time and given back with [Reservation.Cancel] when the
// message is refused later (spam scan, a failed commit). Counters of ended
// windows are discarded lazily. The limiter's clock never runs backwards: a
// request stamped earlier than one already seen is judged at the later time.
// At start-up the app restores the current windows from the store with
// [Limiter.Seed].
//
// Counters kept elsewhere — in a store that several nodes share — get the
// same decisions from [Plan], the Limiter's own decision over a lookup the
// caller provides; the caller makes the lookup and the counting one atomic
// step (a transaction) and hands back a [ReservationFunc] that undoes it.
package ratelimit
