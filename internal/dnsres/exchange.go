package dnsres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

const (
	// ednsSize is the UDP payload size advertised with EDNS0 (RFC 6891):
	// the DNS Flag Day 2020 value, which avoids IP fragmentation.
	ednsSize = 1232
	// readSize is the buffer a UDP answer is read into: larger than
	// advertised, for servers that ignore the advertised size.
	readSize = dns.MaxMsgSize
)

// exchange asks the servers question q, in turn, for at most c.attempts
// rounds. A server that does not answer, or answers garbage, is followed by
// the next one; so is one that answers SERVFAIL or REFUSED, whose answer is
// returned if no other server gives a better one in that round. The *Error
// has no Type and Name: the caller fills them in.
func (c *Client) exchange(ctx context.Context, q dns.Question) (*dns.Msg, *Error) {
	var (
		lastErr   *Error
		refusedBy *dns.Msg
	)
	for range c.attempts {
		for _, server := range c.servers {
			if err := ctx.Err(); err != nil {
				return nil, canceled(err)
			}
			resp, err := c.query(ctx, server, q)
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					return nil, canceled(cerr)
				}
				lastErr = err
				continue
			}
			if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
				refusedBy = resp
				continue
			}
			return resp, nil
		}
		if refusedBy != nil {
			return refusedBy, nil
		}
	}
	return nil, lastErr
}

// query asks one server, over UDP, then over TCP if the answer is
// truncated.
func (c *Client) query(ctx context.Context, server string, q dns.Question) (*dns.Msg, *Error) {
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = true
	m.Question = []dns.Question{q}
	m.SetEdns0(ednsSize, false)

	resp, err := c.roundTrip(ctx, "udp", server, m)
	if err == nil && resp.Truncated {
		resp, err = c.roundTrip(ctx, "tcp", server, m)
	}
	return resp, err
}

// roundTrip sends m to server over network ("udp" or "tcp") and reads the
// answer, within c.timeout. Over UDP, datagrams shorter than a header or
// with another ID are ignored (late answers to earlier queries, or
// spoofing attempts); an
// answer with the TC bit that cannot be parsed comes back with only its
// header, Truncated set.
func (c *Client) roundTrip(ctx context.Context, network, server string, m *dns.Msg) (*dns.Msg, *Error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, server)
	if err != nil {
		return nil, netFailure(network, server, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// A cancelled context interrupts the read at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	co := &dns.Conn{Conn: conn, UDPSize: readSize}
	if err := co.WriteMsg(m); err != nil {
		return nil, netFailure(network, server, err)
	}
	for {
		raw, err := co.ReadMsgHeader(nil) // at least a header's length
		if errors.Is(err, dns.ErrShortRead) && network == "udp" {
			continue // not even a header: not an answer
		}
		if err != nil {
			return nil, netFailure(network, server, err)
		}
		if id := binary.BigEndian.Uint16(raw); id != m.Id {
			if network == "udp" {
				continue
			}
			return nil, badAnswer(network, server, fmt.Errorf("ID %d, want %d", id, m.Id))
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(raw); err != nil {
			if resp.Truncated && network == "udp" {
				return &dns.Msg{MsgHdr: resp.MsgHdr}, nil
			}
			return nil, badAnswer(network, server, err)
		}
		return resp, nil
	}
}

// netFailure describes a failed exchange with server.
func netFailure(network, server string, err error) *Error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Reason: fmt.Sprintf("no answer from %s over %s (timeout)", server, strings.ToUpper(network)), Temporary: true, Err: err}
	}
	return &Error{Reason: fmt.Sprintf("query to %s over %s failed: %v", server, strings.ToUpper(network), err), Temporary: true, Err: err}
}

// badAnswer describes an answer from server that could not be parsed.
func badAnswer(network, server string, err error) *Error {
	return &Error{Reason: fmt.Sprintf("malformed answer from %s over %s: %v", server, strings.ToUpper(network), err), Temporary: true}
}

func canceled(err error) *Error {
	return &Error{Reason: "lookup abandoned: " + err.Error(), Temporary: true, Err: err}
}
