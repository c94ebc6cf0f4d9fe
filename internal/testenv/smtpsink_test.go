package testenv

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// The sink is driven here by Go's net/smtp, a client that is not ours.

func TestSinkDeliversOverSTARTTLS(t *testing.T) {
	sink := StartSink(t, SinkOptions{SMTPUTF8: true, MaxSize: 1 << 20})
	c, err := smtp.Dial(sink.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(&tls.Config{ServerName: SinkHost, RootCAs: sink.RootCAs}); err != nil {
		t.Fatalf("STARTTLS with the sink's CA trusted: %v", err)
	}
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("%s not advertised after STARTTLS", ext)
		}
	}
	if ok, size := c.Extension("SIZE"); !ok || size != "1048576" {
		t.Errorf("SIZE = %v %q", ok, size)
	}
	send(t, c, "a@example.test", []string{"b@example.test", "c@example.test"}, "Subject: x\r\n\r\n..dot\r\nbody\r\n")
	send(t, c, "", []string{"d@example.test"}, "second\r\n")
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}

	msgs := sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.Conn != 1 || m.From != "a@example.test" || strings.Join(m.To, ",") != "b@example.test,c@example.test" ||
		string(m.Body) != "Subject: x\r\n\r\n..dot\r\nbody\r\n" || !m.TLS {
		t.Errorf("first message %+v", m)
	}
	if msgs[1].Conn != 1 || msgs[1].From != "" || !msgs[1].TLS {
		t.Errorf("second message %+v", msgs[1])
	}
	if sink.Connections() != 1 {
		t.Errorf("%d connections", sink.Connections())
	}
	var lines []string
	for _, cmd := range sink.Commands() {
		lines = append(lines, cmd.Line)
	}
	want := "EHLO client.test|STARTTLS|EHLO client.test|MAIL FROM:<a@example.test> BODY=8BITMIME SMTPUTF8|RCPT TO:<b@example.test>|RCPT TO:<c@example.test>|DATA|" +
		"MAIL FROM:<> BODY=8BITMIME SMTPUTF8|RCPT TO:<d@example.test>|DATA|QUIT"
	if got := strings.Join(lines, "|"); got != want {
		t.Errorf("commands\n got %s\nwant %s", got, want)
	}
}

func send(t *testing.T, c *smtp.Client, from string, to []string, body string) {
	t.Helper()
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSinkHidesExtensionsAndScriptsReplies(t *testing.T) {
	sink := StartSink(t, SinkOptions{
		NoSTARTTLS: true,
		Hide:       []string{"pipelining", "8BITMIME", "CHUNKING"},
		Mail:       SinkReply{Err: &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try\nlater"}, Times: 1},
		Rcpt:       map[string]SinkReply{"no@example.test": {Err: &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}},
	})
	c, err := smtp.Dial(sink.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for ext, want := range map[string]bool{"PIPELINING": false, "8BITMIME": false, "CHUNKING": false, "STARTTLS": false, "SIZE": true, "ENHANCEDSTATUSCODES": true} {
		if ok, _ := c.Extension(ext); ok != want {
			t.Errorf("%s advertised: %v, want %v", ext, ok, want)
		}
	}
	err = c.Mail("a@example.test")
	var pe *textproto.Error
	if !errors.As(err, &pe) || pe.Code != 451 || pe.Msg != "try\n4.3.0 later" {
		t.Fatalf("first MAIL: %#v", err)
	}
	if err := c.Mail("a@example.test"); err != nil {
		t.Fatalf("second MAIL: %v", err)
	}
	if err := c.Rcpt("no@example.test"); !errors.As(err, &pe) || pe.Code != 550 {
		t.Fatalf("RCPT: %v", err)
	}
}

func TestSinkActions(t *testing.T) {
	t.Run("greeting replaced, then closed", func(t *testing.T) {
		sink := StartSink(t, SinkOptions{At: map[SinkStage]SinkAction{StageGreeting: {Reply: "554 5.3.2 no service\r\n", Close: true}}})
		nc, r := rawDial(t, sink.Addr)
		if l := readLine(t, r); l != "554 5.3.2 no service" {
			t.Errorf("greeting %q", l)
		}
		if _, err := r.ReadString('\n'); err == nil {
			t.Error("connection still open")
		}
		nc.Close()
	})
	t.Run("hang at MAIL", func(t *testing.T) {
		sink := StartSink(t, SinkOptions{NoSTARTTLS: true, At: map[SinkStage]SinkAction{StageMail: {Hang: true}}})
		nc, r := rawDial(t, sink.Addr)
		defer nc.Close()
		readLine(t, r)
		nc.Write([]byte("EHLO x\r\n"))
		for l := readLine(t, r); l[3] == '-'; l = readLine(t, r) {
		}
		nc.Write([]byte("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"))
		nc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if l, err := r.ReadString('\n'); err == nil {
			t.Errorf("reply %q to a hanging MAIL", l)
		}
		cmds := sink.Commands()
		if len(cmds) != 3 || cmds[1].Batch != cmds[2].Batch || cmds[0].Batch == cmds[1].Batch {
			t.Errorf("commands %+v", cmds)
		}
	})
	t.Run("garbage at EHLO", func(t *testing.T) {
		sink := StartSink(t, SinkOptions{At: map[SinkStage]SinkAction{StageEHLO: {Reply: "hello there\r\n"}}})
		nc, r := rawDial(t, sink.Addr)
		defer nc.Close()
		readLine(t, r)
		nc.Write([]byte("EHLO x\r\n"))
		if l := readLine(t, r); l != "hello there" {
			t.Errorf("EHLO reply %q", l)
		}
	})
	t.Run("broken TLS", func(t *testing.T) {
		sink := StartSink(t, SinkOptions{BreakTLS: true})
		c, err := smtp.Dial(sink.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.StartTLS(&tls.Config{ServerName: SinkHost, RootCAs: sink.RootCAs}); err == nil {
			t.Fatal("handshake succeeded")
		}
	})
}

func rawDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc, bufio.NewReader(nc)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}
