package mailauth

import (
	"strings"
	"testing"
	"time"
)

// TestDKIMOversignsMeaningfulHeaders (issue 12): the fields whose
// addition would change what a reader sees are listed in h= once more
// than they occur (RFC 6376 §8.15), so that an added instance, above the
// signed one or below it, breaks the signature, and so does one added
// where there was none.
func TestDKIMOversignsMeaningfulHeaders(t *testing.T) {
	keys := testKeys()
	zone := zoneFor(t, keys)
	msg := testMessages()["plain"] // From To Subject Date Message-ID MIME-Version Content-Type; no Cc, no Reply-To
	signed, err := Sign(msg, keys, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	occurs := map[string]int{}
	for _, f := range mustSplitHeader(t, msg) {
		occurs[strings.ToLower(f.Name)]++
	}
	listed := map[string]int{}
	for name := range strings.SplitSeq(firstSignatureTags(t, signed)["h"], ":") {
		listed[strings.ToLower(strings.TrimSpace(name))]++
	}
	for _, name := range []string{"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "Content-Type", "MIME-Version"} {
		lower := strings.ToLower(name)
		if listed[lower] != occurs[lower]+1 {
			t.Errorf("h= lists %s %d times; it occurs %d times, want %d", name, listed[lower], occurs[lower], occurs[lower]+1)
		}
	}

	res, err := Verify(t.Context(), signed, zone.lookup)
	if err != nil || len(res) != 2 || !res[0].OK || !res[1].OK {
		t.Fatalf("the untouched message: %+v %v", res, err)
	}
	s := string(signed)
	top := strings.Index(s, "\r\nFrom:") + 2 // the first field of the message, below the signatures
	end := strings.Index(s, "\r\n\r\n") + 2  // the end of the header
	for name, tampered := range map[string]string{
		"Subject above":      s[:top] + "Subject: Your invoice is overdue\r\n" + s[top:],
		"Subject below":      s[:end] + "Subject: Your invoice is overdue\r\n" + s[end:],
		"Reply-To added":     s[:top] + "Reply-To: mallory@evil.test\r\n" + s[top:],
		"Cc added":           s[:end] + "Cc: mallory@evil.test\r\n" + s[end:],
		"To above":           s[:top] + "To: victim@example.org\r\n" + s[top:],
		"Date above":         s[:top] + "Date: Tue, 03 Jan 2006 15:04:05 +0000\r\n" + s[top:],
		"Content-Type above": s[:top] + "Content-Type: text/html\r\n" + s[top:],
	} {
		res, err := Verify(t.Context(), []byte(tampered), zone.lookup)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range res {
			if r.OK {
				t.Errorf("%s: signature %s still verifies", name, r.Selector)
			}
		}
	}
}

func mustSplitHeader(t *testing.T, msg []byte) []headerField {
	t.Helper()
	fields, ok := splitHeader(msg)
	if !ok {
		t.Fatal("no end of header")
	}
	return fields
}
