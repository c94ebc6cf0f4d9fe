package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	// The textbook example: 15 20 35 40 50.
	five := ms(15, 20, 35, 40, 50)
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one p50", ms(7), 50, 7 * time.Millisecond},
		{"one p99", ms(7), 99, 7 * time.Millisecond},
		{"five p5", five, 5, 15 * time.Millisecond},   // ⌈0.25⌉ = 1
		{"five p30", five, 30, 20 * time.Millisecond}, // ⌈1.5⌉ = 2
		{"five p40", five, 40, 20 * time.Millisecond}, // exactly 2: no rounding up
		{"five p50", five, 50, 35 * time.Millisecond}, // ⌈2.5⌉ = 3
		{"five p100", five, 100, 50 * time.Millisecond},
		{"five p0 is the minimum", five, 0, 15 * time.Millisecond},
		{"above 100 is the maximum", five, 150, 50 * time.Millisecond},
		{"two p50", ms(1, 2), 50, 1 * time.Millisecond},
		{"two p51", ms(1, 2), 51, 2 * time.Millisecond},
		{"hundred p50", hundred, 50, 50 * time.Millisecond},
		{"hundred p90", hundred, 90, 90 * time.Millisecond},
		{"hundred p99", hundred, 99, 99 * time.Millisecond},
		{"hundred p99.5", hundred, 99.5, 100 * time.Millisecond},
		{"ten p99", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"ten p90", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p=%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

// Against the definition, for every size up to 300: the result is the
// smallest value with at least p% of the values at or below it.
func TestPercentileDefinition(t *testing.T) {
	for n := 1; n <= 300; n++ {
		sorted := make([]time.Duration, n)
		for i := range sorted {
			sorted[i] = time.Duration(i + 1) // distinct, so a value is its rank
		}
		for _, tenths := range []int{1, 10, 100, 250, 500, 750, 900, 950, 990, 999, 1000} {
			r := int(percentile(sorted, float64(tenths)/10))
			// r/n ≥ p/100 and (r-1)/n < p/100, in integers.
			if !(1000*r >= tenths*n && 1000*(r-1) < tenths*n) {
				t.Errorf("n=%d p=%v: rank %d", n, float64(tenths)/10, r)
			}
		}
	}
}

func TestFiller(t *testing.T) {
	for _, size := range []int{0, 1, 2, 3, 77, 78, 79, 80, 2048, 100000} {
		b := filler(size)
		want := size
		if size == 1 {
			want = 2 // CRLF is the shortest line
		}
		if len(b) != want {
			t.Errorf("filler(%d): %d bytes, want %d", size, len(b), want)
		}
		if size > 0 && !bytes.HasSuffix(b, []byte("\r\n")) {
			t.Errorf("filler(%d) does not end with CRLF", size)
		}
		for line := range bytes.SplitSeq(b, []byte("\r\n")) {
			if len(line) > 998 || bytes.ContainsAny(line, "\r\n") || bytes.HasPrefix(line, []byte(".")) {
				t.Errorf("filler(%d): bad line %q", size, line)
			}
		}
	}
}

func TestRecipientsNumbered(t *testing.T) {
	o := Options{To: "sink@example.test", Rcpts: 1}
	if got := strings.Join(o.recipients(), " "); got != "sink@example.test" {
		t.Errorf("one recipient: %s", got)
	}
	o.Rcpts = 3
	if got := strings.Join(o.recipients(), " "); got != "sink+1@example.test sink+2@example.test sink+3@example.test" {
		t.Errorf("three recipients: %s", got)
	}
}

func TestWriteReport(t *testing.T) {
	var b bytes.Buffer
	writeReport(&b, Report{
		Conns: 4, Sent: 10, Accepted: 7, Failed: 3,
		ByCode:     map[int]int{552: 2, 0: 1},
		ConnErrors: []ConnError{{Conn: 1, Stage: StageSend, Err: errString("EOF")}},
		Elapsed:    2 * time.Second,
		Latencies:  make([]time.Duration, 7),
		P50:        4100 * time.Microsecond, P90: 800 * time.Microsecond, P99: 12800 * time.Microsecond, Max: 1500 * time.Millisecond,
	})
	want := "sent 10 accepted 7 failed 3 in 2.00s: 3.5 msgs/s accepted; MAIL→250 latency p50 4.1ms p90 0.80ms p99 12.8ms max 1500ms\n" +
		"failed by code: no reply (connection broken) ×1, 552 ×2\n" +
		"connections ended early: 1 of 4\n" +
		"  send: EOF (×1)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
