package queue

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	m := time.Minute
	cases := []struct {
		n      int
		first  time.Duration
		jitter float64
		want   time.Duration
	}{
		{1, m, 0, m},
		{2, m, 0, 5 * m},
		{3, m, 0, 30 * m},
		{4, m, 0, 60 * m},
		{5, m, 0, 120 * m},
		{6, m, 0, 240 * m},
		{7, m, 0, 240 * m},
		{100, m, 0, 240 * m},
		{1, m, 0.5, m + 3*time.Second},
		{3, m, 0.999, 30*m + time.Duration(float64(30*m)*0.0999)},
		{2, 100 * time.Millisecond, 0, 500 * time.Millisecond},
		{3, 100 * time.Millisecond, 0, 30 * m}, // the floor holds for tiny firsts
		{3, 10 * m, 0, 50 * m},                 // 5×first when above the floor
		{1, m, 1.5, m},                         // out-of-range jitter ignored
	}
	for _, tc := range cases {
		if got := Backoff(tc.n, tc.first, tc.jitter); got != tc.want {
			t.Errorf("Backoff(%d, %v, %v) = %v, want %v", tc.n, tc.first, tc.jitter, got, tc.want)
		}
	}
	// From the third attempt on, never below the floor, whatever the jitter.
	for n := 3; n < 20; n++ {
		for _, j := range []float64{0, 0.3, 0.99} {
			if d := Backoff(n, time.Second, j); d < RetryFloor || d > RetryCap+RetryCap/10 {
				t.Errorf("Backoff(%d, 1s, %v) = %v out of bounds", n, j, d)
			}
		}
	}
}
