package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/postern/postern/internal/mailaddr"
	"github.com/postern/postern/internal/message"
)

// Envelope is one message for one connection: its reverse-path, its
// recipients (all for this destination) and its bytes.
type Envelope struct {
	// From is the reverse-path without angle brackets; "" is the null
	// reverse-path "<>" of a bounce.
	From       string
	Recipients []string
	// Body is the message, header and body, with CRLF line endings only.
	Body []byte
	// EightBit declares 8-bit octets in Body; Send also finds them itself.
	EightBit bool
	// SMTPUTF8 declares that the message needs SMTPUTF8 (RFC 6531), for
	// instance for UTF-8 header fields; Send also sets it itself when an
	// address is not ASCII.
	SMTPUTF8 bool
}

// bodyBlock is how much of the body one write sends, each with its own
// DataBlock deadline.
const bodyBlock = 64 << 10

// Send runs one mail transaction (RFC 5321 §3.3) on the connection:
//
//	MAIL FROM:<from> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]
//	RCPT TO:<rcpt>, one per recipient
//	DATA, the dot-stuffed body, "."
//
// When the server offers PIPELINING (RFC 2920), MAIL and every RCPT go in
// one write. SIZE (RFC 1870) is given when offered; BODY=8BITMIME (RFC
// 6152) when the body has 8-bit octets and the server offers it (when it
// does not, the body is sent as it is, as most MTAs do); SMTPUTF8 (RFC
// 6531) when an address is not ASCII. DATA is sent only when a recipient
// was accepted.
//
// Some messages are refused before a byte is sent, permanently: a body
// with a bare CR or LF (5.6.0: Postern never lets an SMTP smuggling
// payload out), a body larger than the server's SIZE limit (5.3.4), a
// non-ASCII address to a server without SMTPUTF8 (5.6.7). Addresses go
// out as mailaddr writes them (RFC 5321 §4.1.2: the local part a
// dot-string or a quoted-string, quoted again here); an address that
// mailaddr.Parse refuses (control characters, a local part that is
// neither, a bad domain, over the §4.5.3.1 limits) is never written and is
// refused the same way (5.1.7 for From, 5.1.3 for a recipient).
//
// msg is the outcome of the transaction: the reply to MAIL when it was
// refused, the refusal of the first recipient (a temporary one if any)
// when no recipient was accepted, else the reply to DATA or the one after
// the final dot; it is OK only when the server took the message. rcpts
// holds one Result per recipient, in order: its refusal at RCPT, or, when
// it was accepted there, msg. After a failed transaction Send says RSET,
// so that the connection can carry the next one.
//
// err is non-nil when the connection can no longer be used (lost, timed
// out, protocol error, ctx ended, 421): the caller must close it, and
// every recipient without a final answer has a temporary Result.
func (c *Conn) Send(ctx context.Context, env Envelope) (msg Result, rcpts []Result, err error) {
	rcpts = make([]Result, len(env.Recipients))
	all := func(r Result) (Result, []Result) {
		for i := range rcpts {
			rcpts[i] = r
		}
		return r, rcpts
	}
	if c.closed || c.broken != nil {
		msg, rcpts = all(tempEnh(enhBadConn, "connection to %s is no longer usable", c.addr))
		return msg, rcpts, fmt.Errorf("delivery: %s: connection no longer usable: %w", c.addr, c.broken)
	}
	if err := ctx.Err(); err != nil {
		c.broken = err
		msg, rcpts = all(tempEnh(enhBadConn, "delivery stopped before MAIL FROM: %v", err))
		return msg, rcpts, fmt.Errorf("delivery: %s: %w", c.addr, err)
	}
	if len(env.Recipients) == 0 {
		return Perm(enhBadRcpt, "no recipients"), rcpts, nil
	}

	// Local checks: nothing is sent when one fails.
	if err := message.CheckLineEndings(env.Body); err != nil {
		msg, rcpts = all(Perm(enhMedia, "message not sent: %v; only CRLF line endings may leave Postern", err))
		return msg, rcpts, nil
	}
	from, ok := wireAddr(env.From, true)
	if !ok {
		msg, rcpts = all(Perm(enhBadSender, "sender address %q cannot be sent", env.From))
		return msg, rcpts, nil
	}
	smtputf8 := env.SMTPUTF8 || !isASCII(from)
	var valid []int                             // indexes of recipients that go to RCPT
	wire := make([]string, len(env.Recipients)) // their forms on the wire
	for i, rc := range env.Recipients {
		w, ok := wireAddr(rc, false)
		if !ok {
			rcpts[i] = Perm(enhBadRcpt, "recipient address %q cannot be sent", rc)
			continue
		}
		smtputf8 = smtputf8 || !isASCII(w)
		wire[i] = w
		valid = append(valid, i)
	}
	if len(valid) == 0 {
		return rcpts[0], rcpts, nil
	}
	if _, ok := c.ext["SMTPUTF8"]; smtputf8 && !ok {
		msg, rcpts = all(Perm(enhNeedUTF8, "message needs SMTPUTF8 (non-ASCII address), which %s does not offer", c.host))
		return msg, rcpts, nil
	}
	size := len(env.Body)
	if size > 0 && !bytes.HasSuffix(env.Body, []byte("\r\n")) {
		size += 2
	}
	sizeParam, limit := c.sizeLimit()
	if limit > 0 && int64(size) > limit {
		msg, rcpts = all(Perm(enhTooBig, "message of %d octets is larger than the %d that %s accepts", size, limit, c.host))
		return msg, rcpts, nil
	}

	var cmds bytes.Buffer
	cmds.WriteString("MAIL FROM:<" + from + ">")
	if sizeParam {
		cmds.WriteString(" SIZE=" + strconv.Itoa(size))
	}
	if _, ok := c.ext["8BITMIME"]; ok && (env.EightBit || has8bit(env.Body)) {
		cmds.WriteString(" BODY=8BITMIME")
	}
	if smtputf8 {
		cmds.WriteString(" SMTPUTF8")
	}
	cmds.WriteString("\r\n")

	stop := c.watch(ctx)
	defer func() {
		// The context ended as the transaction finished: the results
		// stand, the connection is lost.
		if serr := stop(); err == nil {
			err = serr
		}
	}()
	t := &transaction{c: c, rcpts: rcpts, valid: valid}
	if _, ok := c.ext["PIPELINING"]; ok {
		for _, i := range valid {
			cmds.WriteString("RCPT TO:<" + wire[i] + ">\r\n")
		}
		msg, err = t.envelopePipelined(cmds.Bytes())
	} else {
		msg, err = t.envelopeInTurn(cmds.Bytes(), wire)
	}
	if err == nil && len(t.accepted) > 0 {
		msg, err = t.data(env.Body)
	}
	if err != nil {
		t.unfinished(msg)
		return msg, rcpts, err
	}
	for _, i := range t.accepted {
		rcpts[i] = msg
	}
	if !msg.OK() {
		err = c.reset()
	}
	return msg, rcpts, err
}

// transaction is the state of one Send.
type transaction struct {
	c        *Conn
	rcpts    []Result
	valid    []int // recipients sent in RCPT
	answered int   // how many of valid have their RCPT reply
	accepted []int // recipients accepted at RCPT
}

// envelopePipelined sends MAIL and the RCPTs in one write (RFC 2920 §3.1),
// then reads their replies in order. The write runs beside the reads so
// that a server answering before it has read everything cannot deadlock
// the two sides.
func (t *transaction) envelopePipelined(cmds []byte) (Result, error) {
	c := t.c
	tm := c.opts.Timeouts
	c.setDeadline(tm.Mail)
	written := make(chan error, 1)
	go func() {
		_, err := c.nc.Write(cmds)
		written <- err
	}()
	res, err := t.readEnvelope(true, nil)
	if err != nil {
		c.mu.Lock()
		c.nc.SetDeadline(time.Unix(1, 0)) // stop the write, if it is stuck
		c.mu.Unlock()
		<-written
		return res, err
	}
	if werr := <-written; werr != nil {
		return c.fail(werr, "writing MAIL FROM and RCPT TO")
	}
	return res, nil
}

// envelopeInTurn sends MAIL, then each RCPT, each after the previous reply;
// rcpts are the recipients in their wire form.
func (t *transaction) envelopeInTurn(mail []byte, rcpts []string) (Result, error) {
	c := t.c
	if err := c.write(mail, c.opts.Timeouts.Mail); err != nil {
		return c.fail(err, "writing MAIL FROM")
	}
	return t.readEnvelope(false, func(i int) error {
		return c.write([]byte("RCPT TO:<"+rcpts[i]+">\r\n"), c.opts.Timeouts.Rcpt)
	})
}

// readEnvelope reads the replies to MAIL and the RCPTs; sendRcpt, when not
// nil, sends each RCPT before its reply is read. When MAIL is refused its
// Result is every recipient's, and the replies to pipelined RCPTs are read
// and ignored. It returns the MAIL result, or, when no recipient was
// accepted, the refusal of the first (a temporary one if any).
func (t *transaction) readEnvelope(pipelined bool, sendRcpt func(i int) error) (Result, error) {
	c := t.c
	tm := c.opts.Timeouts
	rep, err := c.readReply(tm.Mail)
	if err != nil {
		return c.fail(err, "reading the reply to MAIL FROM")
	}
	mail, err := c.check(rep, "MAIL FROM")
	if err != nil {
		return mail, err
	}
	if !mail.OK() {
		for _, i := range t.valid {
			t.rcpts[i] = mail
		}
		t.answered = len(t.valid)
		if pipelined {
			for range t.valid {
				if _, err := c.readReply(tm.Rcpt); err != nil {
					return c.fail(err, "reading the reply to RCPT TO")
				}
			}
		}
		return mail, nil
	}
	for _, i := range t.valid {
		if sendRcpt != nil {
			if err := sendRcpt(i); err != nil {
				return c.fail(err, "writing RCPT TO")
			}
		}
		rep, err := c.readReply(tm.Rcpt)
		if err != nil {
			return c.fail(err, "reading the reply to RCPT TO")
		}
		res, err := c.check(rep, "RCPT TO")
		if err != nil {
			return res, err
		}
		t.rcpts[i] = res
		t.answered++
		if res.OK() {
			t.accepted = append(t.accepted, i)
		}
	}
	if len(t.accepted) > 0 {
		return mail, nil
	}
	summary := t.rcpts[0]
	for _, r := range t.rcpts {
		if !r.Permanent {
			summary = r
			break
		}
	}
	return summary, nil
}

// data sends DATA and, after 354, the body; it returns the final reply.
func (t *transaction) data(body []byte) (Result, error) {
	c := t.c
	tm := c.opts.Timeouts
	if err := c.write([]byte("DATA\r\n"), tm.DataInit); err != nil {
		return c.fail(err, "writing DATA")
	}
	rep, err := c.readReply(tm.DataInit)
	if err != nil {
		return c.fail(err, "reading the reply to DATA")
	}
	if rep.Code != 354 {
		if rep.Code < 400 {
			return c.fail(protoErr("unexpected reply %d to DATA", rep.Code), "reading the reply to DATA")
		}
		return c.check(rep, "DATA")
	}
	wire := dotStuff(body)
	for len(wire) > 0 {
		n := min(len(wire), bodyBlock)
		if err := c.write(wire[:n], tm.DataBlock); err != nil {
			return c.fail(err, "writing the message")
		}
		wire = wire[n:]
	}
	rep, err = c.readReply(tm.DataEnd)
	if err != nil {
		return c.fail(err, "reading the reply to the end of the message")
	}
	return c.check(rep, "the end of the message")
}

// unfinished gives res, a temporary failure, to every recipient without a
// final answer: those accepted, and those whose RCPT reply never came.
func (t *transaction) unfinished(res Result) {
	for _, i := range t.accepted {
		t.rcpts[i] = res
	}
	for _, i := range t.valid[t.answered:] {
		t.rcpts[i] = res
	}
}

// check turns a reply to a transaction command into its Result. A 1xx or
// 3xx is a protocol error; a 421 ends the connection (RFC 5321 §3.8),
// which the returned error says.
func (c *Conn) check(rep reply, step string) (Result, error) {
	if rep.Code/100 == 3 {
		return c.fail(protoErr("unexpected reply %d to %s", rep.Code, step), "reading the reply to "+step)
	}
	res := rep.result()
	if rep.Code == 421 {
		c.broken = errors.New("server closing the connection")
		return res, fmt.Errorf("delivery: %s closing the connection after %s: %s", c.addr, step, res.Line)
	}
	return res, nil
}

// reset says RSET after a failed transaction (RFC 5321 §4.1.1.5).
func (c *Conn) reset() error {
	tm := c.opts.Timeouts
	if err := c.write([]byte("RSET\r\n"), tm.Mail); err != nil {
		_, err = c.fail(err, "writing RSET")
		return err
	}
	rep, err := c.readReply(tm.Mail)
	if err != nil {
		_, err = c.fail(err, "reading the reply to RSET")
		return err
	}
	if rep.Code/100 != 2 {
		c.broken = fmt.Errorf("RSET refused: %s", rep.result().Line)
		return fmt.Errorf("delivery: %s: %w", c.addr, c.broken)
	}
	return nil
}

// sizeLimit reads the SIZE extension (RFC 1870 §4): whether to give SIZE=
// in MAIL, and the server's limit, 0 when it states none.
func (c *Conn) sizeLimit() (offered bool, limit int64) {
	v, ok := c.ext["SIZE"]
	if !ok {
		return false, 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return true, 0
	}
	return true, n
}

// dotStuff returns the body as it goes after DATA (RFC 5321 §4.5.2): a
// "." added before every line that starts with one, CRLF added after a
// last line without it, then ".\r\n". body must be CRLF-only.
func dotStuff(body []byte) []byte {
	out := make([]byte, 0, len(body)+len(body)/32+5)
	for len(body) > 0 {
		if body[0] == '.' {
			out = append(out, '.')
		}
		i := bytes.IndexByte(body, '\n')
		if i < 0 {
			out = append(out, body...)
			out = append(out, '\r', '\n')
			break
		}
		out = append(out, body[:i+1]...)
		body = body[i+1:]
	}
	return append(out, '.', '\r', '\n')
}

// wireAddr returns a as it goes between the angle brackets of MAIL or
// RCPT: mailaddr's form of it (RFC 5321 §4.1.2, the local part quoted
// again), or false when mailaddr.Parse refuses it, so that nothing but a
// mailbox is ever written into a command. "" is the null reverse-path,
// allowed when emptyOK.
func wireAddr(a string, emptyOK bool) (string, bool) {
	if a == "" {
		return "", emptyOK
	}
	m, err := mailaddr.Parse(a)
	if err != nil {
		return "", false
	}
	return m.String(), true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func has8bit(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}
