package ratelimit

import (
	"reflect"
	"testing"
	"time"
)

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func TestWindow(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name       string
		p          Period
		now        time.Time
		start, end time.Time
	}{
		{"minute", Minute, utc(2026, 3, 14, 15, 9, 26).Add(535 * time.Millisecond), utc(2026, 3, 14, 15, 9, 0), utc(2026, 3, 14, 15, 10, 0)},
		{"minute on boundary", Minute, utc(2026, 3, 14, 15, 9, 0), utc(2026, 3, 14, 15, 9, 0), utc(2026, 3, 14, 15, 10, 0)},
		{"minute last instant", Minute, utc(2026, 3, 14, 15, 9, 59).Add(time.Second - 1), utc(2026, 3, 14, 15, 9, 0), utc(2026, 3, 14, 15, 10, 0)},
		{"minute into next hour", Minute, utc(2026, 3, 14, 23, 59, 30), utc(2026, 3, 14, 23, 59, 0), utc(2026, 3, 15, 0, 0, 0)},
		{"hour", Hour, utc(2026, 3, 14, 15, 9, 26), utc(2026, 3, 14, 15, 0, 0), utc(2026, 3, 14, 16, 0, 0)},
		{"hour across midnight", Hour, utc(2026, 12, 31, 23, 1, 0), utc(2026, 12, 31, 23, 0, 0), utc(2027, 1, 1, 0, 0, 0)},
		{"day", Day, utc(2026, 3, 14, 15, 9, 26), utc(2026, 3, 14, 0, 0, 0), utc(2026, 3, 15, 0, 0, 0)},
		{"day end of month", Day, utc(2026, 4, 30, 12, 0, 0), utc(2026, 4, 30, 0, 0, 0), utc(2026, 5, 1, 0, 0, 0)},
		{"day in UTC, not local", Day, time.Date(2026, 3, 15, 0, 30, 0, 0, paris), utc(2026, 3, 14, 0, 0, 0), utc(2026, 3, 15, 0, 0, 0)},
		{"month", Month, utc(2026, 3, 14, 15, 9, 26), utc(2026, 3, 1, 0, 0, 0), utc(2026, 4, 1, 0, 0, 0)},
		{"month first instant", Month, utc(2026, 3, 1, 0, 0, 0), utc(2026, 3, 1, 0, 0, 0), utc(2026, 4, 1, 0, 0, 0)},
		{"month December to January", Month, utc(2026, 12, 31, 23, 59, 59), utc(2026, 12, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0)},
		{"month January", Month, utc(2027, 1, 1, 0, 0, 1), utc(2027, 1, 1, 0, 0, 0), utc(2027, 2, 1, 0, 0, 0)},
		{"month leap February", Month, utc(2028, 2, 29, 12, 0, 0), utc(2028, 2, 1, 0, 0, 0), utc(2028, 3, 1, 0, 0, 0)},
		{"day leap February 29", Day, utc(2028, 2, 29, 12, 0, 0), utc(2028, 2, 29, 0, 0, 0), utc(2028, 3, 1, 0, 0, 0)},
		{"month common February", Month, utc(2027, 2, 28, 23, 0, 0), utc(2027, 2, 1, 0, 0, 0), utc(2027, 3, 1, 0, 0, 0)},
		{"month in UTC, not local", Month, time.Date(2026, 4, 1, 0, 30, 0, 0, paris), utc(2026, 3, 1, 0, 0, 0), utc(2026, 4, 1, 0, 0, 0)},
		{"unknown period", Period("week"), utc(2026, 3, 14, 15, 9, 26), utc(2026, 3, 14, 15, 9, 26), utc(2026, 3, 14, 15, 9, 26)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := Window(tt.p, tt.now)
			if !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Errorf("Window(%s, %v) = [%v, %v), want [%v, %v)", tt.p, tt.now, start, end, tt.start, tt.end)
			}
			if start.Location() != time.UTC || end.Location() != time.UTC {
				t.Errorf("Window returned non-UTC times %v, %v", start, end)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]Period{"minute": Minute, "hour": Hour, " Day ": Day, "MONTH": Month} {
		got, err := ParsePeriod(in)
		if err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "week", "minutes", "1h"} {
		if _, err := ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) succeeded", in)
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeReject, "reject": ModeReject, "Hold": ModeHold} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"defer", "holds", "drop"} {
		if _, err := ParseMode(in); err == nil {
			t.Errorf("ParseMode(%q) succeeded", in)
		}
	}
}

func TestLimitValidate(t *testing.T) {
	good := []Limit{
		{Period: Hour, Messages: 100},
		{Period: Month, Recipients: 5, Mode: ModeHold},
		{Period: Day},
	}
	for _, l := range good {
		if err := l.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	bad := []Limit{
		{Period: "week", Messages: 1},
		{Period: Hour, Messages: -1},
		{Period: Hour, Recipients: -1},
		{Period: Hour, Messages: 1, Mode: "defer"},
	}
	for _, l := range bad {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v: accepted", l)
		}
	}
}

func TestLimitString(t *testing.T) {
	tests := []struct {
		l    Limit
		want string
	}{
		{Limit{Period: Hour, Messages: 100}, "100 messages per hour"},
		{Limit{Period: Minute, Messages: 1, Recipients: 1}, "1 message and 1 recipient per minute"},
		{Limit{Period: Day, Recipients: 500, Mode: ModeHold}, "500 recipients per day (hold)"},
		{Limit{Period: Month}, "unlimited per month"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.l, got, tt.want)
		}
	}
}

func TestSubjectStringIsSafe(t *testing.T) {
	s := Subject{Kind: KindUser, ID: "evil\r\n250 ok"}
	if got, want := s.String(), "user evil??250?ok"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	long := Key(string(make([]byte, 200)))
	if got := long.String(); len(got) > 80 {
		t.Errorf("String() of a long id is %d bytes", len(got))
	}
}

func TestMerge(t *testing.T) {
	defaults := []Limit{
		{Period: Month, Messages: 10000},
		{Period: Hour, Messages: 100},
		{Period: Day, Messages: 1000, Recipients: 5000},
	}
	tests := []struct {
		name      string
		overrides []Limit
		want      []Limit
	}{
		{"no overrides: defaults by period", nil, []Limit{
			{Period: Hour, Messages: 100},
			{Period: Day, Messages: 1000, Recipients: 5000},
			{Period: Month, Messages: 10000},
		}},
		{"override replaces the whole period", []Limit{{Period: Day, Recipients: 50, Mode: ModeHold}}, []Limit{
			{Period: Hour, Messages: 100},
			{Period: Day, Recipients: 50, Mode: ModeHold},
			{Period: Month, Messages: 10000},
		}},
		{"unlimited override lifts a default", []Limit{{Period: Hour}}, []Limit{
			{Period: Hour},
			{Period: Day, Messages: 1000, Recipients: 5000},
			{Period: Month, Messages: 10000},
		}},
		{"override for a new period is added", []Limit{{Period: Minute, Messages: 5}}, []Limit{
			{Period: Minute, Messages: 5},
			{Period: Hour, Messages: 100},
			{Period: Day, Messages: 1000, Recipients: 5000},
			{Period: Month, Messages: 10000},
		}},
		{"several overrides for one period all stay", []Limit{
			{Period: Hour, Messages: 10},
			{Period: Hour, Recipients: 20, Mode: ModeHold},
		}, []Limit{
			{Period: Hour, Messages: 10},
			{Period: Hour, Recipients: 20, Mode: ModeHold},
			{Period: Day, Messages: 1000, Recipients: 5000},
			{Period: Month, Messages: 10000},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Merge(defaults, tt.overrides)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Merge = %+v\nwant    %+v", got, tt.want)
			}
		})
	}
	if got := Merge(nil, nil); len(got) != 0 {
		t.Errorf("Merge(nil, nil) = %v", got)
	}
	got := Merge(defaults, nil)
	got[0].Messages = 1
	if defaults[1].Messages != 100 {
		t.Error("Merge result shares memory with defaults")
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{300 * time.Millisecond, "1s"},
		{45 * time.Second, "45s"},
		{time.Minute, "60s"},
		{61 * time.Second, "2m"},
		{11*time.Minute + 30*time.Second, "12m"},
		{time.Hour, "60m"},
		{3*time.Hour + 4*time.Minute + time.Second, "3h5m"},
		{3 * time.Hour, "3h"},
		{24 * time.Hour, "24h"},
		{24*time.Hour + time.Second, "1d1h"},
		{48 * time.Hour, "2d"},
		{17*24*time.Hour + 90*time.Minute, "17d2h"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
