package domain

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"

	"github.com/postern/postern/internal/config"
)

// Purpose says what a Record is for.
type Purpose string

// The purposes of the records Records makes.
const (
	PurposeDKIMRSA     Purpose = "dkim-rsa"
	PurposeDKIMEd25519 Purpose = "dkim-ed25519"
	PurposeSPF         Purpose = "spf"         // the mechanism to add to the domain's SPF record
	PurposeReturnPath  Purpose = "return-path" // the bounce subdomain: its MX and its SPF record
	PurposeDMARC       Purpose = "dmarc"       // a suggested DMARC record
)

// DefaultReturnPathLabel is the label of the return-path subdomain when
// Config.ReturnPathLabel is empty.
const DefaultReturnPathLabel = "pst-bounces"

// ttl is the TTL written in zone lines.
const ttl = 3600

// Config is what Records needs to know about the Postern installation.
type Config struct {
	SPFInclude      string       // the SPF include domain, e.g. "_spf.postern.example.com"; may be empty
	SPFIPs          []netip.Addr // Postern's sending addresses, as ip4:/ip6: mechanisms
	ReturnPathHost  string       // the MX host bounces go to, e.g. "mail.postern.example.com"; empty: no return-path records
	ReturnPathLabel string       // the return-path subdomain's label; default DefaultReturnPathLabel
}

// ConfigOf is what the DNS records of every domain depend on in the
// installation's configuration: the SPF advice and the return path.
func ConfigOf(cfg config.Config) Config {
	c := Config{SPFInclude: cfg.Domains.SPFInclude, ReturnPathHost: cfg.ReturnPathHost(), ReturnPathLabel: cfg.Domains.ReturnPathLabel}
	for _, s := range cfg.Domains.SPFIPs {
		if ip, err := netip.ParseAddr(s); err == nil { // Validate has refused the others
			c.SPFIPs = append(c.SPFIPs, ip)
		}
	}
	return c
}

// SelectorKey is a DKIM selector and its public key (*rsa.PublicKey or
// ed25519.PublicKey). An Optional key's record is advised, not required:
// it is the generated companion of a key its owner brought, which alone
// verifies the domain.
type SelectorKey struct {
	Selector string
	Public   crypto.PublicKey
	Optional bool
}

// Record is one DNS record the domain's owner should publish.
type Record struct {
	Name     string // owner name, without the trailing dot
	Type     string // "TXT" or "MX"
	Value    string // the TXT text (unsplit), or "10 host." for MX
	Purpose  Purpose
	Note     string // for people: what the record is for and how to publish it
	Required bool   // the domain is verified only when every required record matches (the DKIM keys but an optional one)
}

// Records returns the records to publish for domain: a DKIM TXT record per
// key (required, but for an Optional key), the SPF mechanism to add, the return-path MX and its SPF
// record, and a suggested DMARC record (advised). A key of another type
// than RSA or Ed25519 is left out. The SPF records are left out when cfg
// has neither include nor addresses, the return-path ones when it has no
// ReturnPathHost.
func Records(domain string, cfg Config, keys []SelectorKey) []Record {
	domain = normName(domain)
	var recs []Record
	for _, k := range keys {
		var (
			kind    KeyKind
			p       string
			purpose Purpose
		)
		switch pub := k.Public.(type) {
		case *rsa.PublicKey:
			der, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				continue
			}
			kind, p, purpose = KeyRSA, base64.StdEncoding.EncodeToString(der), PurposeDKIMRSA
		case ed25519.PublicKey:
			if len(pub) != ed25519.PublicKeySize {
				continue
			}
			kind, p, purpose = KeyEd25519, base64.StdEncoding.EncodeToString(pub), PurposeDKIMEd25519
		default:
			continue
		}
		note := "DKIM " + string(kind) + " key for selector " + normName(k.Selector) + "; required"
		if k.Optional {
			note = "DKIM " + string(kind) + " key for selector " + normName(k.Selector) +
				"; optional: mail is signed with it too once it is found"
		}
		recs = append(recs, Record{
			Name:     normName(k.Selector) + "._domainkey." + domain,
			Type:     "TXT",
			Value:    "v=DKIM1; k=" + string(kind) + "; p=" + p,
			Purpose:  purpose,
			Note:     note,
			Required: !k.Optional,
		})
	}

	mechs := spfMechanisms(cfg)
	if mechs != "" {
		recs = append(recs, Record{
			Name:    domain,
			Type:    "TXT",
			Value:   "v=spf1 " + mechs + " ~all",
			Purpose: PurposeSPF,
			Note:    "SPF: add \"" + mechs + "\" to the domain's one v=spf1 record (or publish this one if there is none); advised",
		})
	}

	if host := normName(cfg.ReturnPathHost); host != "" {
		label := normName(cfg.ReturnPathLabel)
		if label == "" {
			label = DefaultReturnPathLabel
		}
		rp := label + "." + domain
		recs = append(recs, Record{
			Name:    rp,
			Type:    "MX",
			Value:   "10 " + host + ".",
			Purpose: PurposeReturnPath,
			Note:    "return path: bounces to " + rp + " come back to Postern; advised",
		})
		if mechs != "" {
			recs = append(recs, Record{
				Name:    rp,
				Type:    "TXT",
				Value:   "v=spf1 " + mechs + " -all",
				Purpose: PurposeReturnPath,
				Note:    "SPF of the return-path subdomain, the envelope sender Postern uses; advised",
			})
		}
	}

	recs = append(recs, Record{
		Name:    "_dmarc." + domain,
		Type:    "TXT",
		Value:   "v=DMARC1; p=none; rua=mailto:dmarc@" + domain,
		Purpose: PurposeDMARC,
		Note:    "suggested DMARC record; any valid DMARC record already there is fine; advised",
	})
	return recs
}

// spfMechanisms is the SPF mechanisms authorizing Postern, space-separated.
func spfMechanisms(cfg Config) string {
	var terms []string
	if inc := normName(cfg.SPFInclude); inc != "" {
		terms = append(terms, "include:"+inc)
	}
	for _, ip := range cfg.SPFIPs {
		ip = ip.Unmap()
		switch {
		case ip.Is4():
			terms = append(terms, "ip4:"+ip.String())
		case ip.Is6():
			terms = append(terms, "ip6:"+ip.WithZone("").String())
		}
	}
	return strings.Join(terms, " ")
}

// normName lowercases a domain name and removes its trailing dot.
func normName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// ZoneLines returns recs in zone-file form, one record a line:
//
//	name. 3600 IN TXT "part1" "part2"
//	name. 3600 IN MX 10 host.
//
// TXT values are split into strings of at most 255 bytes (RFC 1035
// §3.3.14, RFC 6376 §3.6.2.2), each quoted with '"' and '\' escaped and
// bytes outside printable ASCII written as \DDD.
func ZoneLines(recs []Record) []string {
	lines := make([]string, 0, len(recs))
	for _, r := range recs {
		name := r.Name
		if !strings.HasSuffix(name, ".") {
			name += "."
		}
		value := r.Value
		if r.Type == "TXT" {
			value = quoteTXT(r.Value)
		}
		lines = append(lines, name+" "+strconv.Itoa(ttl)+" IN "+r.Type+" "+value)
	}
	return lines
}

// quoteTXT splits s into character-strings of at most 255 bytes and quotes
// each.
func quoteTXT(s string) string {
	const max = 255
	var parts []string
	for len(s) > max {
		parts = append(parts, quoteString(s[:max]))
		s = s[max:]
	}
	parts = append(parts, quoteString(s))
	return strings.Join(parts, " ")
}

func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('\\')
			b.WriteString(strconv.Itoa(int(c)/100) + strconv.Itoa(int(c)/10%10) + strconv.Itoa(int(c)%10))
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
