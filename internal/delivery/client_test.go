package delivery

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postern/postern/internal/testenv"
)

// queued is the sink's reply after the final dot when it takes a message.
var queued = Result{Code: 250, Enhanced: [3]int{2, 0, 0}, Line: "250 2.0.0 OK: queued"}

const testBody = "Subject: test\r\n\r\nHello.\r\n"

func dialSink(t *testing.T, sink *testenv.Sink, opts ClientOptions) *Conn {
	t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = "postern.test"
	}
	c, res, err := Dial(context.Background(), sink.Addr, testenv.SinkHost, opts)
	if err != nil {
		t.Fatalf("Dial: %v (%v)", err, res)
	}
	if res.Code != 250 || res.Permanent {
		t.Fatalf("Dial result %+v", res)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func envelope(rcpts ...string) Envelope {
	return Envelope{From: "sender@postern.test", Recipients: rcpts, Body: []byte(testBody)}
}

func smtpErr(code int, enh [3]int, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enh), Message: msg}
}

// commands returns the command lines the sink received, "|"-joined.
func commands(sink *testenv.Sink) string {
	var lines []string
	for _, c := range sink.Commands() {
		lines = append(lines, c.Line)
	}
	return strings.Join(lines, "|")
}

func checkResult(t *testing.T, what string, got, want Result) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func checkResults(t *testing.T, got []Result, want ...Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d recipient results, want %d: %v", len(got), len(want), got)
	}
	for i := range got {
		checkResult(t, "recipient "+strconv.Itoa(i), got[i], want[i])
	}
}

func TestDeliverOverSTARTTLS(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{})
	c := dialSink(t, sink, ClientOptions{})
	info := c.TLS()
	if !info.Used || info.Version != "TLS1.3" || !strings.HasPrefix(info.Cipher, "TLS_") {
		t.Errorf("TLS %+v", info)
	}
	if info.Verified || info.VerifyError != "x509: certificate signed by unknown authority" {
		t.Errorf("self-signed certificate: Verified %v, VerifyError %q", info.Verified, info.VerifyError)
	}
	msg, rcpts, err := c.Send(context.Background(), envelope("rcpt@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "msg", msg, queued)
	checkResults(t, rcpts, queued)
	m := sink.Messages()
	if len(m) != 1 || !m[0].TLS || string(m[0].Body) != testBody || m[0].From != "sender@postern.test" ||
		strings.Join(m[0].To, ",") != "rcpt@example.test" {
		t.Fatalf("sink got %+v", m)
	}
	want := "EHLO postern.test|STARTTLS|EHLO postern.test|MAIL FROM:<sender@postern.test> SIZE=25|RCPT TO:<rcpt@example.test>|DATA"
	if got := commands(sink); got != want {
		t.Errorf("commands\n got %s\nwant %s", got, want)
	}
}

func TestSTARTTLSVerification(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{})
	trusted := &tls.Config{RootCAs: sink.RootCAs}
	c := dialSink(t, sink, ClientOptions{TLS: trusted})
	if info := c.TLS(); !info.Used || !info.Verified || info.VerifyError != "" {
		t.Errorf("trusted CA: %+v", info)
	}
	if trusted.ServerName != "" || trusted.InsecureSkipVerify {
		t.Error("Dial changed the caller's tls.Config")
	}

	// The right CA, the wrong name.
	c2, res, err := Dial(context.Background(), sink.Addr, "other.example.test", ClientOptions{TLS: trusted})
	if err != nil {
		t.Fatalf("%v %v", err, res)
	}
	defer c2.Close()
	if info := c2.TLS(); !info.Used || info.Verified || !strings.Contains(info.VerifyError, "not other.example.test") {
		t.Errorf("wrong name: %+v", info)
	}
}

func TestDeliverWithoutSTARTTLS(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{NoSTARTTLS: true})
	c := dialSink(t, sink, ClientOptions{})
	if c.TLS() != (TLSInfo{}) {
		t.Errorf("TLS %+v", c.TLS())
	}
	if _, ok := c.Extensions()["STARTTLS"]; ok {
		t.Error("STARTTLS in extensions")
	}
	msg, rcpts, err := c.Send(context.Background(), envelope("rcpt@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "msg", msg, queued)
	checkResults(t, rcpts, queued)
	if m := sink.Messages(); len(m) != 1 || m[0].TLS {
		t.Fatalf("sink got %+v", m)
	}

	conn, res, err := Dial(context.Background(), sink.Addr, testenv.SinkHost, ClientOptions{RequireTLS: true})
	if err == nil || conn != nil {
		t.Fatal("RequireTLS: Dial succeeded without TLS")
	}
	checkResult(t, "RequireTLS", res, Result{Enhanced: [3]int{4, 7, 10}, Line: "TLS required: mx.sink.test does not offer STARTTLS"})
}

func TestPipelinedRecipientsInOrder(t *testing.T) {
	refusals := map[string]testenv.SinkReply{
		"b@example.test": {Err: smtpErr(550, [3]int{5, 1, 1}, "no such user b")},
		"c@example.test": {Err: smtpErr(452, [3]int{4, 2, 2}, "mailbox of c full")},
	}
	for _, pipelining := range []bool{true, false} {
		t.Run("pipelining="+strconv.FormatBool(pipelining), func(t *testing.T) {
			opts := testenv.SinkOptions{NoSTARTTLS: true, Rcpt: refusals}
			if !pipelining {
				opts.Hide = []string{"PIPELINING"}
			}
			sink := testenv.StartSink(t, opts)
			c := dialSink(t, sink, ClientOptions{})
			msg, rcpts, err := c.Send(context.Background(), envelope("a@example.test", "b@example.test", "c@example.test", "d@example.test"))
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, "msg", msg, queued)
			checkResults(t, rcpts,
				queued,
				Result{Permanent: true, Code: 550, Enhanced: [3]int{5, 1, 1}, Line: "550 5.1.1 no such user b"},
				Result{Code: 452, Enhanced: [3]int{4, 2, 2}, Line: "452 4.2.2 mailbox of c full"},
				queued)
			if m := sink.Messages(); len(m) != 1 || strings.Join(m[0].To, ",") != "a@example.test,d@example.test" {
				t.Fatalf("sink got %+v", m)
			}
			cmds := sink.Commands()
			if len(cmds) != 7 || !strings.HasPrefix(cmds[1].Line, "MAIL FROM:") || cmds[6].Line != "DATA" {
				t.Fatalf("commands %s", commands(sink))
			}
			// MAIL and the four RCPTs: one batch when pipelined, five otherwise.
			batches := map[int]bool{}
			for _, cmd := range cmds[1:6] {
				batches[cmd.Batch] = true
			}
			if want := map[bool]int{true: 1, false: 5}[pipelining]; len(batches) != want {
				t.Errorf("MAIL and RCPTs came in %d reads, want %d: %+v", len(batches), want, cmds)
			}
			if cmds[6].Batch == cmds[5].Batch {
				t.Error("DATA was pipelined with the RCPTs")
			}
		})
	}
}

func TestPartialRecipientFailure(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{Rcpt: map[string]testenv.SinkReply{
		"gone@example.test": {Err: smtpErr(550, [3]int{5, 1, 1}, "<gone@example.test>: no such user")},
	}})
	c := dialSink(t, sink, ClientOptions{})
	msg, rcpts, err := c.Send(context.Background(), envelope("gone@example.test", "here@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "msg", msg, queued)
	checkResults(t, rcpts,
		Result{Permanent: true, Code: 550, Enhanced: [3]int{5, 1, 1}, Line: "550 5.1.1 <gone@example.test>: no such user"},
		queued)
	if m := sink.Messages(); len(m) != 1 || strings.Join(m[0].To, ",") != "here@example.test" {
		t.Fatalf("sink got %+v", m)
	}
}

func TestAllRecipientsRefused(t *testing.T) {
	gone := Result{Permanent: true, Code: 550, Enhanced: [3]int{5, 1, 1}, Line: "550 5.1.1 no such user"}
	full := Result{Code: 450, Enhanced: [3]int{4, 2, 2}, Line: "450 4.2.2 mailbox full"}
	sink := testenv.StartSink(t, testenv.SinkOptions{NoSTARTTLS: true, Rcpt: map[string]testenv.SinkReply{
		"a@example.test": {Err: smtpErr(550, [3]int{5, 1, 1}, "no such user")},
		"b@example.test": {Err: smtpErr(550, [3]int{5, 1, 1}, "no such user")},
		"c@example.test": {Err: smtpErr(450, [3]int{4, 2, 2}, "mailbox full")},
	}})
	c := dialSink(t, sink, ClientOptions{})

	msg, rcpts, err := c.Send(context.Background(), envelope("a@example.test", "b@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "msg, all permanent", msg, gone)
	checkResults(t, rcpts, gone, gone)

	msg, rcpts, err = c.Send(context.Background(), envelope("a@example.test", "c@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "msg, one temporary", msg, full)
	checkResults(t, rcpts, gone, full)

	if len(sink.Messages()) != 0 {
		t.Error("a message arrived")
	}
	want := "EHLO postern.test|MAIL FROM:<sender@postern.test> SIZE=25|RCPT TO:<a@example.test>|RCPT TO:<b@example.test>|RSET|" +
		"MAIL FROM:<sender@postern.test> SIZE=25|RCPT TO:<a@example.test>|RCPT TO:<c@example.test>|RSET"
	if got := commands(sink); got != want {
		t.Errorf("commands (no DATA, RSET after each)\n got %s\nwant %s", got, want)
	}
}

func TestTemporaryFailureAtMAIL(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{NoSTARTTLS: true,
		Mail: testenv.SinkReply{Err: smtpErr(451, [3]int{4, 3, 0}, "try again later"), Times: 1}})
	c := dialSink(t, sink, ClientOptions{})
	msg, rcpts, err := c.Send(context.Background(), envelope("a@example.test", "b@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Code: 451, Enhanced: [3]int{4, 3, 0}, Line: "451 4.3.0 try again later"}
	checkResult(t, "msg", msg, want)
	checkResults(t, rcpts, want, want)
	if !strings.HasSuffix(commands(sink), "|RSET") {
		t.Errorf("no RSET after the refusal: %s", commands(sink))
	}
	// The connection carries the next attempt, which the sink accepts.
	msg, _, err = c.Send(context.Background(), envelope("a@example.test"))
	if err != nil || !msg.OK() {
		t.Fatalf("second attempt: %v %v", msg, err)
	}
}

func TestPermanentFailureAtDATA(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{
		Rcpt: map[string]testenv.SinkReply{"b@example.test": {Err: smtpErr(550, [3]int{5, 1, 1}, "no such user")}},
		Data: testenv.SinkReply{Err: smtpErr(554, [3]int{5, 7, 1}, "message refused as spam")},
	})
	c := dialSink(t, sink, ClientOptions{})
	msg, rcpts, err := c.Send(context.Background(), envelope("a@example.test", "b@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	spam := Result{Permanent: true, Code: 554, Enhanced: [3]int{5, 7, 1}, Line: "554 5.7.1 message refused as spam"}
	checkResult(t, "msg", msg, spam)
	checkResults(t, rcpts, spam, Result{Permanent: true, Code: 550, Enhanced: [3]int{5, 1, 1}, Line: "550 5.1.1 no such user"})
	if len(sink.Messages()) != 0 {
		t.Error("sink kept the refused message")
	}
	if !strings.HasSuffix(commands(sink), "|DATA|RSET") {
		t.Errorf("commands %s", commands(sink))
	}
}

func TestGreetingRefused(t *testing.T) {
	cases := []struct {
		name, greeting string
		want           Result
	}{
		{"554", "554 5.3.2 no SMTP service here\r\n", Result{Permanent: true, Code: 554, Enhanced: [3]int{5, 3, 2}, Line: "554 5.3.2 no SMTP service here"}},
		{"421", "421 4.3.2 too busy, try later\r\n", Result{Code: 421, Enhanced: [3]int{4, 3, 2}, Line: "421 4.3.2 too busy, try later"}},
		{"554 without enhanced code", "554 go away\r\n", Result{Permanent: true, Code: 554, Line: "554 go away"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{
				testenv.StageGreeting: {Reply: tc.greeting, Close: true}}})
			c, res, err := Dial(context.Background(), sink.Addr, testenv.SinkHost, ClientOptions{})
			if err == nil || c != nil {
				t.Fatal("Dial succeeded")
			}
			checkResult(t, "greeting", res, tc.want)
		})
	}
}

func TestSizeExceededNotSent(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{MaxSize: 100})
	c := dialSink(t, sink, ClientOptions{})
	if got := c.Extensions()["SIZE"]; got != "100" {
		t.Fatalf("SIZE %q", got)
	}
	env := envelope("a@example.test", "b@example.test")
	env.Body = []byte("Subject: big\r\n\r\n" + strings.Repeat("x", 182) + "\r\n") // 200 octets
	msg, rcpts, err := c.Send(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Permanent: true, Enhanced: [3]int{5, 3, 4}, Line: "message of 200 octets is larger than the 100 that mx.sink.test accepts"}
	checkResult(t, "msg", msg, want)
	checkResults(t, rcpts, want, want)
	if strings.Contains(commands(sink), "MAIL") {
		t.Errorf("MAIL sent: %s", commands(sink))
	}
	// A message that fits goes, with its size declared.
	env.Body = []byte(testBody)
	if msg, _, err := c.Send(context.Background(), env); err != nil || !msg.OK() {
		t.Fatalf("small message: %v %v", msg, err)
	}
	if !strings.Contains(commands(sink), "MAIL FROM:<sender@postern.test> SIZE=25|") {
		t.Errorf("commands %s", commands(sink))
	}
}

func TestBareLineEndingsNeverSent(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{})
	c := dialSink(t, sink, ClientOptions{})
	cases := []struct {
		body string
		line string
	}{
		{"Subject: x\r\n\r\nhello\nworld\r\n", "message not sent: bare LF at byte 19; only CRLF line endings may leave Postern"},
		{"Subject: x\r\n\r\nhello\r\n.\rMAIL FROM:<evil@example.test>\r\n", "message not sent: bare CR at byte 22; only CRLF line endings may leave Postern"},
		{"Subject: x\r\n\r\nhello\n.\r\n", "message not sent: bare LF at byte 19; only CRLF line endings may leave Postern"},
	}
	for _, tc := range cases {
		env := envelope("a@example.test")
		env.Body = []byte(tc.body)
		msg, rcpts, err := c.Send(context.Background(), env)
		if err != nil {
			t.Fatal(err)
		}
		want := Result{Permanent: true, Enhanced: [3]int{5, 6, 0}, Line: tc.line}
		checkResult(t, "msg", msg, want)
		checkResults(t, rcpts, want)
	}
	if strings.Contains(commands(sink), "MAIL") || len(sink.Messages()) != 0 {
		t.Errorf("something was sent: %s", commands(sink))
	}
}

func TestDotStuffing(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{})
	c := dialSink(t, sink, ClientOptions{})
	body := "Subject: dots\r\n\r\n.foo\r\n..bar\r\n.\r\n. \r\nmiddle . dot\r\n.\r\nlast line without CRLF"
	env := envelope("a@example.test")
	env.Body = []byte(body)
	msg, _, err := c.Send(context.Background(), env)
	if err != nil || !msg.OK() {
		t.Fatalf("%v %v", msg, err)
	}
	m := sink.Messages()
	if len(m) != 1 || string(m[0].Body) != body+"\r\n" {
		t.Fatalf("sink got %q", m[0].Body)
	}
	if !strings.Contains(commands(sink), fmt.Sprintf("SIZE=%d", len(body)+2)) {
		t.Errorf("SIZE: %s", commands(sink))
	}
}

func TestEightBitAndSMTPUTF8(t *testing.T) {
	eight := "Subject: caf\xc3\xa9\r\n\r\nd\xc3\xa9j\xc3\xa0 vu\r\n"
	t.Run("8-bit body gets BODY=8BITMIME", func(t *testing.T) {
		sink := testenv.StartSink(t, testenv.SinkOptions{})
		c := dialSink(t, sink, ClientOptions{})
		env := envelope("a@example.test")
		env.Body = []byte(eight)
		if msg, _, err := c.Send(context.Background(), env); err != nil || !msg.OK() {
			t.Fatalf("%v %v", msg, err)
		}
		if _, _, err := c.Send(context.Background(), envelope("a@example.test")); err != nil {
			t.Fatal(err)
		}
		m := sink.Messages()
		if len(m) != 2 || m[0].Opts.Body != smtp.Body8BitMIME || string(m[0].Body) != eight || m[1].Opts.Body != "" {
			t.Fatalf("sink got %+v", m)
		}
		if !strings.Contains(commands(sink), fmt.Sprintf("MAIL FROM:<sender@postern.test> SIZE=%d BODY=8BITMIME|", len(eight))) {
			t.Errorf("commands %s", commands(sink))
		}
	})
	t.Run("8-bit body without 8BITMIME goes as it is", func(t *testing.T) {
		sink := testenv.StartSink(t, testenv.SinkOptions{Hide: []string{"8BITMIME"}})
		c := dialSink(t, sink, ClientOptions{})
		env := envelope("a@example.test")
		env.Body = []byte(eight)
		if msg, _, err := c.Send(context.Background(), env); err != nil || !msg.OK() {
			t.Fatalf("%v %v", msg, err)
		}
		if strings.Contains(commands(sink), "BODY=") {
			t.Errorf("commands %s", commands(sink))
		}
	})
	t.Run("non-ASCII address without SMTPUTF8", func(t *testing.T) {
		sink := testenv.StartSink(t, testenv.SinkOptions{})
		c := dialSink(t, sink, ClientOptions{})
		msg, rcpts, err := c.Send(context.Background(), envelope("a@example.test", "j\xc3\xb6rg@example.test"))
		if err != nil {
			t.Fatal(err)
		}
		want := Result{Permanent: true, Enhanced: [3]int{5, 6, 7}, Line: "message needs SMTPUTF8 (non-ASCII address), which mx.sink.test does not offer"}
		checkResult(t, "msg", msg, want)
		checkResults(t, rcpts, want, want)
		if strings.Contains(commands(sink), "MAIL") {
			t.Errorf("commands %s", commands(sink))
		}
	})
	t.Run("non-ASCII address with SMTPUTF8", func(t *testing.T) {
		sink := testenv.StartSink(t, testenv.SinkOptions{SMTPUTF8: true})
		c := dialSink(t, sink, ClientOptions{})
		msg, _, err := c.Send(context.Background(), envelope("j\xc3\xb6rg@example.test"))
		if err != nil || !msg.OK() {
			t.Fatalf("%v %v", msg, err)
		}
		m := sink.Messages()
		if len(m) != 1 || !m[0].Opts.UTF8 || m[0].To[0] != "j\xc3\xb6rg@example.test" {
			t.Fatalf("sink got %+v", m)
		}
	})
}

func TestUnsendableAddresses(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{NoSTARTTLS: true})
	c := dialSink(t, sink, ClientOptions{})
	msg, rcpts, err := c.Send(context.Background(), envelope("ok@example.test", "a>\r\nRCPT TO:<b@example.test", ""))
	if err != nil || !msg.OK() {
		t.Fatalf("%v %v", msg, err)
	}
	checkResults(t, rcpts, queued,
		Result{Permanent: true, Enhanced: [3]int{5, 1, 3}, Line: `recipient address "a>\r\nRCPT TO:<b@example.test" cannot be sent`},
		Result{Permanent: true, Enhanced: [3]int{5, 1, 3}, Line: `recipient address "" cannot be sent`})

	env := envelope("ok@example.test")
	env.From = "x@example.test>\r\nRSET"
	msg, rcpts, err = c.Send(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Permanent: true, Enhanced: [3]int{5, 1, 7}, Line: `sender address "x@example.test>\r\nRSET" cannot be sent`}
	checkResult(t, "msg", msg, want)
	checkResults(t, rcpts, want)
	if got := commands(sink); strings.Count(got, "RCPT") != 1 || strings.Count(got, "MAIL") != 1 {
		t.Errorf("commands %s", got)
	}

	// The null reverse-path of a bounce.
	env.From = ""
	if msg, _, err := c.Send(context.Background(), env); err != nil || !msg.OK() {
		t.Fatalf("bounce: %v %v", msg, err)
	}
	if m := sink.Messages(); m[len(m)-1].From != "" || !strings.Contains(commands(sink), "MAIL FROM:<> SIZE=25") {
		t.Errorf("commands %s", commands(sink))
	}
}

func TestTwoMessagesOneConnection(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{})
	c := dialSink(t, sink, ClientOptions{})
	for i := 0; i < 2; i++ {
		msg, _, err := c.Send(context.Background(), envelope("a@example.test"))
		if err != nil || !msg.OK() {
			t.Fatalf("message %d: %v %v", i, msg, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	m := sink.Messages()
	if len(m) != 2 || m[0].Conn != 1 || m[1].Conn != 1 || !m[1].TLS || sink.Connections() != 1 {
		t.Fatalf("sink got %+v over %d connections", m, sink.Connections())
	}
	if !strings.HasSuffix(commands(sink), "|DATA|QUIT") {
		t.Errorf("commands %s", commands(sink))
	}
	if _, _, err := c.Send(context.Background(), envelope("a@example.test")); err == nil {
		t.Error("Send after Close succeeded")
	}
}

func TestServerHangsTimesOut(t *testing.T) {
	short := 300 * time.Millisecond
	timedOut := func(doing string) Result {
		return Result{Enhanced: [3]int{4, 4, 2}, Line: "connection timed out " + doing}
	}
	t.Run("greeting", func(t *testing.T) {
		sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{testenv.StageGreeting: {Hang: true}}})
		c, res, err := Dial(context.Background(), sink.Addr, testenv.SinkHost, ClientOptions{Timeouts: Timeouts{Greeting: short}})
		if err == nil || c != nil {
			t.Fatal("Dial succeeded")
		}
		checkResult(t, "Dial", res, timedOut("reading the greeting"))
	})
	stages := []struct {
		stage testenv.SinkStage
		t     Timeouts
		doing string
	}{
		{testenv.StageMail, Timeouts{Mail: short}, "reading the reply to MAIL FROM"},
		{testenv.StageRcpt, Timeouts{Rcpt: short}, "reading the reply to RCPT TO"},
		{testenv.StageData, Timeouts{DataInit: short}, "reading the reply to DATA"},
		{testenv.StageDataEnd, Timeouts{DataEnd: short}, "reading the reply to the end of the message"},
	}
	for _, st := range stages {
		t.Run(string(st.stage), func(t *testing.T) {
			sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{st.stage: {Hang: true}}})
			c := dialSink(t, sink, ClientOptions{Timeouts: st.t})
			msg, rcpts, err := c.Send(context.Background(), envelope("a@example.test", "b@example.test"))
			if err == nil {
				t.Fatal("no error")
			}
			checkResult(t, "msg", msg, timedOut(st.doing))
			checkResults(t, rcpts, timedOut(st.doing), timedOut(st.doing))
			start := time.Now()
			c.Close()
			if d := time.Since(start); d > time.Second {
				t.Errorf("Close took %v on a lost connection", d)
			}
		})
	}
	t.Run("QUIT", func(t *testing.T) {
		sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{testenv.StageQuit: {Hang: true}}})
		c := dialSink(t, sink, ClientOptions{Timeouts: Timeouts{Quit: short}})
		start := time.Now()
		c.Close()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Close took %v", d)
		}
		if !strings.HasSuffix(commands(sink), "|QUIT") {
			t.Errorf("commands %s", commands(sink))
		}
	})
}

func TestContextCancels(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{testenv.StageDataEnd: {Hang: true}}})
	c := dialSink(t, sink, ClientOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	msg, rcpts, err := c.Send(ctx, envelope("a@example.test"))
	if err == nil {
		t.Fatal("no error")
	}
	want := Result{Enhanced: [3]int{4, 4, 2}, Line: "delivery stopped reading the reply to the end of the message: context canceled"}
	checkResult(t, "msg", msg, want)
	checkResults(t, rcpts, want)

	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	sink2 := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{testenv.StageGreeting: {Hang: true}}})
	_, res, err := Dial(ctx, sink2.Addr, testenv.SinkHost, ClientOptions{})
	if err == nil {
		t.Fatal("Dial: no error")
	}
	if res.Permanent || res.Code != 0 || res.Enhanced != [3]int{4, 4, 2} ||
		(res.Line != "delivery stopped reading the greeting: context deadline exceeded" && res.Line != "connection timed out reading the greeting") {
		t.Errorf("Dial: %#v", res)
	}
}

func TestConnectionDropped(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{
		Rcpt: map[string]testenv.SinkReply{"b@example.test": {Err: smtpErr(550, [3]int{5, 1, 1}, "no such user")}},
		At:   map[testenv.SinkStage]testenv.SinkAction{testenv.StageData: {Close: true}},
	})
	c := dialSink(t, sink, ClientOptions{})
	msg, rcpts, err := c.Send(context.Background(), envelope("a@example.test", "b@example.test"))
	if err == nil {
		t.Fatal("no error")
	}
	lost := Result{Enhanced: [3]int{4, 4, 2}, Line: "connection closed by the server reading the reply to DATA"}
	checkResult(t, "msg", msg, lost)
	// b's refusal was final; a's fate is unknown.
	checkResults(t, rcpts, lost, Result{Permanent: true, Code: 550, Enhanced: [3]int{5, 1, 1}, Line: "550 5.1.1 no such user"})
	if _, _, err := c.Send(context.Background(), envelope("a@example.test")); err == nil {
		t.Error("Send on a lost connection succeeded")
	}
}

func TestServerClosing421(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{Rcpt: map[string]testenv.SinkReply{
		"b@example.test": {Err: smtpErr(421, [3]int{4, 3, 2}, "shutting down")},
	}})
	c := dialSink(t, sink, ClientOptions{})
	msg, rcpts, err := c.Send(context.Background(), envelope("a@example.test", "b@example.test", "c@example.test"))
	if err == nil {
		t.Fatal("no error after 421")
	}
	closing := Result{Code: 421, Enhanced: [3]int{4, 3, 2}, Line: "421 4.3.2 shutting down"}
	checkResult(t, "msg", msg, closing)
	checkResults(t, rcpts, closing, closing, closing)
}

func TestGarbageReply(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{
		testenv.StageEHLO: {Reply: "hello there\r\n"}}})
	c, res, err := Dial(context.Background(), sink.Addr, testenv.SinkHost, ClientOptions{})
	if err == nil || c != nil {
		t.Fatal("Dial succeeded")
	}
	checkResult(t, "Dial", res, Result{Enhanced: [3]int{4, 5, 0}, Line: `protocol error: not an SMTP reply: "hello there" (reading the reply to EHLO)`})

	sink = testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{
		testenv.StageMail: {Reply: "250-ok\r\n550 mixed codes\r\n"}}})
	c = dialSink(t, sink, ClientOptions{})
	msg, _, err := c.Send(context.Background(), envelope("a@example.test"))
	if err == nil {
		t.Fatal("no error")
	}
	checkResult(t, "msg", msg, Result{Enhanced: [3]int{4, 5, 0}, Line: "protocol error: reply lines with codes 250 and 550 (reading the reply to MAIL FROM)"})
}

func TestMultiLineReplyJoined(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{Mail: testenv.SinkReply{
		Err: smtpErr(450, [3]int{4, 2, 0}, "first line\nsecond line\nthird line")}})
	c := dialSink(t, sink, ClientOptions{})
	msg, _, err := c.Send(context.Background(), envelope("a@example.test"))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, "msg", msg, Result{Code: 450, Enhanced: [3]int{4, 2, 0}, Line: "450-first line\n450-second line\n450 4.2.0 third line"})
	if got := msg.String(); got != "temporary failure: 450-first line 450-second line 450 4.2.0 third line" {
		t.Errorf("String() = %q", got)
	}
}

func TestHELOFallback(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{
		testenv.StageEHLO: {Reply: "502 5.5.1 EHLO not implemented\r\n"}}})
	c := dialSink(t, sink, ClientOptions{})
	if len(c.Extensions()) != 0 || c.TLS().Used {
		t.Errorf("extensions %v, TLS %+v", c.Extensions(), c.TLS())
	}
	msg, _, err := c.Send(context.Background(), envelope("a@example.test", "b@example.test"))
	if err != nil || !msg.OK() {
		t.Fatalf("%v %v", msg, err)
	}
	want := "EHLO postern.test|HELO postern.test|MAIL FROM:<sender@postern.test>|RCPT TO:<a@example.test>|RCPT TO:<b@example.test>|DATA"
	if got := commands(sink); got != want {
		t.Errorf("commands\n got %s\nwant %s", got, want)
	}
}

func TestBrokenTLSHandshake(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{BreakTLS: true})
	c, res, err := Dial(context.Background(), sink.Addr, testenv.SinkHost, ClientOptions{})
	if err == nil || c != nil {
		t.Fatal("Dial succeeded")
	}
	checkResult(t, "Dial", res, Result{Enhanced: [3]int{4, 4, 2}, Line: "connection closed by the server during the TLS handshake with mx.sink.test"})
}

func TestSTARTTLSResponseInjection(t *testing.T) {
	// A man in the middle appends a reply to the clear-text 220; it must
	// not be taken as the server's answer under TLS.
	sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{
		testenv.StageSTARTTLS: {Reply: "220 2.0.0 go ahead\r\n250-injected\r\n250 PIPELINING\r\n"}}})
	c, res, err := Dial(context.Background(), sink.Addr, testenv.SinkHost, ClientOptions{})
	if err == nil || c != nil {
		t.Fatal("Dial succeeded")
	}
	checkResult(t, "Dial", res, Result{Enhanced: [3]int{4, 5, 0}, Line: "protocol error: data after the reply to STARTTLS, before TLS (starting TLS)"})
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, res, err := Dial(context.Background(), addr, "mx.example.test", ClientOptions{})
	if err == nil || c != nil {
		t.Fatal("Dial succeeded")
	}
	checkResult(t, "Dial", res, Result{Enhanced: [3]int{4, 4, 1}, Line: "connection refused by " + addr})
}

func TestRequireTLSWhenSTARTTLSRefused(t *testing.T) {
	sink := testenv.StartSink(t, testenv.SinkOptions{At: map[testenv.SinkStage]testenv.SinkAction{
		testenv.StageSTARTTLS: {Reply: "454 4.7.0 TLS not available\r\n"}}})
	c, res, err := Dial(context.Background(), sink.Addr, testenv.SinkHost, ClientOptions{RequireTLS: true})
	if err == nil || c != nil {
		t.Fatal("Dial succeeded")
	}
	checkResult(t, "Dial", res, Result{Enhanced: [3]int{4, 7, 10}, Line: "TLS required: mx.sink.test refused STARTTLS: 454 4.7.0 TLS not available"})
}
