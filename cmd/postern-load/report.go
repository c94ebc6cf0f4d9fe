package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strings"
	"time"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value such that at least p percent of
// the values are at or below it, i.e. sorted[⌈p/100·N⌉-1]. p ≤ 0 gives
// the minimum; an empty slice gives 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(n) / 100)) // p·n first: exact for whole p
	return sorted[min(max(rank, 1), n)-1]
}

// writeReport prints the summary line, then the failures by code and the
// connections that ended early, when there are any.
//
//	sent 800 accepted 800 failed 0 in 2.31s: 346.3 msgs/s accepted; MAIL→250 latency p50 4.1ms p90 7.9ms p99 12.8ms max 20.3ms
func writeReport(w io.Writer, r Report) {
	rate := 0.0
	if s := r.Elapsed.Seconds(); s > 0 {
		rate = float64(r.Accepted) / s
	}
	fmt.Fprintf(w, "sent %d accepted %d failed %d in %.2fs: %.1f msgs/s accepted", r.Sent, r.Accepted, r.Failed, r.Elapsed.Seconds(), rate)
	if len(r.Latencies) > 0 {
		fmt.Fprintf(w, "; MAIL→250 latency p50 %s p90 %s p99 %s max %s", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
	}
	fmt.Fprintln(w)

	if len(r.ByCode) > 0 && r.Failed > 0 {
		codes := make([]int, 0, len(r.ByCode))
		for code := range r.ByCode {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		parts := make([]string, 0, len(codes))
		for _, code := range codes {
			name := fmt.Sprint(code)
			if code == 0 {
				name = "no reply (connection broken)"
			}
			parts = append(parts, fmt.Sprintf("%s ×%d", name, r.ByCode[code]))
		}
		fmt.Fprintf(w, "failed by code: %s\n", strings.Join(parts, ", "))
	}

	if len(r.ConnErrors) > 0 {
		fmt.Fprintf(w, "connections ended early: %d of %d\n", len(r.ConnErrors), r.Conns)
		writeCauses(w, r.ConnErrors)
		for _, e := range r.ConnErrors {
			var ua x509.UnknownAuthorityError
			if errors.As(e.Err, &ua) {
				fmt.Fprintln(w, "  (trust the server's certificate with -ca FILE; a Postern with no cert_file generated it as DATA_DIR/selfsigned-cert.pem)")
				break
			}
		}
	}
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted: stopped before every connection was done")
	}
}

// ms writes d in milliseconds, with more digits for short times.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return fmt.Sprintf("%.2fms", v)
	case v < 1000:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

// writeIdleReport prints an idle run's outcome:
//
//	idle sessions: 10000 of 10000 open (starttls, 64 source addresses, RLIMIT_NOFILE 20000), 0 failed, opened in 21.4s
//	server pid 4242: RSS 38.1 MiB before, 338.0 MiB with the sessions open (+299.9 MiB, 30.7 KiB per session); RssAnon 320.5 MiB, RssFile 17.5 MiB, peak 341.2 MiB, 8 threads
//
// then the sessions that failed, one line per distinct cause.
func writeIdleReport(w io.Writer, r IdleReport) {
	src := "system-chosen source address"
	if r.Sources > 0 {
		src = fmt.Sprintf("%d source addresses", r.Sources)
	}
	fmt.Fprintf(w, "idle sessions: %d of %d open (%s, %s, RLIMIT_NOFILE %d), %d failed, opened in %.1fs\n",
		r.Open, r.Sessions, r.Mode, src, r.NoFile, len(r.Failures), r.Opening.Seconds())
	switch {
	case r.PID == 0:
		fmt.Fprintln(w, "server memory: not measured (give -pid or -pidfile)")
	case r.MemErr != nil:
		fmt.Fprintf(w, "server pid %d: %v\n", r.PID, r.MemErr)
	default:
		b, a := r.Before, r.After
		fmt.Fprintf(w, "server pid %d: RSS %s before, %s with the sessions open (%+.1f MiB, %.1f KiB per session); RssAnon %s, RssFile %s, peak %s, %d threads\n",
			r.PID, mib(b.RSS), mib(a.RSS), (float64(a.RSS)-float64(b.RSS))/1024, r.PerSession(),
			mib(a.RSSAnon), mib(a.RSSFile), mib(a.HWM), a.Threads)
	}
	if len(r.Failures) > 0 {
		fmt.Fprintf(w, "sessions that did not open: %d\n", len(r.Failures))
		writeCauses(w, r.Failures)
	}
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted: closed the sessions before they were all open and held")
	}
}

// mib writes a size given in KiB in MiB.
func mib(kib uint64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// writeCauses prints one line per distinct stage and error, not one per
// connection, in the order they first occur.
func writeCauses(w io.Writer, errs []ConnError) {
	type cause struct{ stage, text string }
	count := make(map[cause]int)
	var order []cause
	for _, e := range errs {
		k := cause{e.Stage, strings.TrimPrefix(causeText(e.Err), e.Stage+": ")}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k]++
	}
	for _, k := range order {
		fmt.Fprintf(w, "  %s: %s (×%d)\n", k.stage, k.text, count[k])
	}
}

// causeText is describe without the addresses of a network error, which
// differ from one connection to the next ("dial: connect: connection
// refused").
func causeText(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Op + ": " + causeText(oe.Err)
	}
	return describe(err)
}
