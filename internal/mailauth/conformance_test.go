package mailauth

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// conformanceDir is the shared test data written by others (see its
// README.md); it is read in place, never copied into the repository.
const conformanceDir = "../../../shared/conformance/dkim"

func conformance(t *testing.T, sub string) string {
	t.Helper()
	dir := filepath.Join(conformanceDir, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("conformance data %s missing (%v): it lives in ../shared/conformance next to the checkout", dir, err)
	}
	return dir
}

// loadZone reads "NAME RECORD" lines (RFC 8463 data) into a zone.
func loadZone(t *testing.T, file string) fakeDNS {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := fakeDNS{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rec, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if ok {
			z[strings.ToLower(name)] = append(z[strings.ToLower(name)], strings.TrimSpace(rec))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return z
}

func readPEMKey(t *testing.T, file string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return k.(crypto.Signer)
}

// TestRFC8463Verify checks the RFC 8463 appendix A.3 message (an Ed25519 and
// an RSA signature) verifies with the published records, and that its
// tampered copy does not.
func TestRFC8463Verify(t *testing.T) {
	dir := conformance(t, "rfc8463")
	zone := loadZone(t, filepath.Join(dir, "dns-keys.txt"))
	for file, ok := range map[string]bool{
		"rfc8463-A.3-signed.eml":               true,
		"rfc8463-A.3-signed-body-tampered.eml": false,
	} {
		t.Run(file, func(t *testing.T) {
			msg, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(t.Context(), msg, zone.lookup)
			if err != nil {
				t.Fatal(err)
			}
			want := []Result{
				{Domain: "football.example.com", Selector: "brisbane", Algorithm: AlgEd25519SHA256, OK: ok},
				{Domain: "football.example.com", Selector: "test", Algorithm: AlgRSASHA256, OK: ok},
			}
			if len(res) != len(want) {
				t.Fatalf("%d results, want %d: %+v", len(res), len(want), res)
			}
			for i, w := range want {
				r := res[i]
				r.Err = nil
				if r != w {
					t.Errorf("result %d = %+v (err %v), want %+v", i, r, res[i].Err, w)
				}
			}
		})
	}
}

// TestRFC8463Sign signs the unsigned RFC 8463 message with the RFC's keys.
// Byte-for-byte reproduction is impossible (t= is the signing time and our
// h= list differs from the example's), so it checks what is deterministic —
// the body hash equals the RFC's bh= — and that the records the RFC
// publishes verify our signatures.
func TestRFC8463Sign(t *testing.T) {
	dir := conformance(t, "rfc8463")
	zone := loadZone(t, filepath.Join(dir, "dns-keys.txt"))
	msg, err := os.ReadFile(filepath.Join(dir, "rfc8463-unsigned.eml"))
	if err != nil {
		t.Fatal(err)
	}
	keys := []Key{
		{Domain: "football.example.com", Selector: "brisbane", Signer: readPEMKey(t, filepath.Join(dir, "ed25519-private.pem"))},
		{Domain: "football.example.com", Selector: "test", Signer: readPEMKey(t, filepath.Join(dir, "rsa-test.private.pem"))},
	}
	for _, k := range keys {
		rec, err := PublicKeyRecord(k.Signer.Public())
		if err != nil {
			t.Fatal(err)
		}
		if pub := zone[k.Selector+"._domainkey.football.example.com"]; len(pub) != 1 || !strings.HasSuffix(rec, pub[0][strings.Index(pub[0], "p="):]) {
			t.Errorf("PublicKeyRecord = %q, RFC publishes %q", rec, pub)
		}
	}
	signed, err := Sign(msg, keys, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	const rfcBH = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8="
	if tags := firstSignatureTags(t, signed); tags["bh"] != rfcBH {
		t.Errorf("bh=%q, RFC 8463 A.3 has %q", tags["bh"], rfcBH)
	}
	if n := bytes.Count(signed, []byte("bh="+rfcBH)); n != 2 {
		t.Errorf("%d signatures carry the RFC body hash, want 2", n)
	}
	res, err := Verify(t.Context(), signed, zone.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || !res[0].OK || !res[1].OK {
		t.Errorf("results %+v", res)
	}
	// An independent verifier agrees, when installed (not required here:
	// TestPeer* carries that requirement).
	if peerAvailable("opendkim") {
		tmp := t.TempDir()
		file := filepath.Join(tmp, "signed.eml")
		writeFile(t, file, string(signed))
		got, out := opendkimVerifier(t)(t, tmp, file, zone)
		if got["brisbane"] != "pass ed25519-sha256" || got["test"] != "pass rsa-sha256" {
			t.Errorf("opendkim: %v\n%s", got, out)
		}
	}
}
