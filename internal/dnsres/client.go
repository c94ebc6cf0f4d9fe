package dnsres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Options tune a Client. The zero value is the defaults.
type Options struct {
	Timeout  time.Duration // per query (each UDP or TCP exchange); default 5s
	Attempts int           // rounds over the servers when they do not answer; default 2
}

const (
	defaultTimeout  = 5 * time.Second
	defaultAttempts = 2
	resolvConf      = "/etc/resolv.conf"
)

// Client is the Resolver that queries recursive resolvers over UDP, and TCP
// when an answer is truncated. It is safe for concurrent use.
type Client struct {
	servers  []string // host:port
	timeout  time.Duration
	attempts int
}

var _ Resolver = (*Client)(nil)

// New returns a Client asking server ("host:port"; a bare IP address means
// port 53). An empty server means the nameservers of /etc/resolv.conf.
func New(server string, opts Options) (*Client, error) {
	if server == "" {
		return newFromResolvConf(resolvConf, opts)
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		ip, perr := netip.ParseAddr(server)
		if perr != nil {
			return nil, fmt.Errorf("dnsres: resolver %q: want host:port", server)
		}
		server = net.JoinHostPort(ip.String(), "53")
	}
	return newClient([]string{server}, opts), nil
}

// newFromResolvConf returns a Client asking the nameservers listed in the
// resolv.conf file at path.
func newFromResolvConf(path string, opts Options) (*Client, error) {
	conf, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("dnsres: reading nameservers: %w", err)
	}
	if len(conf.Servers) == 0 {
		return nil, fmt.Errorf("dnsres: no nameserver in %s", path)
	}
	servers := make([]string, len(conf.Servers))
	for i, s := range conf.Servers {
		servers[i] = net.JoinHostPort(s, conf.Port)
	}
	return newClient(servers, opts), nil
}

func newClient(servers []string, opts Options) *Client {
	c := &Client{servers: servers, timeout: opts.Timeout, attempts: opts.Attempts}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.attempts <= 0 {
		c.attempts = defaultAttempts
	}
	return c
}

// LookupMX implements Resolver.
func (c *Client) LookupMX(ctx context.Context, domain string) ([]MX, error) {
	rrs, err := c.lookup(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	return mxRecords(rrs), nil
}

// LookupIP implements Resolver. When one of the two queries fails and the
// other returns addresses, those addresses are the result, without error.
// Without addresses, a temporary failure of either query wins over an
// NXDOMAIN.
func (c *Client) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	if _, err := checkName(host); err != nil {
		return nil, badName(dns.TypeA, host, err)
	}
	var (
		wg         sync.WaitGroup
		v4, v6     []dns.RR
		err4, err6 error
	)
	wg.Go(func() { v4, err4 = c.lookup(ctx, host, dns.TypeA) })
	wg.Go(func() { v6, err6 = c.lookup(ctx, host, dns.TypeAAAA) })
	wg.Wait()
	if addrs := append(ipRecords(v4), ipRecords(v6)...); len(addrs) > 0 {
		return addrs, nil
	}
	switch {
	case IsTemporary(err4):
		return nil, err4
	case IsTemporary(err6):
		return nil, err6
	case err4 != nil:
		return nil, err4
	}
	return nil, err6
}

// LookupTXT implements Resolver.
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := c.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	return txtRecords(rrs), nil
}

// lookup asks for name's records of type qtype, following CNAMEs.
func (c *Client) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	fqdn, err := checkName(name)
	if err != nil {
		return nil, badName(qtype, name, err)
	}
	chain := []string{fqdn}
	for {
		q := dns.Question{Name: chain[len(chain)-1], Qtype: qtype, Qclass: dns.ClassINET}
		resp, ferr := c.exchange(ctx, q)
		if ferr == nil {
			var a answer
			a, ferr = parseAnswer(resp, q, chain)
			if ferr == nil {
				if a.final {
					return a.records, nil
				}
				// The answer stops at a CNAME: ask for its target.
				chain = a.chain
				continue
			}
		}
		ferr.Type, ferr.Name = dns.Type(qtype).String(), strings.TrimSuffix(name, ".")
		return nil, ferr
	}
}

// checkName returns name fully qualified and lowercased, or why it cannot
// be asked.
func checkName(name string) (string, error) {
	if name == "" || name == "." {
		return "", errors.New("empty name")
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 0x80:
			return "", errors.New("not ASCII (IDNs are not supported)")
		case c <= ' ' || c == 0x7f:
			return "", errors.New("space or control character")
		case c == '\\':
			return "", errors.New("backslash")
		}
	}
	if _, ok := dns.IsDomainName(name); !ok || strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		return "", errors.New("not a domain name")
	}
	return dns.CanonicalName(name), nil
}

func badName(qtype uint16, name string, why error) *Error {
	return &Error{
		Type:   dns.Type(qtype).String(),
		Name:   strconv.Quote(name), // it may hold anything
		Reason: "bad name: " + why.Error(),
		Err:    ErrBadName,
	}
}
