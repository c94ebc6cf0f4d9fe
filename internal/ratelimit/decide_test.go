package ratelimit

import (
	"strings"
	"testing"
	"time"
)

var (
	keyK1   = Key("k1")
	userAcm = User("acme")
	account = User("parent")
)

func TestDecide(t *testing.T) {
	now := utc(2026, 3, 14, 15, 48, 0) // 12m to the hour, 8h12m to the day
	minuteEnd := utc(2026, 3, 14, 15, 49, 0)
	hourEnd := utc(2026, 3, 14, 16, 0, 0)
	dayEnd := utc(2026, 3, 15, 0, 0, 0)
	monthEnd := utc(2026, 4, 1, 0, 0, 0)

	one := func(s Subject, ls ...Limit) []SubjectLimits { return []SubjectLimits{{Subject: s, Limits: ls}} }
	use := func(s Subject, p Period, msgs, rcpts int64) Usage {
		return Usage{s: {p: {Messages: msgs, Recipients: rcpts}}}
	}
	type want struct {
		allow, hold, permanent bool
		holdUntil              time.Time
		retryAfter             time.Duration
		blocking               *Limit
		subject                Subject
		reason                 string // substring
	}
	tests := []struct {
		name     string
		subjects []SubjectLimits
		rcpts    int64
		usage    Usage
		want     want
	}{
		{
			name: "no limits", subjects: one(userAcm), rcpts: 3,
			want: want{allow: true},
		},
		{
			name: "no subjects", rcpts: 3,
			want: want{allow: true},
		},
		{
			name:     "unlimited limit",
			subjects: one(userAcm, Limit{Period: Hour}), rcpts: 1000,
			usage: use(userAcm, Hour, 1e9, 1e9),
			want:  want{allow: true},
		},
		{
			name:     "under the minute limit",
			subjects: one(userAcm, Limit{Period: Minute, Messages: 10}), rcpts: 1,
			usage: use(userAcm, Minute, 9, 9),
			want:  want{allow: true},
		},
		{
			name:     "minute messages reached",
			subjects: one(userAcm, Limit{Period: Minute, Messages: 10}), rcpts: 1,
			usage: use(userAcm, Minute, 10, 10),
			want: want{retryAfter: time.Minute, blocking: &Limit{Period: Minute, Messages: 10}, subject: userAcm,
				reason: "user acme: 10 messages per minute reached; try again in 60s"},
		},
		{
			name:     "hour messages reached",
			subjects: one(userAcm, Limit{Period: Hour, Messages: 100}), rcpts: 1,
			usage: use(userAcm, Hour, 100, 0),
			want: want{retryAfter: 12 * time.Minute, blocking: &Limit{Period: Hour, Messages: 100}, subject: userAcm,
				reason: "user acme: 100 messages per hour reached; try again in 12m"},
		},
		{
			name:     "usage of another period does not count",
			subjects: one(userAcm, Limit{Period: Hour, Messages: 100}), rcpts: 1,
			usage: use(userAcm, Day, 100, 0),
			want:  want{allow: true},
		},
		{
			name:     "day recipients: fits exactly",
			subjects: one(userAcm, Limit{Period: Day, Recipients: 500}), rcpts: 10,
			usage: use(userAcm, Day, 3, 490),
			want:  want{allow: true},
		},
		{
			name:     "day recipients: one too many",
			subjects: one(userAcm, Limit{Period: Day, Recipients: 500}), rcpts: 11,
			usage: use(userAcm, Day, 3, 490),
			want: want{retryAfter: 8*time.Hour + 12*time.Minute, blocking: &Limit{Period: Day, Recipients: 500}, subject: userAcm,
				reason: "user acme: 500 recipients per day reached; try again in 8h12m"},
		},
		{
			name:     "messages fine, recipients over",
			subjects: one(keyK1, Limit{Period: Hour, Messages: 100, Recipients: 100}), rcpts: 5,
			usage: use(keyK1, Hour, 10, 98),
			want: want{retryAfter: 12 * time.Minute, blocking: &Limit{Period: Hour, Messages: 100, Recipients: 100}, subject: keyK1,
				reason: "key k1: 100 recipients per hour reached"},
		},
		{
			name:     "both over: messages named",
			subjects: one(keyK1, Limit{Period: Hour, Messages: 10, Recipients: 100}), rcpts: 5,
			usage: use(keyK1, Hour, 10, 98),
			want: want{retryAfter: 12 * time.Minute, blocking: &Limit{Period: Hour, Messages: 10, Recipients: 100}, subject: keyK1,
				reason: "key k1: 10 messages per hour reached"},
		},
		{
			name:     "month quota exhausted is permanent",
			subjects: one(userAcm, Limit{Period: Month, Messages: 10000}), rcpts: 1,
			usage: use(userAcm, Month, 10000, 20000),
			want: want{permanent: true, retryAfter: monthEnd.Sub(now), blocking: &Limit{Period: Month, Messages: 10000}, subject: userAcm,
				reason: "user acme: monthly quota of 10000 messages reached; it resets 2026-04-01 00:00 UTC"},
		},
		{
			name: "key fine, user over",
			subjects: []SubjectLimits{
				{Subject: keyK1, Limits: []Limit{{Period: Hour, Messages: 100}}},
				{Subject: userAcm, Limits: []Limit{{Period: Hour, Messages: 50}}},
			},
			rcpts: 1,
			usage: Usage{keyK1: {Hour: {Messages: 40}}, userAcm: {Hour: {Messages: 50}}},
			want: want{retryAfter: 12 * time.Minute, blocking: &Limit{Period: Hour, Messages: 50}, subject: userAcm,
				reason: "user acme: 50 messages per hour reached"},
		},
		{
			name: "parent account over",
			subjects: []SubjectLimits{
				{Subject: keyK1, Limits: []Limit{{Period: Day, Messages: 100}}},
				{Subject: userAcm, Limits: []Limit{{Period: Day, Messages: 100}}},
				{Subject: account, Limits: []Limit{{Period: Day, Messages: 1000}}},
			},
			rcpts: 1,
			usage: Usage{keyK1: {Day: {Messages: 1}}, userAcm: {Day: {Messages: 1}}, account: {Day: {Messages: 1000}}},
			want: want{retryAfter: dayEnd.Sub(now), blocking: &Limit{Period: Day, Messages: 1000}, subject: account,
				reason: "user parent: 1000 messages per day reached"},
		},
		{
			name: "several reject limits: the longest wait decides",
			subjects: []SubjectLimits{
				{Subject: keyK1, Limits: []Limit{{Period: Minute, Messages: 1}, {Period: Day, Messages: 5}}},
				{Subject: userAcm, Limits: []Limit{{Period: Hour, Messages: 3}}},
			},
			rcpts: 1,
			usage: Usage{keyK1: {Minute: {Messages: 1}, Day: {Messages: 5}}, userAcm: {Hour: {Messages: 3}}},
			want:  want{retryAfter: dayEnd.Sub(now), blocking: &Limit{Period: Day, Messages: 5}, subject: keyK1},
		},
		{
			name: "month blocks with day: permanent",
			subjects: one(userAcm,
				Limit{Period: Day, Messages: 10},
				Limit{Period: Month, Messages: 100}),
			rcpts: 1,
			usage: Usage{userAcm: {Day: {Messages: 10}, Month: {Messages: 100}}},
			want:  want{permanent: true, retryAfter: monthEnd.Sub(now), blocking: &Limit{Period: Month, Messages: 100}, subject: userAcm},
		},
		{
			name:     "hold limit over: held until the window ends, still allowed",
			subjects: one(userAcm, Limit{Period: Hour, Messages: 100, Mode: ModeHold}), rcpts: 1,
			usage: use(userAcm, Hour, 100, 0),
			want: want{allow: true, hold: true, holdUntil: hourEnd, blocking: &Limit{Period: Hour, Messages: 100, Mode: ModeHold}, subject: userAcm,
				reason: "user acme: 100 messages per hour reached; message held until 2026-03-14 16:00 UTC"},
		},
		{
			name: "several hold limits: latest end",
			subjects: one(userAcm,
				Limit{Period: Minute, Messages: 1, Mode: ModeHold},
				Limit{Period: Day, Recipients: 10, Mode: ModeHold}),
			rcpts: 2,
			usage: Usage{userAcm: {Minute: {Messages: 1}, Day: {Recipients: 9}}},
			want:  want{allow: true, hold: true, holdUntil: dayEnd, blocking: &Limit{Period: Day, Recipients: 10, Mode: ModeHold}, subject: userAcm},
		},
		{
			name: "hold and reject over: reject wins",
			subjects: []SubjectLimits{
				{Subject: keyK1, Limits: []Limit{{Period: Minute, Messages: 5}}},
				{Subject: userAcm, Limits: []Limit{{Period: Day, Messages: 100, Mode: ModeHold}}},
			},
			rcpts: 1,
			usage: Usage{keyK1: {Minute: {Messages: 5}}, userAcm: {Day: {Messages: 100}}},
			want:  want{retryAfter: minuteEnd.Sub(now), blocking: &Limit{Period: Minute, Messages: 5}, subject: keyK1},
		},
		{
			name: "hold over, reject under: held",
			subjects: []SubjectLimits{
				{Subject: keyK1, Limits: []Limit{{Period: Minute, Messages: 5}}},
				{Subject: userAcm, Limits: []Limit{{Period: Hour, Messages: 100, Mode: ModeHold}}},
			},
			rcpts: 1,
			usage: Usage{keyK1: {Minute: {Messages: 4}}, userAcm: {Hour: {Messages: 100}}},
			want:  want{allow: true, hold: true, holdUntil: hourEnd, blocking: &Limit{Period: Hour, Messages: 100, Mode: ModeHold}, subject: userAcm},
		},
		{
			name:     "month hold: held to next month, not permanent",
			subjects: one(userAcm, Limit{Period: Month, Messages: 10, Mode: ModeHold}), rcpts: 1,
			usage: use(userAcm, Month, 10, 0),
			want:  want{allow: true, hold: true, holdUntil: monthEnd, blocking: &Limit{Period: Month, Messages: 10, Mode: ModeHold}, subject: userAcm},
		},
		{
			name:     "oversize message: permanent, even in an empty window",
			subjects: one(keyK1, Limit{Period: Hour, Recipients: 100}), rcpts: 150,
			want: want{permanent: true, blocking: &Limit{Period: Hour, Recipients: 100}, subject: keyK1,
				reason: "key k1: 150 recipients in one message is more than the limit of 100 recipients per hour"},
		},
		{
			name:     "oversize message in hold mode: still refused",
			subjects: one(userAcm, Limit{Period: Day, Recipients: 10, Mode: ModeHold}), rcpts: 11,
			want: want{permanent: true, blocking: &Limit{Period: Day, Recipients: 10, Mode: ModeHold}, subject: userAcm},
		},
		{
			name: "oversize beats a reject elsewhere",
			subjects: []SubjectLimits{
				{Subject: keyK1, Limits: []Limit{{Period: Month, Messages: 1}}},
				{Subject: userAcm, Limits: []Limit{{Period: Minute, Recipients: 2}}},
			},
			rcpts: 3,
			usage: Usage{keyK1: {Month: {Messages: 1}}},
			want:  want{permanent: true, blocking: &Limit{Period: Minute, Recipients: 2}, subject: userAcm},
		},
		{
			name:     "exactly the recipients limit in one message is fine",
			subjects: one(keyK1, Limit{Period: Hour, Recipients: 100}), rcpts: 100,
			want: want{allow: true},
		},
		{
			name:     "unknown period is ignored",
			subjects: one(userAcm, Limit{Period: "week", Messages: 1}), rcpts: 1,
			usage: Usage{userAcm: {"week": {Messages: 5}}},
			want:  want{allow: true},
		},
		{
			name:     "unknown mode rejects",
			subjects: one(userAcm, Limit{Period: Hour, Messages: 1, Mode: "Hold "}), rcpts: 1,
			usage: use(userAcm, Hour, 1, 0),
			want:  want{retryAfter: 12 * time.Minute, blocking: &Limit{Period: Hour, Messages: 1, Mode: "Hold "}, subject: userAcm},
		},
		{
			name:     "negative recipients count as none",
			subjects: one(userAcm, Limit{Period: Hour, Recipients: 10}), rcpts: -5,
			usage: use(userAcm, Hour, 0, 10),
			want:  want{allow: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(Request{Subjects: tt.subjects, Recipients: tt.rcpts, Now: now}, tt.usage)
			w := tt.want
			if d.Allow != w.allow || d.Hold != w.hold || d.Permanent != w.permanent {
				t.Errorf("Allow, Hold, Permanent = %v, %v, %v; want %v, %v, %v (%q)",
					d.Allow, d.Hold, d.Permanent, w.allow, w.hold, w.permanent, d.Reason)
			}
			if !d.HoldUntil.Equal(w.holdUntil) {
				t.Errorf("HoldUntil = %v, want %v", d.HoldUntil, w.holdUntil)
			}
			if d.RetryAfter != w.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", d.RetryAfter, w.retryAfter)
			}
			switch {
			case w.blocking == nil && d.Blocking != nil:
				t.Errorf("Blocking = %+v, want nil", *d.Blocking)
			case w.blocking != nil && (d.Blocking == nil || *d.Blocking != *w.blocking):
				t.Errorf("Blocking = %+v, want %+v", d.Blocking, *w.blocking)
			}
			if d.BlockingSubject != w.subject {
				t.Errorf("BlockingSubject = %v, want %v", d.BlockingSubject, w.subject)
			}
			if !strings.Contains(d.Reason, w.reason) {
				t.Errorf("Reason = %q, want it to contain %q", d.Reason, w.reason)
			}
			if (d.Reason == "") != (w.blocking == nil) {
				t.Errorf("Reason = %q with Blocking %v", d.Reason, d.Blocking)
			}
			if strings.ContainsAny(d.Reason, "\r\n") {
				t.Errorf("Reason %q is not one line", d.Reason)
			}
		})
	}
}

// A refused client that waits RetryAfter finds the window open.
func TestDecideRetryAfterOpensTheWindow(t *testing.T) {
	for _, p := range Periods() {
		if p == Month {
			continue
		}
		now := utc(2026, 2, 28, 23, 59, 59).Add(-7 * time.Millisecond)
		req := Request{Subjects: []SubjectLimits{{Subject: userAcm, Limits: []Limit{{Period: p, Messages: 1}}}}, Recipients: 1, Now: now}
		d := Decide(req, Usage{userAcm: {p: {Messages: 1}}})
		if d.Allow {
			t.Fatalf("%s: allowed over the limit", p)
		}
		later := now.Add(d.RetryAfter)
		if start, _ := Window(p, later); !start.Equal(later) {
			t.Errorf("%s: now+RetryAfter = %v, not the start of a window", p, later)
		}
	}
}
