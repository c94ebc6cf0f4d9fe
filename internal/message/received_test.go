package message

import (
	"net/netip"
	"strings"
	"testing"
)

func TestReceived(t *testing.T) {
	full := Trace{
		Helo:     "client.example",
		ClientIP: netip.MustParseAddr("192.0.2.1"),
		By:       "mail.example.com",
		With:     "ESMTPSA",
		TLS:      "TLS1.3 TLS_AES_128_GCM_SHA256",
		KeyID:    "pk_7f3a",
		ID:       "01JQ7ZK3V8",
		For:      "bob@example.org",
		Now:      testNow,
	}
	const date = "Mon, 23 Nov 2026 10:00:00 +0000"
	tests := []struct {
		name string
		edit func(*Trace)
		want string
	}{
		{
			name: "full",
			want: "from client.example ([192.0.2.1])\r\n" +
				"\tby mail.example.com (Postern) with ESMTPSA (TLS1.3 TLS_AES_128_GCM_SHA256)\r\n" +
				"\t(authenticated key pk_7f3a)\r\n" +
				"\tid 01JQ7ZK3V8\r\n" +
				"\tfor <bob@example.org>; " + date,
		},
		{
			name: "no recipient",
			edit: func(t *Trace) { t.For = "" },
			want: "from client.example ([192.0.2.1])\r\n" +
				"\tby mail.example.com (Postern) with ESMTPSA (TLS1.3 TLS_AES_128_GCM_SHA256)\r\n" +
				"\t(authenticated key pk_7f3a)\r\n" +
				"\tid 01JQ7ZK3V8; " + date,
		},
		{
			name: "no TLS, no key",
			edit: func(t *Trace) { t.TLS, t.KeyID, t.With, t.For = "", "", "ESMTP", "" },
			want: "from client.example ([192.0.2.1])\r\n" +
				"\tby mail.example.com (Postern) with ESMTP\r\n" +
				"\tid 01JQ7ZK3V8; " + date,
		},
		{
			name: "IPv6",
			edit: func(t *Trace) { t.ClientIP = netip.MustParseAddr("2001:db8::1%eth0"); t.KeyID, t.For = "", "" },
			want: "from client.example ([IPv6:2001:db8::1])\r\n" +
				"\tby mail.example.com (Postern) with ESMTPSA (TLS1.3 TLS_AES_128_GCM_SHA256)\r\n" +
				"\tid 01JQ7ZK3V8; " + date,
		},
		{
			name: "IPv4-mapped",
			edit: func(t *Trace) {
				t.ClientIP = netip.MustParseAddr("::ffff:192.0.2.9")
				t.KeyID, t.For, t.TLS = "", "", ""
			},
			want: "from client.example ([192.0.2.9])\r\n" +
				"\tby mail.example.com (Postern) with ESMTPSA\r\n" +
				"\tid 01JQ7ZK3V8; " + date,
		},
		{
			name: "zero",
			edit: func(t *Trace) { *t = Trace{Now: testNow} },
			want: "from unknown\r\n\tby localhost (Postern); " + date,
		},
		{
			name: "recipient without id",
			edit: func(t *Trace) { t.ID, t.KeyID, t.TLS = "", "", "" },
			want: "from client.example ([192.0.2.1])\r\n" +
				"\tby mail.example.com (Postern) with ESMTPSA\r\n" +
				"\tfor <bob@example.org>; " + date,
		},
		{
			name: "hostile inputs",
			edit: func(t *Trace) {
				t.Helo = "evil\r\nBcc: x (c) [1.2.3.4];\\\x00\xff ok"
				t.By = "mail example.com\r\nX: y"
				t.With = "ESMTP\r\nX: y"
				t.TLS = "TLS1.3) (x\r\n\tX: y\\"
				t.KeyID = "k (x)\r\nX: y"
				t.ID = "id;\r\n X"
				t.For = "bob@example.org>\r\nBcc: <eve@example.net"
			},
			want: "from evilBcc:xc1.2.3.4ok ([192.0.2.1])\r\n" +
				"\tby mailexample.comXy (Postern) with ESMTPXy (TLS1.3 x X: y)\r\n" +
				"\t(authenticated key kxX:y)\r\n" +
				"\tid idX; " + date,
		},
		{
			name: "HELO of only forbidden bytes",
			edit: func(t *Trace) {
				t.Helo = "[]();\\ \r\n"
				t.ClientIP = netip.Addr{}
				t.KeyID, t.ID, t.For, t.TLS = "", "", "", ""
			},
			want: "from unknown\r\n\tby mail.example.com (Postern) with ESMTPSA; " + date,
		},
		{
			name: "address literal HELO loses its brackets",
			edit: func(t *Trace) { t.Helo = "[192.0.2.1]"; t.KeyID, t.ID, t.For, t.TLS = "", "", "", "" },
			want: "from 192.0.2.1 ([192.0.2.1])\r\n\tby mail.example.com (Postern) with ESMTPSA; " + date,
		},
		{
			name: "long HELO truncated",
			edit: func(t *Trace) { t.Helo = strings.Repeat("a", 300); t.KeyID, t.ID, t.For, t.TLS = "", "", "", "" },
			want: "from " + strings.Repeat("a", 255) + " ([192.0.2.1])\r\n\tby mail.example.com (Postern) with ESMTPSA; " + date,
		},
		{
			name: "UTF-8 recipient kept",
			edit: func(t *Trace) { t.For = "j\u00f6rg@b\u00fccher.example"; t.KeyID, t.ID, t.TLS = "", "", "" },
			want: "from client.example ([192.0.2.1])\r\n\tby mail.example.com (Postern) with ESMTPSA\r\n\tfor <j\u00f6rg@b\u00fccher.example>; " + date,
		},
		{
			name: "invalid UTF-8 recipient left out",
			edit: func(t *Trace) { t.For = "j\xffrg@example.org"; t.KeyID, t.ID, t.TLS = "", "", "" },
			want: "from client.example ([192.0.2.1])\r\n\tby mail.example.com (Postern) with ESMTPSA; " + date,
		},
		{
			name: "overlong recipient left out",
			edit: func(t *Trace) { t.For = strings.Repeat("a", 250) + "@example.org"; t.KeyID, t.ID, t.TLS = "", "", "" },
			want: "from client.example ([192.0.2.1])\r\n\tby mail.example.com (Postern) with ESMTPSA; " + date,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := full
			if tt.edit != nil {
				tt.edit(&tr)
			}
			got := Received(tr)
			if got != tt.want {
				t.Errorf("Received:\n got %q\nwant %q", got, tt.want)
			}
			// Whatever the inputs, the value makes one well-formed field.
			out, err := Prepare([]byte("Subject: x\r\n\r\n"), Stamp{Received: got, Now: testNow, Rand: zeroRand{}})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			h := checkPrepared(t, out)
			if n := h.Count("Received"); n != 1 {
				t.Errorf("%d Received fields", n)
			}
			if h.Fields[0].Name != "Received" || h.Count("Bcc") != 0 || h.Count("X") != 0 {
				t.Errorf("fields injected: %q", out)
			}
		})
	}
}
