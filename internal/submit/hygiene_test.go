package submit

import (
	"testing"

	"github.com/postern/postern/internal/message"
)

func TestDrop(t *testing.T) {
	drop := Drop("mx.postern.test")
	cases := []struct {
		field string
		want  bool
	}{
		{"X-Originating-IP: [10.0.0.1]\r\n", true},
		{"x-originating-ip: [10.0.0.1]\r\n", true},
		{"X-SMTPAPI: {}\r\n", true},
		{"X-Spam: Yes\r\n", true},
		{"X-Spam-Status: No\r\n", true},
		{"X-Spamd-Result: default\r\n", true},
		{"X-Rspamd-Queue-Id: 1\r\n", true},
		{"X-Spammy-Newsletter: 1\r\n", false},
		{"Authentication-Results: mx.postern.test; dkim=pass\r\n", true},
		{"Authentication-Results: MX.Postern.Test 1; spf=pass\r\n", true},
		{"Authentication-Results: (forged) mx.postern.test;\r\n\tdkim=pass\r\n", true},
		{"Authentication-Results: mx.postern.test.evil; dkim=pass\r\n", false},
		{"Authentication-Results: gmail.test; dkim=pass\r\n", false},
		{"Received: from x by y; Mon, 1 Jan 2026 00:00:00 +0000\r\n", false},
		{"Subject: X-Originating-IP\r\n", false},
	}
	for _, tc := range cases {
		h, err := message.ParseHeader([]byte(tc.field + "\r\n"))
		if err != nil || len(h.Fields) != 1 {
			t.Fatalf("%q: %v", tc.field, err)
		}
		if got := drop(h.Fields[0]); got != tc.want {
			t.Errorf("Drop(%q) = %v, want %v", tc.field, got, tc.want)
		}
	}
}
