package events

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nodeModules is where .ci/run installs SendGrid's Node.js packages
// (npm ci in cmd/postern/testdata/node).
const nodeModules = "../../cmd/postern/testdata/node/node_modules"

// nodeVerify runs SendGrid's Node.js verifier on a request and reports
// whether the signature holds. It skips the test when node or the
// package is missing (a failure under POSTERN_REQUIRE_PEERS=1).
func nodeVerify(t *testing.T, pub, sig, ts string, body []byte) bool {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("POSTERN_REQUIRE_PEERS") == "1" {
		skip = t.Fatalf
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("node not installed: the @sendgrid/eventwebhook check needs Node.js")
	}
	mods, err := filepath.Abs(nodeModules)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mods, "@sendgrid", "eventwebhook", "package.json")); err != nil {
		skip("@sendgrid/eventwebhook not installed: run `npm ci` in cmd/postern/testdata/node")
	}
	cmd := exec.Command(node, filepath.Join("testdata", "verify.js"), pub, sig, ts)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	cmd.Stdin = bytes.NewReader(body)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil && strings.TrimSpace(out.String()) == "verified":
		return true
	case errors.As(err, &exit) && exit.ExitCode() == 1 && strings.TrimSpace(out.String()) == "not verified":
		return false
	default:
		t.Fatalf("node verify.js: %v\nstdout: %s\nstderr: %s", err, out.String(), errOut.String())
		return false
	}
}

// TestSignVerifiesWithSendGridNode checks Postern's signatures with
// SendGrid's Node.js verifier, @sendgrid/eventwebhook, unmodified, on a
// real batch, and that a changed body or timestamp fails it.
func TestSignVerifiesWithSendGridNode(t *testing.T) {
	s := newSigner(t)
	tls := true
	body, err := MarshalBatch([]Event{
		{Email: "a@example.org", Timestamp: 1764763200, Event: Processed, SGEventID: "e1", SGMessageID: "m1",
			SMTPID: "<m1@mail.example.com>", Categories: []string{"welcome"}, CustomArgs: map[string]string{"user": "42"}},
		{Email: "a@example.org", Timestamp: 1764763201, Event: Delivered, SGEventID: "e2", SGMessageID: "m1",
			Response: "ok: 250 2.0.0 Ok: queued as ABC (mx.example.org [192.0.2.1], TLS 1.3 TLS_AES_128_GCM_SHA256, certificate verified)",
			TLS:      &tls, Categories: []string{"welcome", "ünïcode"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1764763205, 0)
	sig, ts, err := s.Sign(body, at, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.PublicKeyBase64()
	if !nodeVerify(t, pub, sig, ts, body) {
		t.Fatal("@sendgrid/eventwebhook rejects Postern's signature")
	}
	tampered := bytes.Replace(body, []byte(`"42"`), []byte(`"43"`), 1)
	if nodeVerify(t, pub, sig, ts, tampered) {
		t.Error("@sendgrid/eventwebhook accepts a tampered body")
	}
	if nodeVerify(t, pub, sig, strconv.FormatInt(at.Unix()-1, 10), body) {
		t.Error("@sendgrid/eventwebhook accepts another timestamp")
	}
	if nodeVerify(t, newSigner(t).PublicKeyBase64(), sig, ts, body) {
		t.Error("@sendgrid/eventwebhook accepts another key")
	}
}
