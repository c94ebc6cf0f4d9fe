package spamscan

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMerge(t *testing.T) {
	cases := []struct {
		name string
		b, r Verdict
		want Verdict
	}{
		{"both accept",
			Verdict{Action: ActionAccept, Score: 1, Symbols: []string{"HTML_ONLY"}},
			Verdict{Action: ActionAccept, Score: 0.5, Symbols: []string{"MIME_GOOD"}},
			Verdict{Action: ActionAccept, Score: 1, Symbols: []string{"HTML_ONLY", "MIME_GOOD"}}},
		{"rspamd stricter",
			Verdict{Action: ActionAddHeader, Score: 3, Symbols: []string{"A"}, Headers: map[string]string{"X-Spam": "Yes", "X-Spam-Status": "builtin"}},
			Verdict{Action: ActionReject, Score: 16, Symbols: []string{"B"}, Reason: "message looks like spam (score 16.0)"},
			Verdict{Action: ActionReject, Score: 16, Symbols: []string{"A", "B"}, Reason: "message looks like spam (score 16.0)",
				Headers: map[string]string{"X-Spam": "Yes", "X-Spam-Status": "builtin"}}},
		{"builtin stricter",
			Verdict{Action: ActionAddHeader, Score: 3, Headers: map[string]string{"X-Spam-Status": "builtin"}},
			Verdict{Action: ActionAccept, Score: 1},
			Verdict{Action: ActionAddHeader, Score: 3, Headers: map[string]string{"X-Spam-Status": "builtin"}}},
		{"same action: rspamd headers win",
			Verdict{Action: ActionAddHeader, Score: 3, Headers: map[string]string{"X-Spam-Status": "builtin", "X-Spam": "Yes"}},
			Verdict{Action: ActionAddHeader, Score: 7, Headers: map[string]string{"X-Spam-Status": "rspamd"}},
			Verdict{Action: ActionAddHeader, Score: 7, Headers: map[string]string{"X-Spam-Status": "rspamd", "X-Spam": "Yes"}}},
		{"greylist over add_header",
			Verdict{Action: ActionAddHeader, Score: 3},
			Verdict{Action: ActionGreylist, Score: 2, Reason: "greylisted, try again later"},
			Verdict{Action: ActionGreylist, Score: 3, Reason: "greylisted, try again later"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := merge(c.b, c.r)
			if v.Action != c.want.Action || v.Score != c.want.Score || !slices.Equal(v.Symbols, c.want.Symbols) ||
				v.Reason != c.want.Reason || !maps.Equal(v.Headers, c.want.Headers) {
				t.Fatalf("merge = %#v\nwant    %#v", v, c.want)
			}
		})
	}
}

// closedURL returns the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

var exeMessage = withPart("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"setup.exe\"", "x")

var gtubeMessage = []byte(hdr + "\r\n" + GTUBE + "\r\n")

func TestChainBuiltinOnly(t *testing.T) {
	c := Chain{}
	for name, tc := range map[string]struct {
		msg    []byte
		action Action
	}{
		"normal": {normal, ActionAccept},
		"GTUBE":  {gtubeMessage, ActionReject},
		"exe":    {exeMessage, ActionReject},
	} {
		v, err := c.Scan(context.Background(), Envelope{}, tc.msg)
		if err != nil || v.Action != tc.action {
			t.Errorf("%s: %+v, %v; want %s", name, v, err, tc.action)
		}
	}
}

// TestChainRspamdDown: rspamd on a closed port. Fail open keeps the
// built-in verdict, fail closed is an error; GTUBE and executables are
// refused either way, without an error; each failure is logged.
func TestChainRspamdDown(t *testing.T) {
	url := closedURL(t)
	if _, err := (&Rspamd{URL: url}).Scan(context.Background(), Envelope{}, normal); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Rspamd.Scan on a closed port: %v, want ErrUnavailable", err)
	}
	for _, failOpen := range []bool{true, false} {
		var log bytes.Buffer
		c := Chain{Rspamd: &Rspamd{URL: url, Timeout: 5 * time.Second}, FailOpen: failOpen, Log: slog.New(slog.NewTextHandler(&log, nil))}

		v, err := c.Scan(context.Background(), Envelope{QueueID: "Q1"}, normal)
		if failOpen {
			if err != nil || v.Action != ActionAccept {
				t.Errorf("fail open, normal message: %+v, %v; want the built-in accept", v, err)
			}
		} else {
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("fail closed, normal message: %+v, %v; want ErrUnavailable", v, err)
			}
		}
		if want := "fail_open=" + map[bool]string{true: "true", false: "false"}[failOpen]; !strings.Contains(log.String(), want) ||
			!strings.Contains(log.String(), "queue_id=Q1") || !strings.Contains(log.String(), "spam scanner failed") {
			t.Errorf("log %q, want a warning with %s", log.String(), want)
		}

		log.Reset()
		for name, msg := range map[string][]byte{"GTUBE": gtubeMessage, "exe": exeMessage} {
			v, err := c.Scan(context.Background(), Envelope{}, msg)
			if err != nil || v.Action != ActionReject {
				t.Errorf("fail open %v, %s: %+v, %v; want the built-in reject", failOpen, name, v, err)
			}
		}
		if log.Len() != 0 {
			t.Errorf("rspamd asked about a message the built-in scanner refused: %s", log.String())
		}
	}
}

func TestChainSlowRspamd(t *testing.T) {
	url := slowRspamd(t, time.Minute)
	for _, failOpen := range []bool{true, false} {
		c := Chain{Rspamd: &Rspamd{URL: url, Timeout: 200 * time.Millisecond}, FailOpen: failOpen}
		start := time.Now()
		v, err := c.Scan(context.Background(), Envelope{}, normal)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Scan took %v", d)
		}
		if failOpen && (err != nil || v.Action != ActionAccept) {
			t.Errorf("fail open: %+v, %v; want accept", v, err)
		}
		if !failOpen && (!errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded)) {
			t.Errorf("fail closed: %v; want a timeout", err)
		}
	}
}

func TestChainCanceledSessionIsNotFailOpen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := Chain{Rspamd: &Rspamd{URL: slowRspamd(t, time.Minute)}, FailOpen: true}
	if _, err := c.Scan(ctx, Envelope{}, normal); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestChainStricterWins(t *testing.T) {
	cases := []struct {
		name   string
		msg    []byte
		reply  string
		action Action
		reason string
	}{
		{"rspamd rejects", normal, `{"action":"reject","score":20,"symbols":{"BAD":{"score":20}}}`, ActionReject, "message looks like spam (score 20.0)"},
		{"rspamd greylists", normal, `{"action":"greylist","score":5}`, ActionGreylist, "greylisted, try again later"},
		{"builtin add_header over rspamd accept",
			[]byte(strings.Replace(hdr, "Subject: Lunch on Friday\r\n", "", 1) + "Content-Type: text/html\r\n\r\n<p>hi</p>\r\n"),
			`{"action":"no action","score":1}`, ActionAddHeader, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := fakeRspamd(t, http.StatusOK, c.reply)
			v, err := Chain{Rspamd: &Rspamd{URL: srv.URL}}.Scan(context.Background(), Envelope{}, c.msg)
			if err != nil || v.Action != c.action || v.Reason != c.reason {
				t.Fatalf("%+v, %v; want %s %q", v, err, c.action, c.reason)
			}
		})
	}
}
