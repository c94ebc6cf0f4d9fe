package spamscan

import (
	"bytes"
	"strings"
	"testing"
)

// The seed corpora are in testdata/fuzz/<FuzzName>/ and run with every
// go test.

func FuzzBuiltin(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		v := Builtin{}.scan(msg)
		switch v.Action {
		case ActionAccept, ActionAddHeader, ActionReject:
		default:
			t.Fatalf("action %q", v.Action)
		}
		if bytes.Contains(msg, []byte(GTUBE)) && v.Action != ActionReject {
			t.Fatalf("GTUBE not refused: %+v", v)
		}
		checkVerdict(t, v)
	})
}

func FuzzParseReply(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := parseReply(body)
		if err != nil {
			if v.Action != "" {
				t.Fatalf("error %v with a verdict %+v", err, v)
			}
			return
		}
		if v.Action.rank() > ActionReject.rank() {
			t.Fatalf("action %q", v.Action)
		}
		checkVerdict(t, v)
	})
}

// checkVerdict checks what every verdict promises, and what Decide makes
// of it.
func checkVerdict(t *testing.T, v Verdict) {
	t.Helper()
	if v.Reason != safeText(v.Reason) {
		t.Fatalf("reason %q is not safe text", v.Reason)
	}
	if v.Action != ActionAddHeader && v.Headers != nil {
		t.Fatalf("headers %v with action %s", v.Headers, v.Action)
	}
	for name, value := range v.Headers {
		if !validFieldName(name) || !validFieldValue(value) {
			t.Fatalf("invalid header field %q: %q", name, value)
		}
	}
	d := Decide(v, 0)
	if strings.ContainsAny(d.Text, "\r\n") || len(d.Text) > maxReasonLen {
		t.Fatalf("reply text %q", d.Text)
	}
	if d.Refuse != (v.Action.rank() >= ActionGreylist.rank()) {
		t.Fatalf("action %s, decision %+v", v.Action, d)
	}
}

// FuzzArchive: looking into any bytes as a zip archive never panics, and
// what it refuses is named by a known extension or is "too complex".
func FuzzArchive(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &walker{}
		w.checkArchive(data, 0)
		if w.exec != "" {
			ext, ok := strings.CutSuffix(w.exec, " (in a zip archive)")
			if !ok || !execExtensions[ext] {
				t.Fatalf("exec %q", w.exec)
			}
			if w.tooDeep {
				t.Fatal("both an executable and too complex")
			}
		}
		if w.inflated > maxInflatedBytes+1 {
			t.Fatalf("inflated %d octets", w.inflated)
		}
	})
}

// FuzzUUNames: every name found is on a begin line of the text, trimmed
// and on one line.
func FuzzUUNames(f *testing.F) {
	f.Fuzz(func(t *testing.T, text []byte) {
		uuNames(text, func(name string) bool {
			if name == "" || strings.ContainsAny(name, "\r\n") || strings.Trim(name, " \t") != name {
				t.Fatalf("name %q", name)
			}
			if !bytes.Contains(bytes.ToLower(text), []byte("begin")) || !bytes.Contains(text, []byte(name)) {
				t.Fatalf("name %q not in the text", name)
			}
			return true
		})
	})
}
