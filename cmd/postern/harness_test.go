package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/postern/postern/internal/app"
	"github.com/postern/postern/internal/config"
	"github.com/postern/postern/internal/testenv"
)

// The end-to-end tests run the real binary, built once per test process.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func posternBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "postern-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "postern")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func needPeer(t *testing.T, name string) string { return testenv.NeedPeer(t, name) }

// instance is a data directory and config for the binary.
type instance struct {
	t       *testing.T
	bin     string
	dir     string
	config  string
	proc    *exec.Cmd
	log     *syncBuf
	exited  chan error
	addrs   map[string]string // mode → address of the first listener
	certPEM string
	dns     *testenv.DNSServer
	sink    *testenv.Sink // the receiver, unless the test brought its own
}

// newInstance writes a config whose DNS is an in-process server on
// loopback, where example.test's MX is 127.0.0.1, and whose delivery port
// is deliveryPort, or a recording sink's when it is 0. smtpKeys are added
// to the [smtp] section ("max_recipients = 5"). Nothing leaves loopback.
func newInstance(t *testing.T, deliveryPort int, smtpKeys ...string) *instance {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "postern.toml")
	d := testenv.StartDNS(t)
	d.Add("example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.1")
	var sink *testenv.Sink
	if deliveryPort == 0 {
		sink = testenv.StartSink(t, testenv.SinkOptions{})
		_, p, _ := net.SplitHostPort(sink.Addr)
		deliveryPort, _ = strconv.Atoi(p)
	}
	toml := fmt.Sprintf(`hostname = "mail.postern.test"
data_dir = %q
[smtp]
submission  = ["127.0.0.1:0"]
submissions = ["127.0.0.1:0"]
mx          = ["127.0.0.1:0"]
shutdown_timeout = "20s"
%s
[http]
listen = "127.0.0.1:0"
[dns]
resolver = %q
[delivery]
port = %d
retry_first = "1s"
allow_private_networks = true
`, filepath.Join(dir, "data"), strings.Join(smtpKeys, "\n"), d.Addr, deliveryPort)
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return &instance{t: t, bin: posternBinary(t), dir: dir, config: cfg, dns: d, sink: sink,
		certPEM: filepath.Join(dir, "data", "selfsigned-cert.pem")}
}

// cli runs an admin command and returns stdout and stderr.
func (in *instance) cli(args ...string) (string, string, error) {
	cmd := exec.Command(in.bin, append([]string{"--config", in.config}, args...)...)
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (in *instance) mustCLI(args ...string) string {
	in.t.Helper()
	out, errOut, err := in.cli(args...)
	if err != nil {
		in.t.Fatalf("postern %v: %v\n%s", args, err, errOut)
	}
	return out
}

var listeningRE = regexp.MustCompile(`msg=listening mode=(\w+) addr=(\S+)`)

// start runs `postern serve` and waits until every listener is bound.
func (in *instance) start() {
	in.t.Helper()
	cmd := exec.Command(in.bin, "serve", "--config", in.config)
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		in.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	in.proc, in.log, in.exited, in.addrs = cmd, &syncBuf{}, make(chan error, 1), map[string]string{}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			in.log.add(line + "\n")
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				in.log.mu.Lock()
				if _, ok := in.addrs[m[1]]; !ok {
					in.addrs[m[1]] = m[2]
				}
				n := len(in.addrs)
				in.log.mu.Unlock()
				if n == 4 {
					once.Do(func() { close(found) })
				}
			}
		}
		in.exited <- cmd.Wait()
	}()
	select {
	case <-found:
	case err := <-in.exited:
		in.t.Fatalf("postern serve exited: %v\n%s", err, in.log.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		in.t.Fatalf("postern serve did not start\n%s", in.log.String())
	}
	in.t.Cleanup(func() {
		if in.proc != nil && in.proc.ProcessState == nil {
			in.proc.Process.Kill()
		}
	})
}

func (in *instance) addr(mode string) string {
	in.log.mu.Lock()
	defer in.log.mu.Unlock()
	return in.addrs[mode]
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() {
	in.t.Helper()
	in.proc.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.exited:
		if err != nil {
			in.t.Fatalf("postern serve exit: %v\n%s", err, in.log.String())
		}
	case <-time.After(60 * time.Second):
		in.t.Fatalf("postern serve did not stop\n%s", in.log.String())
	}
}

// kill sends SIGKILL: a crash at an arbitrary instant.
func (in *instance) kill() {
	in.proc.Process.Kill()
	<-in.exited
}

// cleanEnv drops POSTERN_* variables so only the test's config applies.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "POSTERN_") {
			env = append(env, kv)
		}
	}
	return env
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) add(x string) { s.mu.Lock(); s.b.WriteString(x); s.mu.Unlock() }
func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ = context.Background
var _ io.Reader

// trust adds domain for user, shared with the account's subusers, and
// has the operator vouch for it, as the tests send from example.test,
// which publishes no DKIM records.
func (in *instance) trust(user, domain string) {
	in.t.Helper()
	in.mustCLI("domain", "add", domain, "--user", user, "--shared")
	in.mustCLI("domain", "verify", domain, "--trust")
}

// openApp opens the instance's store and services the way the CLI does,
// closed when the test ends.
func openApp(t *testing.T, configPath string) *app.App {
	t.Helper()
	conf, err := config.Load(configPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
