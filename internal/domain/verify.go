package domain

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/postern/postern/internal/dnsres"
)

// Check is what Verify found for one Record.
type Check struct {
	Record    Record
	OK        bool
	Found     []string // what the DNS had: the relevant TXT records, or "pref host." of each MX
	Problem   string   // why not OK: "missing", "different key", "NXDOMAIN", "temporary DNS failure: …", …
	Temporary bool     // the lookup failed in a way that may pass: neither OK nor a sign the record is gone
}

// Verify looks each record up through r and checks it against what the
// DNS has. The domain is verified when there is at least one Required
// record and every Required one (the DKIM keys) matches.
//
// DKIM records are compared by their tags: v (DKIM1 if present), k (rsa
// when absent), and p exactly, whitespace aside; tag order and spacing do
// not matter, but tag names are case-sensitive as RFC 6376 §3.2 says, so
// "P=" is reported rather than accepted as a verifier would not find it.
// Several TXT records at a selector are OK only if all match. An SPF
// record matches when the name's single v=spf1 record holds each of the
// expected include/ip4/ip6 mechanisms with a pass qualifier before "all"
// (an ip4/ip6 range holding the address counts). An MX record matches by
// host. Any single valid v=DMARC1 record counts as a DMARC match.
func Verify(ctx context.Context, r dnsres.Resolver, domain string, recs []Record) (checks []Check, verified bool) {
	domain = normName(domain)
	l := &lookups{r: r, txt: map[string]lookupResult{}, mx: map[string]lookupResult{}}
	required := 0
	verified = true
	for _, rec := range recs {
		c := Check{Record: rec}
		name := normName(rec.Name)
		switch {
		case name != domain && !strings.HasSuffix(name, "."+domain):
			c.Problem = fmt.Sprintf("not a name under %s", domain)
		case rec.Type == "MX":
			res := l.lookupMX(ctx, name)
			c.Found = res.found
			c.Problem, c.Temporary = res.problem, res.temporary
			if res.err == nil {
				c.Problem = checkMX(rec, res.found)
			}
		case rec.Type == "TXT":
			res := l.lookupTXT(ctx, name)
			c.Problem, c.Temporary = res.problem, res.temporary
			if res.err == nil {
				c.Found, c.Problem = checkTXT(rec, res.found)
			}
		default:
			c.Problem = "cannot check records of type " + strconv.Quote(rec.Type)
		}
		c.OK = c.Problem == ""
		if rec.Required {
			required++
			verified = verified && c.OK
		}
		checks = append(checks, c)
	}
	return checks, verified && required > 0
}

// AnyTemporary reports whether a check failed only for a temporary DNS
// failure, so that the result says nothing about the records (a periodic
// re-check should not mark a domain unverified for it).
func AnyTemporary(checks []Check) bool {
	for _, c := range checks {
		if c.Temporary {
			return true
		}
	}
	return false
}

type lookupResult struct {
	found     []string
	err       error
	problem   string
	temporary bool
}

// lookups asks each name and type once per Verify.
type lookups struct {
	r   dnsres.Resolver
	txt map[string]lookupResult
	mx  map[string]lookupResult
}

func (l *lookups) lookupTXT(ctx context.Context, name string) lookupResult {
	if res, ok := l.txt[name]; ok {
		return res
	}
	txts, err := l.r.LookupTXT(ctx, name)
	res := lookupResult{found: txts, err: err}
	res.problem, res.temporary = lookupProblem(err)
	l.txt[name] = res
	return res
}

func (l *lookups) lookupMX(ctx context.Context, name string) lookupResult {
	if res, ok := l.mx[name]; ok {
		return res
	}
	mxs, err := l.r.LookupMX(ctx, name)
	res := lookupResult{err: err}
	for _, mx := range mxs {
		host := mx.Host
		if host != "." {
			host += "."
		}
		res.found = append(res.found, strconv.Itoa(int(mx.Pref))+" "+host)
	}
	res.problem, res.temporary = lookupProblem(err)
	l.mx[name] = res
	return res
}

func lookupProblem(err error) (problem string, temporary bool) {
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, dnsres.ErrNXDomain):
		return "NXDOMAIN", false
	case dnsres.IsTemporary(err):
		return "temporary DNS failure: " + err.Error(), true
	}
	return "DNS lookup failed: " + err.Error(), false
}

func checkTXT(rec Record, txts []string) (found []string, problem string) {
	switch rec.Purpose {
	case PurposeDKIMRSA, PurposeDKIMEd25519:
		return txts, checkDKIM(rec, txts)
	case PurposeSPF, PurposeReturnPath:
		return checkSPF(rec, txts)
	case PurposeDMARC:
		return checkDMARC(txts)
	}
	return txts, "cannot check TXT records for purpose " + strconv.Quote(string(rec.Purpose))
}

// checkDKIM: see Verify.
func checkDKIM(rec Record, txts []string) string {
	want, err := ParseDKIMRecord(rec.Value)
	if err != nil || want["p"] == "" {
		return "expected record is not a valid DKIM key record"
	}
	if len(txts) == 0 {
		return "missing"
	}
	var problems []string
	for _, txt := range txts {
		if p := dkimMismatch(want, txt); p != "" {
			problems = append(problems, p)
		}
	}
	switch {
	case len(problems) == 0:
		return ""
	case len(txts) == 1:
		return problems[0]
	case len(problems) < len(txts):
		return fmt.Sprintf("%d TXT records at this name, %d not matching: verifiers may use any of them (RFC 6376 §3.6.2.2)", len(txts), len(problems))
	}
	return fmt.Sprintf("%d TXT records at this name, none matching: %s", len(txts), problems[0])
}

// dkimMismatch says why the published record txt does not match want, or
// "" when it does.
func dkimMismatch(want map[string]string, txt string) string {
	got, err := ParseDKIMRecord(txt)
	if err != nil {
		return "not a valid DKIM key record: " + strings.TrimPrefix(err.Error(), "domain: ")
	}
	if v, ok := got["v"]; ok && v != "DKIM1" {
		return fmt.Sprintf("v=%s, not DKIM1", truncate(v, 20))
	}
	p, ok := got["p"]
	if !ok {
		if _, upper := got["P"]; upper {
			return "tag names are case-sensitive (RFC 6376 §3.2): write p= in lower case"
		}
		return "no p= tag"
	}
	p = removeWS(p)
	if p == "" {
		return "key revoked (empty p=)"
	}
	wantK, gotK := want["k"], got["k"]
	if wantK == "" {
		wantK = string(KeyRSA)
	}
	if gotK == "" {
		gotK = string(KeyRSA)
	}
	if !strings.EqualFold(wantK, gotK) {
		return fmt.Sprintf("different key type (k=%s, expected k=%s)", truncate(gotK, 20), wantK)
	}
	if p != removeWS(want["p"]) {
		return "different key"
	}
	if h, ok := got["h"]; ok && !listHas(h, "sha256") {
		return "h= does not allow sha256"
	}
	if s, ok := got["s"]; ok && !listHas(s, "*") && !listHas(s, "email") {
		return "s= does not allow email"
	}
	return ""
}

// listHas reports whether the colon-separated list holds item.
func listHas(list, item string) bool {
	for v := range strings.SplitSeq(list, ":") {
		if strings.EqualFold(trimWS(v), item) {
			return true
		}
	}
	return false
}

// checkSPF: see Verify.
func checkSPF(rec Record, txts []string) (found []string, problem string) {
	found = filter(txts, isSPF)
	switch len(found) {
	case 0:
		return found, "missing"
	case 1:
	default:
		return found, fmt.Sprintf("%d v=spf1 records: receivers treat that as a permerror (RFC 7208 §4.5); merge them into one", len(found))
	}
	wants := strings.Fields(rec.Value)
	if len(wants) == 0 || !isSPF(rec.Value) {
		return found, "expected record is not an SPF record"
	}
	var lacking []string
	for _, want := range wants[1:] {
		if strings.HasSuffix(strings.ToLower(want), "all") {
			continue
		}
		if !spfHas(found[0], want) {
			lacking = append(lacking, want)
		}
	}
	if len(lacking) > 0 {
		return found, "the v=spf1 record lacks " + strings.Join(lacking, " ")
	}
	return found, ""
}

// isSPF reports whether a TXT record is an SPF record (RFC 7208 §4.5).
func isSPF(s string) bool {
	return len(s) >= 6 && strings.EqualFold(s[:6], "v=spf1") && (len(s) == 6 || s[6] == ' ')
}

// spfHas reports whether the SPF record holds the mechanism want
// ("include:D", "ip4:A" or "ip6:A") with a pass qualifier, before "all".
func spfHas(record, want string) bool {
	wantMech, wantArg, _ := strings.Cut(strings.ToLower(want), ":")
	var wantAddr netip.Addr
	if wantMech == "ip4" || wantMech == "ip6" {
		a, err := netip.ParseAddr(wantArg)
		if err != nil {
			return false
		}
		wantAddr = a
	}
	for _, term := range strings.Fields(record)[1:] {
		term = strings.ToLower(term)
		qualifier := byte('+')
		if strings.ContainsRune("+-~?", rune(term[0])) {
			qualifier, term = term[0], term[1:]
		}
		if term == "all" {
			return false // later mechanisms are never evaluated (RFC 7208 §5.1)
		}
		mech, arg, _ := strings.Cut(term, ":")
		if qualifier != '+' || mech != wantMech {
			continue
		}
		switch mech {
		case "include":
			if normName(arg) == normName(wantArg) {
				return true
			}
		case "ip4", "ip6":
			if prefixHolds(arg, wantAddr) {
				return true
			}
		}
	}
	return false
}

// prefixHolds reports whether the ip4/ip6 argument ("A" or "A/n") covers
// addr.
func prefixHolds(arg string, addr netip.Addr) bool {
	if !strings.Contains(arg, "/") {
		a, err := netip.ParseAddr(arg)
		return err == nil && a.Unmap() == addr.Unmap()
	}
	p, err := netip.ParsePrefix(arg)
	return err == nil && p.Contains(addr)
}

// checkDMARC: see Verify.
func checkDMARC(txts []string) (found []string, problem string) {
	found = filter(txts, isDMARC)
	switch len(found) {
	case 0:
		return found, "missing"
	case 1:
	default:
		return found, fmt.Sprintf("%d DMARC records: receivers apply none of them (RFC 7489 §6.6.3)", len(found))
	}
	tags, err := ParseDKIMRecord(found[0])
	if err != nil {
		return found, "not a valid DMARC record: " + strings.TrimPrefix(err.Error(), "domain: ")
	}
	if order := tagOrder(found[0]); len(order) == 0 || order[0] != "v" || tags["v"] != "DMARC1" {
		return found, "not a valid DMARC record: it must start with v=DMARC1"
	}
	switch strings.ToLower(tags["p"]) {
	case "none", "quarantine", "reject":
		return found, ""
	case "":
		return found, "not a valid DMARC record: no p= tag"
	}
	return found, "not a valid DMARC record: p= must be none, quarantine or reject"
}

// isDMARC reports whether a TXT record starts with a v=DMARC1 tag (RFC
// 7489 §6.6.3 discards the others).
func isDMARC(s string) bool {
	c := strings.ToLower(removeWS(s))
	return strings.HasPrefix(c, "v=dmarc1") && (len(c) == 8 || c[8] == ';')
}

// checkMX: see Verify.
func checkMX(rec Record, found []string) string {
	fields := strings.Fields(rec.Value)
	if len(fields) == 0 {
		return "expected record is not an MX record"
	}
	want := normName(fields[len(fields)-1])
	if len(found) == 0 {
		return "missing"
	}
	for _, f := range found {
		if _, host, _ := strings.Cut(f, " "); normName(host) == want {
			return ""
		}
	}
	return "different host"
}

// Format writes one line per check:
//
//	✓ name TYPE value
//	✗ name TYPE: problem; found: "…", "…"; expected: value
//
// What the DNS had is quoted, so that control characters in it cannot
// reach the terminal.
func Format(checks []Check) string {
	var b strings.Builder
	for _, c := range checks {
		r := c.Record
		if c.OK {
			fmt.Fprintf(&b, "✓ %s %s %s\n", r.Name, r.Type, r.Value)
			continue
		}
		found := "nothing"
		if len(c.Found) > 0 {
			q := make([]string, len(c.Found))
			for i, f := range c.Found {
				q[i] = strconv.Quote(f)
			}
			found = strings.Join(q, ", ")
		}
		fmt.Fprintf(&b, "✗ %s %s: %s; found: %s; expected: %s\n", r.Name, r.Type, c.Problem, found, r.Value)
	}
	return b.String()
}

// filter returns the strings that keep accepts.
func filter(txts []string, keep func(string) bool) []string {
	var out []string
	for _, t := range txts {
		if keep(t) {
			out = append(out, t)
		}
	}
	return out
}
