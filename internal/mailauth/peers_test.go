package mailauth

// Independent verifiers: OpenDKIM (opendkim test mode with TestPublicKeys)
// and dkimpy (python3-dkim with a dnsfunc). Each is skipped when it is not
// installed, unless POSTERN_REQUIRE_PEERS=1, which makes its absence a
// failure. Debian packages: opendkim, python3-dkim.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// peerVerifier verifies the message in file msg against zone and returns
// the verdict per selector ("pass", "fail", …) and the raw output.
type peerVerifier func(t *testing.T, dir, msg string, zone fakeDNS) (map[string]string, string)

func requirePeer(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("POSTERN_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s not available and POSTERN_REQUIRE_PEERS=1", what)
	}
	t.Skipf("%s not installed (apt-get install -y opendkim python3-dkim); set POSTERN_REQUIRE_PEERS=1 to fail instead", what)
}

// opendkimPath returns the opendkim binary, which Debian puts in /usr/sbin.
func opendkimPath() string {
	if bin, err := exec.LookPath("opendkim"); err == nil {
		return bin
	}
	for _, p := range []string{"/usr/sbin/opendkim", "/usr/bin/opendkim"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func peerAvailable(name string) bool {
	return name == "opendkim" && opendkimPath() != ""
}

func opendkimVerifier(t *testing.T) peerVerifier {
	t.Helper()
	bin := opendkimPath()
	if bin == "" {
		requirePeer(t, "opendkim")
	}
	// One entry of OpenDKIM's Authentication-Results: dkim=RESULT … header.a=ALG header.s=SEL
	entry := regexp.MustCompile(`dkim=(\w+)[^;]*?header\.a=([\w-]+)[^;]*?header\.s=([\w.-]+)`)
	return func(t *testing.T, dir, msg string, zone fakeDNS) (map[string]string, string) {
		keys := filepath.Join(dir, "keys.txt")
		var b strings.Builder
		for name, recs := range zone {
			fmt.Fprintf(&b, "%s\t%s\n", name, strings.Join(recs, ""))
		}
		conf := filepath.Join(dir, "opendkim.conf")
		writeFile(t, keys, b.String())
		writeFile(t, conf, "Mode v\nSyslog no\nTestPublicKeys "+keys+"\n")
		out, err := exec.Command(bin, "-x", conf, "-vv", "-t", msg).CombinedOutput()
		if err != nil { // it exits 0 whatever the verdict: an error is a run failure
			t.Fatalf("opendkim: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, m := range entry.FindAllStringSubmatch(string(out), -1) {
			got[m[3]] = m[1] + " " + m[2]
		}
		return got, string(out)
	}
}

const dkimpyScript = `
import json, sys, dkim
msg = open(sys.argv[1], "rb").read()
zone = json.loads(sys.argv[2])
n = int(sys.argv[3])
def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    return zone.get(name.rstrip(".").lower(), "").encode()
for i in range(n):
    d = dkim.DKIM(msg)
    try:
        ok = d.verify(idx=i, dnsfunc=dnsfunc)
    except Exception as e:
        ok = False
        print("error", i, repr(e), file=sys.stderr)
    sig = d.signature_fields if hasattr(d, "signature_fields") else {}
    sel = sig.get(b"s", b"?").decode()
    alg = sig.get(b"a", b"?").decode()
    print(json.dumps({"s": sel, "a": alg, "ok": bool(ok)}))
`

func dkimpyVerifier(t *testing.T) peerVerifier {
	t.Helper()
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} { // Debian's python3-dkim lives with /usr/bin/python3
		if path, err := exec.LookPath(p); err == nil && exec.Command(path, "-c", "import dkim").Run() == nil {
			py = path
			break
		}
	}
	if py == "" {
		requirePeer(t, "python3 with dkimpy (python3-dkim)")
	}
	return func(t *testing.T, dir, msg string, zone fakeDNS) (map[string]string, string) {
		flat := map[string]string{}
		for name, recs := range zone {
			flat[name] = strings.Join(recs, "")
		}
		zj, err := json.Marshal(flat)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(msg)
		if err != nil {
			t.Fatal(err)
		}
		fields, _ := splitHeader(data)
		n := 0
		for _, f := range fields {
			if strings.EqualFold(f.Name, "DKIM-Signature") {
				n++
			}
		}
		cmd := exec.Command(py, "-c", dkimpyScript, msg, string(zj), fmt.Sprint(n))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("dkimpy: %v\n%s%s", err, out, stderr.String())
		}
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var r struct {
				S, A string
				OK   bool
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("dkimpy output %q: %v", line, err)
			}
			v := "fail"
			if r.OK {
				v = "pass"
			}
			got[r.S] = v + " " + r.A
		}
		return got, string(out) + stderr.String()
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPeerOpenDKIM(t *testing.T) { testPeer(t, opendkimVerifier(t)) }
func TestPeerDkimpy(t *testing.T)   { testPeer(t, dkimpyVerifier(t)) }

// testPeer signs every test message with an RSA-2048 and an Ed25519 key and
// has the peer verify it, then checks the peer rejects tampered copies.
func testPeer(t *testing.T, verify peerVerifier) {
	keys := testKeys()
	zone := zoneFor(t, keys)
	wantAlg := map[string]string{"rsa1": "rsa-sha256", "ed1": "ed25519-sha256"}
	for name, msg := range testMessages() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			signed, err := Sign(msg, keys, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "signed.eml")
			writeFile(t, file, string(signed))
			got, out := verify(t, dir, file, zone)
			for sel, alg := range wantAlg {
				if got[sel] != "pass "+alg {
					t.Errorf("selector %s: got %q, want %q\nmessage:\n%s\npeer output:\n%s", sel, got[sel], "pass "+alg, signed, out)
				}
			}
			for tname, tampered := range tamper(signed) {
				file := filepath.Join(dir, strings.ReplaceAll(tname, " ", "-")+".eml")
				writeFile(t, file, string(tampered))
				got, out := verify(t, dir, file, zone)
				for sel := range wantAlg {
					if v := got[sel]; v == "" || strings.HasPrefix(v, "pass") {
						t.Errorf("%s: selector %s: verdict %q, want a failure\npeer output:\n%s", tname, sel, v, out)
					}
				}
			}
		})
	}
}
