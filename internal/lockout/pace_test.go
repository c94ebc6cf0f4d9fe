package lockout

import (
	"testing"
	"time"
)

func TestPaceAt(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		elapsed time.Duration
		d       time.Duration
		want    time.Duration
	}{
		{"at once", 0, time.Second, time.Second},
		{"part done", 300 * time.Millisecond, time.Second, 700 * time.Millisecond},
		{"exactly done", time.Second, time.Second, 0},
		{"overrun", 5 * time.Second, time.Second, 0},
		{"clock went backwards", -time.Minute, time.Second, time.Second},
		{"no delay", 0, 0, 0},
	}
	for _, tt := range tests {
		if got := paceAt(start, start.Add(tt.elapsed), tt.d); got != tt.want {
			t.Errorf("%s: paceAt(elapsed %v, %v) = %v, want %v", tt.name, tt.elapsed, tt.d, got, tt.want)
		}
	}
}

// TestPace checks the wall-clock wrapper with margins no scheduler delay
// can break.
func TestPace(t *testing.T) {
	if got := Pace(time.Now().Add(-2*time.Second), time.Second); got != 0 {
		t.Errorf("Pace(2s ago, 1s) = %v, want 0", got)
	}
	if got := Pace(time.Now(), time.Hour); got <= 59*time.Minute || got > time.Hour {
		t.Errorf("Pace(now, 1h) = %v, want just under 1h", got)
	}
}
