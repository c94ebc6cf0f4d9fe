package ratelimit

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Period is the length of a limit's window.
type Period string

// The periods, shortest first.
const (
	Minute Period = "minute"
	Hour   Period = "hour"
	Day    Period = "day"
	Month  Period = "month"
)

// Periods returns every period, shortest first.
func Periods() []Period { return []Period{Minute, Hour, Day, Month} }

// rank orders periods by length; 0 for an unknown period.
func (p Period) rank() int {
	switch p {
	case Minute:
		return 1
	case Hour:
		return 2
	case Day:
		return 3
	case Month:
		return 4
	}
	return 0
}

func (p Period) valid() bool { return p.rank() != 0 }

// ParsePeriod parses "minute", "hour", "day" or "month" (any case).
func ParsePeriod(s string) (Period, error) {
	p := Period(strings.ToLower(strings.TrimSpace(s)))
	if !p.valid() {
		return "", fmt.Errorf("ratelimit: unknown period %q (want minute, hour, day or month)", s)
	}
	return p, nil
}

// Mode says what happens to a message over a limit.
type Mode string

// The modes. The zero Mode means ModeReject.
const (
	ModeReject Mode = "reject" // refuse with a temporary error (permanent for a month)
	ModeHold   Mode = "hold"   // accept and hold the message until the window allows
)

// ParseMode parses "reject" or "hold" (any case); "" is ModeReject.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", ModeReject:
		return ModeReject, nil
	case ModeHold:
		return ModeHold, nil
	default:
		return "", fmt.Errorf("ratelimit: unknown mode %q (want reject or hold)", s)
	}
}

// hold reports whether m is hold mode. Anything else, an unknown mode
// included, rejects: a typo never lets mail through.
func (m Mode) hold() bool { return m == ModeHold }

// Limit bounds what a subject may send in one window of Period.
// A zero (or negative) Messages or Recipients is unlimited.
type Limit struct {
	Period     Period
	Messages   int64
	Recipients int64
	Mode       Mode
}

// Validate reports a limit that the config or the CLI should not accept.
// Decide ignores a limit with an unknown period and treats an unknown mode
// as reject.
func (l Limit) Validate() error {
	if !l.Period.valid() {
		return fmt.Errorf("ratelimit: unknown period %q (want minute, hour, day or month)", l.Period)
	}
	if _, err := ParseMode(string(l.Mode)); err != nil {
		return err
	}
	if l.Messages < 0 || l.Recipients < 0 {
		return fmt.Errorf("ratelimit: %s limit: negative count", l.Period)
	}
	return nil
}

// String describes the limit for people: "100 messages and 500 recipients
// per hour (hold)", "unlimited per day".
func (l Limit) String() string {
	var parts []string
	if l.Messages > 0 {
		parts = append(parts, count(l.Messages, "message"))
	}
	if l.Recipients > 0 {
		parts = append(parts, count(l.Recipients, "recipient"))
	}
	s := "unlimited"
	if len(parts) > 0 {
		s = strings.Join(parts, " and ")
	}
	s += " per " + string(l.Period)
	if l.Mode.hold() {
		s += " (hold)"
	}
	return s
}

// count renders "1 message", "2 messages".
func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}

// Subject is what a counter set belongs to: a user (account or subuser)
// or an API key.
type Subject struct {
	Kind string // "user" or "key"
	ID   string
}

// The subject kinds.
const (
	KindUser = "user"
	KindKey  = "key"
)

// User returns the subject for the user named id.
func User(id string) Subject { return Subject{Kind: KindUser, ID: id} }

// Key returns the subject for the API key with this (public) id.
func Key(id string) Subject { return Subject{Kind: KindKey, ID: id} }

// String is "user acme", "key k_1234": safe in a reply, it names no secret.
func (s Subject) String() string { return safeText(s.Kind) + " " + safeText(s.ID) }

// safeText keeps a name that came from elsewhere fit for a one-line SMTP
// reply: printable ASCII only, bounded length.
func safeText(s string) string {
	const maxLen = 64
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxLen {
			b.WriteString("...")
			break
		}
		if r < 0x21 || r > 0x7e {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Window returns the fixed, calendar-aligned window of period p that
// contains now, in UTC: [start, end). Minutes, hours and days start on
// their boundary; a month runs from the 1st 00:00 UTC to the next 1st.
// For an unknown period, start and end are both now.
func Window(p Period, now time.Time) (start, end time.Time) {
	t := now.UTC()
	y, mo, d := t.Date()
	switch p {
	case Minute:
		start = time.Date(y, mo, d, t.Hour(), t.Minute(), 0, 0, time.UTC)
		return start, start.Add(time.Minute)
	case Hour:
		start = time.Date(y, mo, d, t.Hour(), 0, 0, 0, time.UTC)
		return start, start.Add(time.Hour)
	case Day:
		return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC), time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
	case Month:
		return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC), time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return t, t
}

// Merge returns the limits that apply to a subject: the defaults, except
// that the overrides for a period replace every default for that period.
// An override with no counts (unlimited) thus lifts a default. The result
// is ordered by period, shortest first, and shares no memory with the
// arguments.
func Merge(defaults, overrides []Limit) []Limit {
	overridden := make(map[Period]bool, len(overrides))
	for _, o := range overrides {
		overridden[o.Period] = true
	}
	out := make([]Limit, 0, len(defaults)+len(overrides))
	for _, d := range defaults {
		if !overridden[d.Period] {
			out = append(out, d)
		}
	}
	out = append(out, overrides...)
	slices.SortStableFunc(out, func(a, b Limit) int { return cmp.Compare(a.Period.rank(), b.Period.rank()) })
	return out
}
