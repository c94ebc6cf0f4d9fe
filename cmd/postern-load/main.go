// Command postern-load is a load generator for Postern's submission
// ports: it opens concurrent connections, each doing STARTTLS (or implicit
// TLS) and AUTH PLAIN with the username apikey once, then a run of mail
// transactions, and reports throughput and the latency from MAIL to the
// 250 that answers the end of DATA (the reply Postern sends only once the
// message is committed to disk).
//
// Usage:
//
//	POSTERN_LOAD_KEY=KEY postern-load [flags]
//
// The API key is read from the environment variable POSTERN_LOAD_KEY,
// never from a flag, since flags show in ps; it is never printed.
//
// Flags:
//
//	-addr host:port    submission listener (default 127.0.0.1:2525)
//	-tls MODE          starttls or implicit (default starttls; use implicit with 2465/465)
//	-ca FILE           PEM certificate(s) to trust, e.g. postern-data/selfsigned-cert.pem
//	-insecure          skip certificate verification (warns on stderr)
//	-c N               concurrent connections (default 8)
//	-n M               messages per connection (default 100)
//	-size BYTES        body size (default 2048)
//	-rcpts K           recipients per message (default 1)
//	-from ADDR         envelope sender (default load@example.test)
//	-to ADDR           recipient (default sink@example.test); with -rcpts K > 1,
//	                   sink+1@example.test … sink+K@example.test
//	-duration D        stop starting transactions after D (e.g. 30s; give a large -n);
//	                   0: no cap
//	-timeout D         limit on dialing and on each reply (default 1m)
//
// Against the embedded default, run the server in one terminal:
//
//	go run ./cmd/postern serve
//
// (POSTERN_DNS_RESOLVER=127.0.0.1:9 in front keeps the messages queued:
// with a working resolver, example.test does not exist, every message
// bounces, and the bounce rate suspends the user), and in another, once,
// a user and its sender (only verified identities send: the operator
// vouches for the -from address):
//
//	go run ./cmd/postern user create load
//	go run ./cmd/postern sender add load@example.test --user load --verified
//
// then:
//
//	POSTERN_LOAD_KEY=$(go run ./cmd/postern apikey create --user load) \
//	    go run ./cmd/postern-load -ca postern-data/selfsigned-cert.pem -c 16 -n 200
//
// It prints, on stdout,
//
//	sent 3200 accepted 3200 failed 0 in 4.02s: 796.0 msgs/s accepted; MAIL→250 latency p50 18.9ms p90 27.4ms p99 41.0ms max 63.2ms
//
// then, when there are any, the failed transactions by reply code (0 when
// the connection broke and no reply came) and the connections that ended
// early, with their stage (dial, tls, auth, send, quit) and error.
//
// Exit status: 0 when every message was accepted, 1 when any failed or any
// connection ended early, 2 for a usage error or a missing key.
//
// The accepted messages are queued for real: point -to at addresses whose
// delivery is harmless, or at a server whose delivery goes nowhere.
//
// # Idle mode
//
//	postern-load -idle N [-addr host:port] [-tls starttls|implicit] [-cafile FILE | -insecure]
//	             [-pid PID | -pidfile FILE] [-hold 5s] [-sources 64] [-dialers 64]
//
// opens N sessions, at most -dialers at a time, each from the next of the
// loopback addresses 127.0.0.1 … 127.0.0.S (-sources S; 0 lets the system
// choose), so that neither the server's per-address connection limit nor
// one address pair's ephemeral ports run out. Each does TLS and EHLO (for
// starttls: EHLO, STARTTLS, the handshake, EHLO again), no AUTH, and then
// waits. Once all are open and -hold has passed, it reads the server's
// VmRSS, VmHWM, RssAnon, RssFile and Threads from /proc/PID/status (read
// once more before the first dial), prints
//
//	idle sessions: 10000 of 10000 open (starttls, 64 source addresses, RLIMIT_NOFILE 20000), 0 failed, opened in 20.1s
//	server pid 4242: RSS 22.8 MiB before, 185.9 MiB with the sessions open (+163.1 MiB, 16.7 KiB per session); RssAnon 165.2 MiB, RssFile 20.7 MiB, peak 185.9 MiB, 9 threads
//
// and the sessions that failed, by stage (dial, tls, ehlo, starttls) and
// cause, and closes them all. No API key is needed. It raises its own
// RLIMIT_NOFILE to N plus a margin; the server needs as many descriptors
// (ulimit -n) and connection limits that admit N (smtp.max_connections,
// max_connections_per_ip, max_connections_per_48). Exit status 0 when
// every session opened and the memory was read, 1 otherwise, 2 for a
// usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// keyEnv names the environment variable that holds the API key.
const keyEnv = "POSTERN_LOAD_KEY"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli(ctx, os.Args[1:], os.Getenv(keyEnv), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cli is main without the process: arguments, key and streams in, exit
// status out.
func cli(ctx context.Context, args []string, key string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("postern-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s=KEY postern-load [flags]\n", keyEnv)
		fs.PrintDefaults()
	}
	var opts Options
	fs.StringVar(&opts.Addr, "addr", "127.0.0.1:2525", "submission listener `host:port`")
	tlsMode := fs.String("tls", string(StartTLS), "starttls or implicit")
	fs.StringVar(&opts.CAFile, "ca", "", "PEM `file` of certificates to trust (e.g. postern-data/selfsigned-cert.pem)")
	fs.BoolVar(&opts.Insecure, "insecure", false, "skip certificate verification")
	fs.IntVar(&opts.Conns, "c", 8, "concurrent connections")
	fs.IntVar(&opts.PerConn, "n", 100, "messages per connection")
	fs.IntVar(&opts.Size, "size", 2048, "body size in `bytes`")
	fs.IntVar(&opts.Rcpts, "rcpts", 1, "recipients per message")
	fs.StringVar(&opts.From, "from", "load@example.test", "envelope sender")
	fs.StringVar(&opts.To, "to", "sink@example.test", "recipient; numbered +1, +2… when -rcpts > 1")
	fs.DurationVar(&opts.Duration, "duration", 0, "stop starting transactions after this long (0: no cap)")
	fs.DurationVar(&opts.Timeout, "timeout", time.Minute, "limit on dialing and on each reply")
	fs.StringVar(&opts.CAFile, "cafile", "", "the same as -ca")
	idle := IdleOptions{}
	fs.IntVar(&idle.Sessions, "idle", 0, "idle mode: open `N` sessions (TLS and EHLO, no AUTH), hold them, report the server's memory")
	fs.IntVar(&idle.Dialers, "dialers", 64, "idle mode: sessions being opened at once")
	fs.IntVar(&idle.Sources, "sources", 64, "idle mode: dial from 127.0.0.1 … 127.0.0.`N` in turn (0: the system's choice)")
	fs.IntVar(&idle.PID, "pid", 0, "idle mode: the server's process `id`, whose memory is read from /proc")
	pidFile := fs.String("pidfile", "", "idle mode: a `file` holding the server's process id")
	fs.DurationVar(&idle.Hold, "hold", 5*time.Second, "idle mode: how long to hold the sessions open before reading the memory")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "postern-load: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	opts.TLS = TLSMode(*tlsMode)
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["idle"] {
		return cliIdle(ctx, idle, opts, *pidFile, set, stdout, stderr)
	}
	for _, name := range []string{"dialers", "sources", "pid", "pidfile", "hold"} {
		if set[name] {
			fmt.Fprintf(stderr, "postern-load: -%s is for the idle mode: give -idle N too\n", name)
			return 2
		}
	}
	if err := opts.check(); err != nil {
		fmt.Fprintf(stderr, "postern-load: %v\n", strings.ReplaceAll(err.Error(), "\n", "\npostern-load: "))
		return 2
	}
	key = strings.TrimSpace(key)
	if key == "" {
		fmt.Fprintf(stderr, "postern-load: %s is not set: put the API key in the environment, e.g.\n"+
			"  %s=$(postern apikey create --user NAME) postern-load …\n"+
			"(it is never taken as a flag, since flags show in ps)\n", keyEnv, keyEnv)
		return 2
	}
	if opts.Insecure {
		fmt.Fprintln(stderr, "postern-load: warning: -insecure: the server's certificate is not verified; the API key goes to whoever answers")
	}

	rep, err := run(ctx, opts, key, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "postern-load: %v\n", err)
		return 2
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// cliIdle runs the idle mode (-idle N): no API key, no messages.
func cliIdle(ctx context.Context, idle IdleOptions, opts Options, pidFile string, set map[string]bool, stdout, stderr io.Writer) int {
	for _, name := range []string{"c", "n", "size", "rcpts", "from", "to", "duration"} {
		if set[name] {
			fmt.Fprintf(stderr, "postern-load: -%s sends mail: it has no meaning with -idle\n", name)
			return 2
		}
	}
	idle.Addr, idle.TLS, idle.CAFile, idle.Insecure, idle.Timeout = opts.Addr, opts.TLS, opts.CAFile, opts.Insecure, opts.Timeout
	if pidFile != "" {
		if set["pid"] {
			fmt.Fprintln(stderr, "postern-load: -pid and -pidfile exclude each other")
			return 2
		}
		pid, err := readPIDFile(pidFile)
		if err != nil {
			fmt.Fprintf(stderr, "postern-load: %v\n", err)
			return 2
		}
		idle.PID = pid
	}
	if err := idle.check(); err != nil {
		fmt.Fprintf(stderr, "postern-load: %v\n", strings.ReplaceAll(err.Error(), "\n", "\npostern-load: "))
		return 2
	}
	if idle.Insecure {
		fmt.Fprintln(stderr, "postern-load: warning: -insecure: the server's certificate is not verified")
	}
	rep, err := runIdle(ctx, idle, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "postern-load: %v\n", err)
		return 2
	}
	if !rep.OK() {
		return 1
	}
	return 0
}
