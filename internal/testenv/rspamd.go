package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// StartRspamd starts a private rspamd on a free 127.0.0.1 port and returns
// the base URL of its normal worker ("http://127.0.0.1:PORT", which
// answers /ping and /checkv2). It is stopped, and its directory removed,
// in t.Cleanup. It skips (or fails, when POSTERN_REQUIRE_PEERS=1) if rspamd
// is not installed (Debian package "rspamd").
//
// The instance is offline and quick to start: its configuration is
// written from scratch into a private directory (the system's
// /etc/rspamd/local.d and /var/lib/rspamd are never read or written), it
// has only the normal worker (no controller, proxy or fuzzy worker), its
// DNS resolver is a closed loopback port, no module that needs Redis or
// the network is configured (RBLs, SURBL, fuzzy, SPF, DKIM, DMARC, maps
// fetched over HTTP…), and its URL suffix list is a short private one
// (compiling the full public suffix list takes rspamd about 20 seconds).
// The core rules, GTUBE included, the regexp and chartable modules,
// mime_types (with the packaged map) and milter_headers (so replies carry
// "milter": {"add_headers": …}) are active.
func StartRspamd(t testing.TB) string {
	t.Helper()
	bin := NeedPeer(t, "rspamd")
	dir, err := os.MkdirTemp("", "postern-rspamd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port := freePort(t)
	dnsPort := freePort(t) // nothing listens there: every lookup fails at once
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	files := map[string]string{
		"rspamd.conf": fmt.Sprintf(rspamdConf, dir, port, dnsPort),
		// The suffixes rspamd's URL detector knows; tests use these only.
		"tld.dat": "com\nnet\norg\nio\nly\nde\nuk\nco.uk\nexample\ntest\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	args := []string{"-f", "-c", filepath.Join(dir, "rspamd.conf")}
	for _, v := range []string{"CONFDIR=/etc/rspamd", "LOCAL_CONFDIR=" + dir, "DBDIR=" + dir, "RUNDIR=" + dir, "LOGDIR=" + dir} {
		args = append(args, "--var", v)
	}
	if os.Geteuid() == 0 {
		// rspamd refuses to run its workers as root: drop to its own user
		// when the package created it, else insist.
		u, err := user.Lookup("_rspamd")
		if err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := chownTree(dir, uid, gid); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			args = append(args, "-u", "_rspamd", "-g", "_rspamd")
		} else {
			args = append(args, "-i")
		}
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rspamd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	logs := func() string {
		var b bytes.Buffer
		for _, name := range []string{"stdout.log", "rspamd.log"} {
			data, _ := os.ReadFile(filepath.Join(dir, name))
			if len(data) > 8000 {
				data = data[len(data)-8000:]
			}
			fmt.Fprintf(&b, "--- %s ---\n%s\n", name, data)
		}
		return b.String()
	}
	// Registered after RemoveAll, so it runs first.
	t.Cleanup(func() {
		// SIGTERM to the main process, which stops its workers. A
		// terminating normal worker sometimes lingers until rspamd's own
		// 10-second grace period ends: after 2 seconds, SIGKILL the
		// process group rspamd leads (its main process and its workers,
		// all started here).
		pgid := cmd.Process.Pid
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
		}
		// Then no straggler may write into the directory while it is
		// removed: kill what is left of the group, and wait until the
		// group is gone.
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if syscall.Kill(-pgid, 0) == syscall.ESRCH {
				break
			}
		}
		if t.Failed() {
			t.Logf("rspamd logs:\n%s", logs())
		}
	})

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url + "/ping")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.HasPrefix(body, []byte("pong")) {
				return url
			}
		}
		select {
		case <-exited:
			t.Fatalf("rspamd exited before answering /ping:\n%s", logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rspamd did not answer %s/ping: %v\n%s", url, err, logs())
		}
	}
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, uid, gid)
	})
}

// rspamdConf is the whole configuration: %[1]s the private directory,
// %[2]d the worker's port, %[3]d the closed port standing in for DNS.
// Every path rspamd might write to is set to the private directory, since
// some compiled-in defaults point at /var/lib/rspamd whatever DBDIR says.
const rspamdConf = `lua = "$RULESDIR/rspamd.lua";
.include "$CONFDIR/metrics.conf"
.include "$CONFDIR/actions.conf"
.include "$CONFDIR/groups.conf"
.include "$CONFDIR/composites.conf"
modules {
  path = "${PLUGINSDIR}";
}
options {
  filters = "chartable,regexp";
  url_tld = "%[1]s/tld.dat";
  hs_cache_dir = "%[1]s";
  cache_file = "%[1]s/symbols.cache";
  dynamic_conf = "%[1]s/rspamd_dynamic";
  history_file = "%[1]s/rspamd.history";
  stats_file = "%[1]s/stats.ucl";
  tempdir = "%[1]s";
  allow_raw_input = true;
  task_timeout = 2s;
  dns {
    nameserver = ["127.0.0.1:%[3]d"];
    timeout = 0.2s;
    retransmits = 1;
  }
}
logging {
  type = "file";
  filename = "%[1]s/rspamd.log";
  level = "info";
}
worker "normal" {
  bind_socket = "127.0.0.1:%[2]d";
  count = 1;
  mime = true;
}
milter_headers {
  use = ["x-spamd-result", "x-spam-status"];
  skip_local = false;
  skip_authenticated = false;
}
mime_types {
  file = ["${CONFDIR}/maps.d/mime_types.inc"];
}
`
