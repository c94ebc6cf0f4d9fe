package mailauth

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// mailDKIMCorpusDir is Mail::DKIM's corpus in the shared conformance data
// (../shared/conformance next to the checkout, see its README.md). It is
// read in place, never copied into the repository.
const mailDKIMCorpusDir = "../../../shared/conformance/dkim/mail-dkim"

// Reasons Postern's verdict differs from Mail::DKIM's. Each is a deliberate
// choice of go-msgauth (or of Postern), except where stated.
const (
	whyVersion = "signature has no v= or v=0.5 (pre-RFC 4871 drafts, which Mail::DKIM still honours); " +
		"RFC 6376 section 3.5 makes v=1 required, go-msgauth rejects anything else"
	whyShortKey = "RSA key of 512 bits; RFC 8301 section 3.2: verifiers MUST NOT accept keys under 1024 bits"
	whySHA1     = "a=rsa-sha1; RFC 8301 section 3.1: rsa-sha1 MUST NOT be used, go-msgauth refuses it"
	whyIdentity = "rsa-sha1 with a 512-bit key (so invalid by RFC 8301 anyway), but go-msgauth stops earlier " +
		"at a false 'domain mismatch': it compares i= with d= case-sensitively and does not " +
		"decode dkim-quoted-printable in i= (a go-msgauth imprecision, masked here)"
	whyDomainKeys = "DomainKeys (RFC 4870, historic) only, no DKIM-Signature: Postern verifies DKIM alone and reports none"
	whyTempFail   = "key lookup timed out / SERVFAIL: RFC 6376 section 6.1.2 TEMPFAIL (temperror), where Mail::DKIM says invalid"
	whyNoBody     = "message is a header section only, without the empty line before a body; Postern's Verify " +
		"rejects the whole message (splitHeader) instead of reporting the signature (which has v=0.5 and " +
		"would be invalid anyway). A Postern limitation, not a go-msgauth choice: RFC 5322 allows no body"
)

// mailDKIMCase is what Postern gives for one corpus message: the overall
// verdict (the best over its signatures: pass, fail, invalid, temperror,
// none, or error when Verify rejects the message), a substring of the error
// of some signature (or of Verify) that pins down the cause, and why, which
// must be set exactly when the verdict differs from Mail::DKIM's.
type mailDKIMCase struct {
	verdict string
	errHas  string
	why     string
	note    string // agreement for another cause than the case targets
}

const (
	noteVersion  = "Mail::DKIM's cause is not reached: signature has v=0.5/v=5, rejected first"
	noteShortKey = "Mail::DKIM's cause (a key-record defect) is not reached: 512-bit key rejected first"
)

var mailDKIMCases = map[string]mailDKIMCase{
	// Pre-standard signatures: no v=, or v=0.5.
	"good_ietf00_1.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"good_ietf00_2.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"good_ietf00_3.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"good_ietf00_4.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"good_ietf00_5.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"mine_ietf01_1.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"mine_ietf01_2.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"mine_ietf01_3.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"mine_ietf01_4.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"mine_ietf05_1.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"good_ietf01_1.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"good_ietf01_2.txt": {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"multiple_1.txt":    {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"no_body_2.txt":     {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"no_body_3.txt":     {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"bad_ietf01_1.txt":  {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"bad_ietf01_2.txt":  {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"bad_ietf01_3.txt":  {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},
	"bad_1.txt":         {verdict: "invalid", errHas: "incompatible signature version", why: whyVersion},

	// RFC 8301: short RSA keys and SHA-1.
	"good_rfc4871_3.txt": {verdict: "invalid", errHas: "key is too short", why: whyShortKey},
	"good_1878523.txt":   {verdict: "invalid", errHas: "key is too short", why: whyShortKey},
	"good_qp_1.txt":      {verdict: "invalid", errHas: "key is too short", why: whyShortKey},
	"goodkey_1.txt":      {verdict: "invalid", errHas: "key is too short", why: whyShortKey},
	"goodkey_2.txt":      {verdict: "invalid", errHas: "key is too short", why: whyShortKey},
	"goodkey_3.txt":      {verdict: "invalid", errHas: "key is too short", why: whyShortKey},
	"goodkey_4.txt":      {verdict: "invalid", errHas: "key is too short", why: whyShortKey},
	"good_83176.txt":     {verdict: "invalid", errHas: "hash algorithm too weak: sha1", why: whySHA1},
	"bad_1878954.txt":    {verdict: "invalid", errHas: "hash algorithm too weak: sha1", why: whySHA1},
	"multiple_2.txt":     {verdict: "invalid", errHas: "hash algorithm too weak: sha1", why: whySHA1},
	"good_rfc4871_4.txt": {verdict: "invalid", errHas: "domain mismatch", why: whyIdentity},
	"good_qp_2.txt":      {verdict: "invalid", errHas: "domain mismatch", why: whyIdentity},
	"good_qp_3.txt":      {verdict: "invalid", errHas: "domain mismatch", why: whyIdentity},

	// DomainKeys only.
	"good_dk_gmail.txt": {verdict: "none", why: whyDomainKeys},
	"good_dk_yahoo.txt": {verdict: "none", why: whyDomainKeys},
	"good_dk_1.txt":     {verdict: "none", why: whyDomainKeys},
	"good_dk_2.txt":     {verdict: "none", why: whyDomainKeys},
	"good_dk_3.txt":     {verdict: "none", why: whyDomainKeys},
	"good_dk_4.txt":     {verdict: "none", why: whyDomainKeys},
	"good_dk_5.txt":     {verdict: "none", why: whyDomainKeys},
	"good_dk_6.txt":     {verdict: "none", why: whyDomainKeys},
	"good_dk_7.txt":     {verdict: "none", why: whyDomainKeys},
	"dk_headers_1.txt":  {verdict: "none", why: whyDomainKeys},
	"dk_headers_2.txt":  {verdict: "none", why: whyDomainKeys},
	"dk_multiple_1.txt": {verdict: "none", why: whyDomainKeys},
	"bad_dk_1.txt":      {verdict: "none", why: whyDomainKeys},
	"bad_dk_2.txt":      {verdict: "none", why: whyDomainKeys},
	"bad_dk_3.txt":      {verdict: "none", why: whyDomainKeys},
	"bad_dk_4.txt":      {verdict: "none", why: whyDomainKeys},
	"bad_dk_5.txt":      {verdict: "none", why: whyDomainKeys},

	// DNS failures.
	"badkey_14.txt": {verdict: "temperror", errHas: "key unavailable", why: whyTempFail},
	"badkey_15.txt": {verdict: "temperror", errHas: "key unavailable", why: whyTempFail},

	// Postern limitation.
	"no_body_1.txt": {verdict: "error", errHas: "no end of header", why: whyNoBody},

	// Agreement.
	"ignore_1.txt":        {verdict: "invalid", errHas: "incompatible signature version"}, // v=5
	"ignore_2.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"ignore_3.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"ignore_4.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"ignore_5.txt":        {verdict: "invalid", errHas: "unsupported public key query method"},
	"ignore_6.txt":        {verdict: "invalid", errHas: "unsupported public key query method"},
	"ignore_7.txt":        {verdict: "invalid", errHas: "signature has expired"},
	"ignore_8.txt":        {verdict: "invalid", errHas: "domain mismatch"},
	"badkey_1.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"badkey_2.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"badkey_3.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"badkey_4.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"badkey_5.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"badkey_6.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"badkey_7.txt":        {verdict: "invalid", errHas: "incompatible signature version", note: noteVersion},
	"badkey_8.txt":        {verdict: "invalid", errHas: "key is too short", note: noteShortKey},
	"badkey_9.txt":        {verdict: "invalid", errHas: "key is too short", note: noteShortKey},
	"badkey_10.txt":       {verdict: "invalid", errHas: "key is too short", note: noteShortKey},
	"badkey_11.txt":       {verdict: "invalid", errHas: "key is too short", note: noteShortKey},
	"badkey_12.txt":       {verdict: "invalid", errHas: "key is too short", note: noteShortKey},
	"badkey_13.txt":       {verdict: "invalid", errHas: "key is too short", note: noteShortKey},
	"goodkey_ed25519.txt": {verdict: "pass"},
	"badkey1_ed25519.txt": {verdict: "invalid", errHas: "invalid Ed25519 public key size"},
	"badkey2_ed25519.txt": {verdict: "fail", errHas: "signature did not verify"},
	"badkey3_ed25519.txt": {verdict: "fail", errHas: "body hash did not verify"},
	"badkey4_ed25519.txt": {verdict: "invalid", errHas: "no key for signature"},
	"badkey5_ed25519.txt": {verdict: "invalid", errHas: "missing public key data"},
}

// mailDKIMZone reads FAKE_DNS.dat ("NAME RECORD" lines; NXDOMAIN,
// "~~Query timed out~~" and "~~SERVFAIL~~" stand for failures, "" for an
// empty record) into a TXTLookup.
func mailDKIMZone(t *testing.T, file string) TXTLookup {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zone := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rec, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("%s: bad line %q", file, line)
		}
		zone[strings.ToLower(name)] = strings.TrimSpace(rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(zone) == 0 {
		t.Fatalf("%s: no records", file)
	}
	return func(_ context.Context, name string) ([]string, error) {
		rec, ok := zone[strings.TrimSuffix(strings.ToLower(name), ".")]
		switch {
		case !ok || rec == "NXDOMAIN":
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		case rec == "~~Query timed out~~":
			return nil, &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true, IsTemporary: true}
		case rec == "~~SERVFAIL~~":
			return nil, &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
		case rec == `""`:
			return []string{""}, nil
		}
		return []string{rec}, nil
	}
}

// mailDKIMVerdict is the overall verdict on a message, as Mail::DKIM gives
// it: the best of its signatures' results.
func mailDKIMVerdict(res []Result) string {
	rank := map[string]int{"none": 0, "temperror": 1, "invalid": 2, "fail": 3, "pass": 4}
	best := "none"
	for _, r := range res {
		v := "fail"
		switch {
		case r.OK:
			v = "pass"
		case r.Temporary:
			v = "temperror"
		default:
			// Verify wraps go-msgauth's error once; IsPermFail does not unwrap.
			for e := r.Err; e != nil; e = errors.Unwrap(e) {
				if dkim.IsPermFail(e) {
					v = "invalid"
				}
			}
		}
		if rank[v] > rank[best] {
			best = v
		}
	}
	return best
}

// TestMailDKIMCorpus verifies every message of Mail::DKIM's corpus against
// its fake DNS and compares with Mail::DKIM's expected result. Where Postern
// deliberately differs, mailDKIMCases says so and why, and Postern's
// result is asserted; nothing is skipped.
func TestMailDKIMCorpus(t *testing.T) {
	if _, err := os.Stat(mailDKIMCorpusDir); err != nil {
		t.Skipf("Mail::DKIM corpus %s missing (%v): it lives in ../shared/conformance/dkim/mail-dkim next to the checkout", mailDKIMCorpusDir, err)
	}
	lookup := mailDKIMZone(t, filepath.Join(mailDKIMCorpusDir, "FAKE_DNS.dat"))

	data, err := os.ReadFile(filepath.Join(mailDKIMCorpusDir, "expected-results.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var agree, differ int
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimRight(line, "\r"); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) < 2 {
			t.Fatalf("expected-results.tsv: bad line %q", line)
		}
		file, theirs := fields[0], fields[1]
		seen[file] = true
		c, ok := mailDKIMCases[file]
		if !ok {
			t.Errorf("%s: not in mailDKIMCases (Mail::DKIM expects %s): add it", file, theirs)
			continue
		}
		if (c.verdict != theirs) != (c.why != "") {
			t.Errorf("%s: mailDKIMCases has verdict %s, Mail::DKIM %s: why must be set exactly when they differ", file, c.verdict, theirs)
		}
		if c.verdict == theirs {
			agree++
		} else {
			differ++
		}
		t.Run(file, func(t *testing.T) {
			msg, err := os.ReadFile(filepath.Join(mailDKIMCorpusDir, "corpus", file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Verify(t.Context(), msg, lookup)
			var got string
			var errs []string
			if err != nil {
				got = "error"
				errs = append(errs, err.Error())
			} else {
				got = mailDKIMVerdict(res)
				for _, r := range res {
					if r.Err != nil {
						errs = append(errs, r.Err.Error())
					}
				}
			}
			if got != c.verdict {
				t.Errorf("verdict %s, want %s (Mail::DKIM: %s); errors: %q", got, c.verdict, theirs, errs)
			}
			if c.errHas != "" && !strings.Contains(strings.Join(errs, "\n"), c.errHas) {
				t.Errorf("no error contains %q; errors: %q", c.errHas, errs)
			}
			if c.verdict == "pass" && len(errs) != 0 {
				t.Errorf("pass with errors %q", errs)
			}
			if c.why != "" {
				t.Logf("differs from Mail::DKIM (%s): %s", theirs, c.why)
			}
			if c.note != "" {
				t.Logf("agrees with Mail::DKIM: %s", c.note)
			}
		})
	}
	for file := range mailDKIMCases {
		if !seen[file] {
			t.Errorf("mailDKIMCases lists %s, which expected-results.tsv does not", file)
		}
	}
	t.Logf("%d corpus messages: %d agree with Mail::DKIM, %d differ (listed with reasons)", len(seen), agree, differ)
}
