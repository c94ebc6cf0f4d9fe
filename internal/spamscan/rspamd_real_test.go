package spamscan

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/postern/postern/internal/testenv"
)

// TestRealRspamd asks a real rspamd (Debian package "rspamd"), started on
// loopback for the test.
func TestRealRspamd(t *testing.T) {
	url := testenv.StartRspamd(t)
	r := &Rspamd{URL: url, Timeout: 10 * time.Second}
	env := Envelope{
		ClientIP:   netip.MustParseAddr("127.0.0.1"),
		Helo:       "client.example.com",
		From:       "alice@example.com",
		User:       "acme",
		Recipients: []string{"bob@example.org"},
		QueueID:    "TEST1",
	}
	ctx := context.Background()

	t.Run("GTUBE is rejected", func(t *testing.T) {
		v, err := r.Scan(ctx, env, gtubeMessage)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != ActionReject || !slices.Contains(v.Symbols, "GTUBE") {
			t.Fatalf("verdict %+v, want a reject with GTUBE", v)
		}
		d := Decide(v, 0)
		if !d.Refuse || d.Temporary || d.Text != "message looks like spam (Gtube pattern)" {
			t.Fatalf("decision %+v, want a permanent refusal", d)
		}
	})

	t.Run("a normal message passes", func(t *testing.T) {
		v, err := r.Scan(ctx, env, normal)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action != ActionAccept && v.Action != ActionAddHeader {
			t.Fatalf("verdict %+v, want accept or add_header", v)
		}
		// rspamd compared the envelope it was sent with the header.
		for _, sym := range []string{"FROM_EQ_ENVFROM", "TO_MATCH_ENVRCPT_ALL"} {
			if !slices.Contains(v.Symbols, sym) {
				t.Errorf("symbols %v lack %s: the envelope did not reach rspamd", v.Symbols, sym)
			}
		}
		if d := Decide(v, 0); d.Refuse {
			t.Fatalf("decision %+v for a normal message", d)
		}
	})

	t.Run("chain", func(t *testing.T) {
		c := Chain{Rspamd: r}
		for name, tc := range map[string]struct {
			msg    []byte
			action Action
		}{
			"normal": {normal, ActionAccept},
			"GTUBE":  {gtubeMessage, ActionReject},
			"exe":    {exeMessage, ActionReject},
		} {
			v, err := c.Scan(ctx, env, tc.msg)
			if err != nil || v.Action != tc.action {
				t.Errorf("%s: %+v, %v; want %s", name, v, err, tc.action)
			}
		}
	})

	t.Run("per-user threshold", func(t *testing.T) {
		// No Date and no Message-ID: rspamd scores it (MISSING_DATE,
		// MISSING_MID) without refusing it.
		msg := []byte("From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: Lunch on Friday\r\n" +
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text)
		v, err := Chain{Rspamd: r}.Scan(ctx, env, msg)
		if err != nil {
			t.Fatal(err)
		}
		if v.Action == ActionReject || v.Score < 1 {
			t.Fatalf("verdict %+v, want a score of 1 or more and no reject", v)
		}
		if d := Decide(v, 0); d.Refuse {
			t.Fatalf("no user threshold: decision %+v, want accepted", d)
		}
		if d := Decide(v, v.Score); !d.Refuse || d.Temporary {
			t.Fatalf("score %v at the user's threshold: decision %+v, want 550 5.7.1", v.Score, d)
		}
		if d := Decide(v, v.Score+1); d.Refuse {
			t.Fatalf("score %v under the user's threshold: decision %+v", v.Score, d)
		}
	})
}
