package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/config"
)

func TestParseProcStatus(t *testing.T) {
	const linux = "Name:\tpostern\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t 1300000 kB\n" +
		"VmHWM:\t  350000 kB\nVmRSS:\t  338000 kB\nRssAnon:\t  320000 kB\nRssFile:\t   18000 kB\n" +
		"RssShmem:\t       0 kB\nThreads:\t9\nSigQ:\t0/95000\n"
	for _, tc := range []struct {
		name, in string
		want     ProcStatus
		err      string
	}{
		{name: "linux", in: linux, want: ProcStatus{RSS: 338000, HWM: 350000, RSSAnon: 320000, RSSFile: 18000, Threads: 9}},
		{name: "rss only", in: "VmRSS:\t12 kB\n", want: ProcStatus{RSS: 12}},
		{name: "kernel thread", in: "Name:\tkworker/0:1\nThreads:\t1\n", err: "no VmRSS"},
		{name: "bad size", in: "VmRSS:\tlots kB\n", err: "VmRSS"},
		{name: "bad unit", in: "VmRSS:\t12 MB\n", err: "not a size in kB"},
		{name: "bad threads", in: "VmRSS:\t12 kB\nThreads:\tnine\n", err: "Threads"},
		{name: "empty", in: "", err: "no VmRSS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStatus(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestReadProcStatusSelf(t *testing.T) {
	st, err := readProcStatus(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if st.RSS == 0 || st.Threads == 0 {
		t.Errorf("own status %+v: want a resident size and threads", st)
	}
	if _, err := readProcStatus(1 << 30); err == nil {
		t.Error("a process that does not exist: no error")
	}
}

func TestPlanNoFile(t *testing.T) {
	for _, tc := range []struct {
		cur  syscall.Rlimit
		need uint64
		want syscall.Rlimit
	}{
		{syscall.Rlimit{Cur: 1024, Max: 4096}, 100, syscall.Rlimit{Cur: 1024, Max: 4096}},
		{syscall.Rlimit{Cur: 1024, Max: 1 << 20}, 10100, syscall.Rlimit{Cur: 10100, Max: 1 << 20}},
		{syscall.Rlimit{Cur: 1024, Max: 4096}, 10100, syscall.Rlimit{Cur: 10100, Max: 10100}}, // needs privilege
		{syscall.Rlimit{Cur: 10100, Max: 10100}, 10100, syscall.Rlimit{Cur: 10100, Max: 10100}},
	} {
		if got := planNoFile(tc.cur, tc.need); got != tc.want {
			t.Errorf("planNoFile(%+v, %d) = %+v, want %+v", tc.cur, tc.need, got, tc.want)
		}
	}
}

func TestRaiseNoFile(t *testing.T) {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err != nil {
		t.Fatal(err)
	}
	// What is already allowed needs no change.
	if got, err := raiseNoFile(16); err != nil || got != cur.Cur {
		t.Errorf("raiseNoFile(16) = %d, %v; want %d (unchanged)", got, err, cur.Cur)
	}
	if cur.Max < 1<<40 { // not unlimited
		// Past the hard limit: refused with advice, unless privileged.
		if got, err := raiseNoFile(cur.Max + 1); err == nil {
			t.Logf("raised past the hard limit to %d (privileged)", got)
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &cur)
		} else if !strings.Contains(err.Error(), "ulimit -n") {
			t.Errorf("past the hard limit: %v, want advice about ulimit -n", err)
		}
	}
}

func TestSource(t *testing.T) {
	if a := source(5, 0); a != nil {
		t.Errorf("no sources: %v, want nil", a)
	}
	for i, want := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1"} {
		if got := source(i, 3).IP.String(); got != want {
			t.Errorf("source(%d, 3) = %s, want %s", i, got, want)
		}
	}
	if got := source(253, 254).IP.String(); got != "127.0.0.254" {
		t.Errorf("source(253, 254) = %s", got)
	}
}

func TestIdleReport(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	rep := IdleReport{
		Sessions: 10, Open: 8, Mode: StartTLS, Sources: 4, NoFile: 20000, Opening: 1500 * time.Millisecond,
		PID: 42, Before: ProcStatus{RSS: 20 * 1024}, After: ProcStatus{RSS: 20*1024 + 8*30, RSSAnon: 1024, RSSFile: 2048, HWM: 30 * 1024, Threads: 7},
		Failures: []ConnError{
			{Conn: 3, Stage: StageDial, Err: refused},
			{Conn: 7, Stage: StageDial, Err: refused},
		},
	}
	if got := rep.PerSession(); got != 30 {
		t.Errorf("PerSession = %v, want 30", got)
	}
	if rep.OK() {
		t.Error("OK with failures")
	}
	var b bytes.Buffer
	writeIdleReport(&b, rep)
	for _, want := range []string{
		"idle sessions: 8 of 10 open (starttls, 4 source addresses, RLIMIT_NOFILE 20000), 2 failed, opened in 1.5s\n",
		"server pid 42: RSS 20.0 MiB before, 20.2 MiB with the sessions open (+0.2 MiB, 30.0 KiB per session); RssAnon 1.0 MiB, RssFile 2.0 MiB, peak 30.0 MiB, 7 threads\n",
		"sessions that did not open: 2\n  dial: connect: connection refused (×2)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}

	b.Reset()
	writeIdleReport(&b, IdleReport{Sessions: 1, Open: 1, Mode: ImplicitTLS})
	if !strings.Contains(b.String(), "system-chosen source address") || !strings.Contains(b.String(), "not measured (give -pid or -pidfile)") {
		t.Errorf("without sources and pid:\n%s", b.String())
	}
	b.Reset()
	writeIdleReport(&b, IdleReport{Sessions: 1, PID: 9, MemErr: errors.New("server memory: gone"), Interrupted: true})
	if !strings.Contains(b.String(), "server pid 9: server memory: gone\n") || !strings.Contains(b.String(), "interrupted") {
		t.Errorf("memory error, interrupted:\n%s", b.String())
	}
}

func TestIdleOptionsCheck(t *testing.T) {
	ok := IdleOptions{Addr: "127.0.0.1:2525", TLS: StartTLS, Sessions: 10, Dialers: 4, Sources: 8}
	if err := ok.check(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	for name, edit := range map[string]func(*IdleOptions){
		"no sessions":           func(o *IdleOptions) { o.Sessions = 0 },
		"no dialers":            func(o *IdleOptions) { o.Dialers = 0 },
		"too many sources":      func(o *IdleOptions) { o.Sources = 255 },
		"sources, not loopback": func(o *IdleOptions) { o.Addr = "192.0.2.1:2525" },
		"sources, a name":       func(o *IdleOptions) { o.Addr = "localhost:2525" },
		"bad tls":               func(o *IdleOptions) { o.TLS = "ssl" },
		"ca and insecure":       func(o *IdleOptions) { o.CAFile, o.Insecure = "ca.pem", true },
		"negative hold":         func(o *IdleOptions) { o.Hold = -time.Second },
		"negative pid":          func(o *IdleOptions) { o.PID = -1 },
		"bad addr":              func(o *IdleOptions) { o.Addr = "nowhere" },
	} {
		o := ok
		edit(&o)
		if err := o.check(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	o := ok
	o.Addr, o.Sources = "192.0.2.1:2525", 0 // no sources: any address
	if err := o.check(); err != nil {
		t.Errorf("no sources, remote address: %v", err)
	}
}

// idleServer is a Postern whose connection limits admit the sessions of
// an idle run.
func idleServer(t *testing.T) *server {
	return startServer(t, func(c *config.Config) {
		c.SMTP.MaxConnections = 500
		c.SMTP.MaxConnectionsPerIP = 100
		c.SMTP.MaxConnectionsPer48 = 100
	})
}

// TestIdleSessions opens 50 sessions in each TLS mode against a real
// Postern in this process and reads this process's memory: the sessions
// open, and the numbers are there (their size is not asserted).
func TestIdleSessions(t *testing.T) {
	s := idleServer(t)
	for _, mode := range []TLSMode{StartTLS, ImplicitTLS} {
		t.Run(string(mode), func(t *testing.T) {
			addr := s.submission
			if mode == ImplicitTLS {
				addr = s.submissions
			}
			var out bytes.Buffer
			rep, err := runIdle(t.Context(), IdleOptions{
				Addr: addr, TLS: mode, CAFile: s.ca, Sessions: 50, Dialers: 8, Sources: 8,
				PID: os.Getpid(), Timeout: 30 * time.Second,
			}, &out)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", out.String())
			if !rep.OK() || rep.Open != 50 || len(rep.Failures) != 0 {
				t.Fatalf("report %+v", rep)
			}
			if rep.Before.RSS == 0 || rep.After.RSS == 0 || rep.After.Threads == 0 {
				t.Errorf("memory not read: before %+v after %+v", rep.Before, rep.After)
			}
			if !strings.HasPrefix(out.String(), fmt.Sprintf("idle sessions: 50 of 50 open (%s, 8 source addresses, ", mode)) {
				t.Errorf("report:\n%s", out.String())
			}
		})
	}
}

// TestIdleFailures: sessions that cannot open are counted by stage; an
// untrusted certificate fails at TLS.
func TestIdleFailures(t *testing.T) {
	s := idleServer(t)
	var out bytes.Buffer
	rep, err := runIdle(t.Context(), IdleOptions{Addr: closedTCPPort(t), TLS: StartTLS, Sessions: 3, Dialers: 2, Sources: 2}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Open != 0 || len(rep.Failures) != 3 || !strings.Contains(out.String(), "  dial: connect: connection refused (×3)\n") {
		t.Errorf("nothing listening: %+v\n%s", rep, out.String())
	}

	out.Reset()
	rep, err = runIdle(t.Context(), IdleOptions{Addr: s.submissions, TLS: ImplicitTLS, Sessions: 2, Dialers: 2}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Open != 0 || len(rep.Failures) != 2 || rep.Failures[0].Stage != StageTLS {
		t.Errorf("untrusted certificate: %+v\n%s", rep, out.String())
	}
}

func TestIdleCLI(t *testing.T) {
	s := idleServer(t)
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := cli(t.Context(), args, "", &out, &errOut)
		return code, out.String(), errOut.String()
	}
	pidFile := filepath.Join(t.TempDir(), "postern.pid")
	os.WriteFile(pidFile, fmt.Appendf(nil, "%d\n", os.Getpid()), 0o600)

	// No key needed: the idle mode does not authenticate.
	code, out, errOut := cli("-idle", "5", "-addr", s.submission, "-cafile", s.ca, "-sources", "2", "-pidfile", pidFile, "-hold", "0s")
	if code != 0 || !strings.HasPrefix(out, "idle sessions: 5 of 5 open (starttls, 2 source addresses") ||
		!strings.Contains(out, fmt.Sprintf("server pid %d: RSS ", os.Getpid())) || errOut != "" {
		t.Errorf("run: exit %d stdout %q stderr %q", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-idle", "0"}, "-idle 0"},
		{[]string{"-idle", "5", "-sources", "300"}, "-sources 300"},
		{[]string{"-idle", "5", "-addr", "192.0.2.1:25"}, "IPv4 loopback"},
		{[]string{"-idle", "5", "-c", "3"}, "-c sends mail"},
		{[]string{"-idle", "5", "-pid", "1", "-pidfile", pidFile}, "exclude each other"},
		{[]string{"-idle", "5", "-pidfile", filepath.Join(t.TempDir(), "none")}, "-pidfile"},
		{[]string{"-hold", "1s"}, "-hold is for the idle mode"},
		{[]string{"-pid", "1"}, "-pid is for the idle mode"},
	} {
		if code, _, errOut := cli(tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stderr %q (want %q)", tc.args, code, errOut, tc.want)
		}
	}
}
