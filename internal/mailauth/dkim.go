package mailauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// Algorithm is a DKIM signing algorithm, as written in the a= tag.
type Algorithm string

const (
	AlgRSASHA256     Algorithm = "rsa-sha256"     // RFC 6376 section 3.3.1
	AlgEd25519SHA256 Algorithm = "ed25519-sha256" // RFC 8463 section 3
)

// MaxSignatures is the number of DKIM-Signature fields Verify checks in one
// message; the rest are reported with ErrTooManySignatures, unchecked, so a
// message cannot make us do unbounded DNS lookups and hashing.
const MaxSignatures = 16

// ErrTooManySignatures is the Err of the Results beyond MaxSignatures.
var ErrTooManySignatures = errors.New("mailauth: too many DKIM signatures, not checked")

// signedHeaders are the header fields Sign covers (RFC 6376 section
// 5.4.1), in the order they are listed in h=. Each is oversigned (section
// 8.15): listed once more than it occurs, once when it is absent, so that
// an instance added anywhere in the header, or where there was none,
// breaks the signature. A verifier takes instances from the bottom up and
// signs a missing one as empty; without the extra entry, a second Subject
// added above the signed one would leave the signature valid while many
// mail readers show the added one. Every field here changes what a reader
// sees or how the body is read, or where replies and unsubscriptions go.
//
// They are in lower case, as h= lists them: field names compare without
// regard to case (section 3.5), and go-msgauth lowers each name of h=
// for every signature, which costs nothing when it is lower already.
var signedHeaders = [...]string{
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "list-unsubscribe", "list-unsubscribe-post",
}

// Key is a DKIM signing key and where its public half is published:
// Selector._domainkey.Domain.
type Key struct {
	Domain   string
	Selector string
	// Signer is an *rsa.PrivateKey (2048 bits advised, 1024 at least) or an
	// ed25519.PrivateKey.
	Signer crypto.Signer
}

// Algorithm returns the a= value the key signs with.
func (k Key) Algorithm() (Algorithm, error) {
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 1024 {
			return "", fmt.Errorf("mailauth: dkim key %s._domainkey.%s: RSA key of %d bits, want 1024 at least", k.Selector, k.Domain, pub.N.BitLen())
		}
		return AlgRSASHA256, nil
	case ed25519.PublicKey:
		return AlgEd25519SHA256, nil
	default:
		return "", fmt.Errorf("mailauth: dkim key %s._domainkey.%s: unsupported key type %T", k.Selector, k.Domain, pub)
	}
}

// Sign adds one DKIM-Signature per key to msg and returns the signed
// message: the signatures, in key order, followed by msg unchanged. msg must
// use CRLF line ends and have exactly the header section it will be sent
// with; it must have a From field.
//
// Canonicalization is relaxed/relaxed and the body length is never limited.
// The signed fields are those of signedHeaders, each listed once more
// than it occurs (oversigned), absent ones once.
//
// now is the signing time the caller means. Limitation: go-msgauth v0.7
// writes t= from the system clock and offers no clock option, so t= is the
// wall-clock time of the call, not now; now is kept in the signature of
// Sign so that callers need not change when the library grows one.
func Sign(msg []byte, keys []Key, now time.Time) ([]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("mailauth: dkim sign: no keys")
	}
	_ = now // see above: t= comes from go-msgauth's clock
	headerKeys, ok := signedKeys(msg)
	if !ok {
		return nil, errors.New("mailauth: dkim sign: message has no end of header (empty line)")
	}
	if headerKeys == nil {
		return nil, errors.New("mailauth: dkim sign: message has no From field")
	}

	var sigs bytes.Buffer
	for _, k := range keys {
		if k.Domain == "" || k.Selector == "" || k.Signer == nil {
			return nil, fmt.Errorf("mailauth: dkim sign: key %q/%q incomplete", k.Selector, k.Domain)
		}
		if _, err := k.Algorithm(); err != nil {
			return nil, err
		}
		s, err := dkim.NewSigner(&dkim.SignOptions{
			Domain:                 k.Domain,
			Selector:               k.Selector,
			Signer:                 k.Signer,
			Hash:                   crypto.SHA256,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed,
			BodyCanonicalization:   dkim.CanonicalizationRelaxed,
			HeaderKeys:             headerKeys,
		})
		if err != nil {
			return nil, fmt.Errorf("mailauth: dkim sign with %s._domainkey.%s: %w", k.Selector, k.Domain, err)
		}
		if _, err := s.Write(msg); err != nil {
			s.Close()
			return nil, fmt.Errorf("mailauth: dkim sign with %s._domainkey.%s: %w", k.Selector, k.Domain, err)
		}
		if err := s.Close(); err != nil {
			return nil, fmt.Errorf("mailauth: dkim sign with %s._domainkey.%s: %w", k.Selector, k.Domain, err)
		}
		sigs.WriteString(s.Signature())
	}
	out := make([]byte, 0, sigs.Len()+len(msg))
	out = append(out, sigs.Bytes()...)
	return append(out, msg...), nil
}

// signedKeys returns the h= list for msg's header, or nil without a From
// field; ok is false when the header has no end (an empty line). It reads
// the field names as splitHeader does, without copying them.
func signedKeys(msg []byte) (keys []string, ok bool) {
	var count [len(signedHeaders)]int
	n, fields := 0, 0
	for len(msg) > 0 {
		var line []byte
		i := bytes.IndexByte(msg, '\n')
		if i < 0 {
			line, msg = msg, nil
		} else {
			line, msg = msg[:i], msg[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			ok = i >= 0
			break
		}
		if fields > 0 && (line[0] == ' ' || line[0] == '\t') {
			continue // the field above continues
		}
		fields++
		name := line
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			name = line[:c]
		}
		name = bytes.TrimSpace(name)
		for j, h := range signedHeaders {
			if len(name) == len(h) && equalFoldASCII(name, h) {
				count[j]++
				n++
				break
			}
		}
	}
	if !ok || count[0] == 0 {
		return nil, ok
	}
	keys = make([]string, 0, n+len(signedHeaders))
	for j, name := range signedHeaders {
		for range count[j] + 1 {
			keys = append(keys, name)
		}
	}
	return keys, true
}

// equalFoldASCII reports whether b equals lower, a lower-case ASCII
// string, ignoring the case of b's ASCII letters.
func equalFoldASCII(b []byte, lower string) bool {
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// TXTLookup returns the TXT records of name, each one's strings joined.
// "No such name" must be reported as a *net.DNSError with IsNotFound set,
// a temporary failure with IsTemporary (or IsTimeout) set.
type TXTLookup func(ctx context.Context, name string) ([]string, error)

// Result is the verdict on one DKIM-Signature.
type Result struct {
	Domain    string    // d=
	Selector  string    // s=
	Algorithm Algorithm // a=, as written
	OK        bool      // the signature verified
	// Temporary is set when the failure may go away (key lookup failed
	// temporarily): RFC 6376 TEMPFAIL, "temperror" in Authentication-Results.
	Temporary bool
	Err       error // why not OK
}

// Verify checks every DKIM-Signature of msg (at most MaxSignatures) and
// returns one Result per signature, in header order. A message without
// signatures gives no results and no error; an error means the message
// could not be read at all.
func Verify(ctx context.Context, msg []byte, lookup TXTLookup) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fields, ok := splitHeader(msg)
	if !ok {
		return nil, errors.New("mailauth: dkim verify: message has no end of header (empty line)")
	}
	var results []Result
	for _, f := range fields {
		if !strings.EqualFold(f.Name, "DKIM-Signature") {
			continue
		}
		tags := parseTags(f.Value)
		results = append(results, Result{
			Domain:    tags["d"],
			Selector:  tags["s"],
			Algorithm: Algorithm(tags["a"]),
		})
	}
	if len(results) == 0 {
		return nil, nil
	}

	opts := &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return lookup(ctx, name)
		},
		MaxVerifications: MaxSignatures,
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), opts)
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		return nil, fmt.Errorf("mailauth: dkim verify: %w", err)
	}
	if want := min(len(results), MaxSignatures); len(verifs) != want {
		return nil, fmt.Errorf("mailauth: dkim verify: %d signatures found, %d checked", want, len(verifs))
	}
	for i := range results {
		if i >= len(verifs) {
			results[i].Err = ErrTooManySignatures
			continue
		}
		v := verifs[i]
		if v.Domain != "" {
			results[i].Domain = v.Domain
		}
		results[i].OK = v.Err == nil
		results[i].Temporary = dkim.IsTempFail(v.Err)
		if v.Err != nil {
			results[i].Err = fmt.Errorf("mailauth: dkim %s._domainkey.%s: %w", results[i].Selector, results[i].Domain, v.Err)
		}
	}
	return results, nil
}

// PublicKeyRecord returns the DKIM key record (RFC 6376 section 3.6.1,
// RFC 8463 section 4) that publishes pub: "v=DKIM1; k=rsa; p=…" with the
// SubjectPublicKeyInfo for RSA, or "v=DKIM1; k=ed25519; p=…" with the raw
// 32-byte key for Ed25519.
func PublicKeyRecord(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("mailauth: dkim record: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		return "", fmt.Errorf("mailauth: dkim record: unsupported key type %T", pub)
	}
}
