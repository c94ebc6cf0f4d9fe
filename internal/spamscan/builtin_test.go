package spamscan

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// crlf joins lines into a message with CRLF line ends.
func crlf(lines ...string) []byte { return []byte(strings.Join(lines, "\r\n")) }

// hdr is the header of an ordinary message, without its final empty line.
const hdr = "From: Alice <alice@example.com>\r\n" +
	"To: bob@example.org\r\n" +
	"Subject: Lunch on Friday\r\n" +
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
	"Message-ID: <1@example.com>\r\n" +
	"MIME-Version: 1.0\r\n"

const text = "Hi Bob,\r\n\r\nshall we have lunch on Friday at noon? The usual place.\r\n\r\nAlice\r\n"

// normal is an ordinary message that no rule should mind.
var normal = []byte(hdr + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text)

// withPart returns an ordinary multipart/mixed message: a text part, then
// a part with the given header lines and body.
func withPart(partHeader, partBody string) []byte {
	return []byte(hdr +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\n" + text +
		"--b1\r\n" + partHeader + "\r\n\r\n" + partBody + "\r\n" +
		"--b1--\r\n")
}

func scan(t *testing.T, b Builtin, msg []byte) Verdict {
	t.Helper()
	v, err := b.Scan(context.Background(), Envelope{}, msg)
	if err != nil {
		t.Fatalf("Builtin.Scan: %v", err)
	}
	return v
}

func TestBuiltinNormalMessagePasses(t *testing.T) {
	for name, msg := range map[string][]byte{
		"plain": normal,
		"with a PDF": withPart("Content-Type: application/pdf; name=\"report.pdf\"\r\n"+
			"Content-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64",
			base64.StdEncoding.EncodeToString([]byte("%PDF-1.4 ..."))),
		"exe.pdf":        withPart("Content-Type: application/pdf; name=\"exe.pdf\"", "x"),
		"notes.exe.txt":  withPart("Content-Type: text/plain; name=\"notes.exe.txt\"", "x"),
		"text names exe": []byte(hdr + "\r\nPlease do not send setup.exe or a .scr file; filename=evil.exe is no header.\r\n"),
		"alternative": []byte(hdr + "Content-Type: multipart/alternative; boundary=alt\r\n\r\n" +
			"--alt\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n" +
			"--alt\r\nContent-Type: text/html\r\n\r\n<p>Hi Bob</p>\r\n--alt--\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			v := scan(t, Builtin{}, msg)
			if v.Action != ActionAccept || v.Score != 0 || len(v.Symbols) != 0 || v.Reason != "" || v.Headers != nil {
				t.Fatalf("verdict %+v, want a plain accept with score 0", v)
			}
		})
	}
}

func TestBuiltinGTUBE(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("hello\r\n" + GTUBE + "\r\n"))
	cases := map[string][]byte{
		"body":         []byte(hdr + "\r\nSome text.\r\n" + GTUBE + "\r\n"),
		"subject":      []byte(strings.Replace(hdr, "Lunch on Friday", GTUBE, 1) + "\r\n" + text),
		"other header": []byte(hdr + "X-Test: " + GTUBE + "\r\n\r\n" + text),
		"encoded-word subject": []byte(strings.Replace(hdr, "Lunch on Friday",
			"=?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(GTUBE))+"?=", 1) + "\r\n" + text),
		"base64 part": withPart("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64",
			b64[:20]+"\r\n"+b64[20:]),
		"quoted-printable part, split by a soft break": withPart(
			"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable",
			GTUBE[:30]+"=\r\n"+strings.ReplaceAll(GTUBE[30:], "=", "=3D")),
		"base64 attachment": withPart("Content-Type: application/octet-stream; name=\"a.bin\"\r\n"+
			"Content-Transfer-Encoding: base64", b64),
	}
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			// Even a huge threshold does not let GTUBE through.
			v := scan(t, Builtin{Threshold: 1e9}, msg)
			if v.Action != ActionReject || v.Reason != "message looks like spam (GTUBE)" ||
				!slices.Equal(v.Symbols, []string{SymGTUBE}) || v.Score != HardScore {
				t.Fatalf("verdict %+v, want a GTUBE reject", v)
			}
		})
	}
}

func TestBuiltinExecutables(t *testing.T) {
	type tc struct {
		name   string
		msg    []byte
		reason string
	}
	var cases []tc
	for ext := range execExtensions {
		cases = append(cases, tc{"extension " + ext,
			withPart("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"file"+ext+"\"", "x"),
			"executable attachment refused: " + ext})
	}
	for typ := range execTypes {
		cases = append(cases, tc{"type " + typ,
			withPart("Content-Type: "+typ+"\r\nContent-Transfer-Encoding: base64", "TVqQAAMAAAAEAAAA"),
			"executable attachment refused: " + typ})
	}
	exe := "executable attachment refused: .exe"
	nested := []byte(hdr + "Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n--alt--\r\n" +
		"--outer\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n" +
		"--inner\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=deep.exe\r\n\r\nx\r\n" +
		"--inner--\r\n--outer--\r\n")
	forwarded := "From: x@example.net\r\nSubject: fwd\r\nContent-Type: multipart/mixed; boundary=f\r\n\r\n" +
		"--f\r\nContent-Type: application/octet-stream; name=\"inner.exe\"\r\n\r\nx\r\n--f--\r\n"
	cases = append(cases,
		tc{"upper case, double extension", withPart("Content-Disposition: attachment; filename=\"INVOICE.PDF.EXE\"", "x"), exe},
		tc{"unquoted", withPart("Content-Disposition: attachment; filename=run.bat", "x"), "executable attachment refused: .bat"},
		tc{"Content-Type name", withPart("Content-Type: application/octet-stream; name=\"setup.msi\"", "x"), "executable attachment refused: .msi"},
		tc{"trailing dot and space", withPart("Content-Disposition: attachment; filename=\"evil.exe. \"", "x"), exe},
		tc{"NUL in the name", withPart("Content-Disposition: attachment; filename=\"evil.exe\x00.txt\"", "x"), exe},
		tc{"folded field", withPart("Content-Disposition: attachment;\r\n\tfilename=\"shortcut.lnk\"", "x"), "executable attachment refused: .lnk"},
		tc{"RFC 2231 extended value", withPart("Content-Disposition: attachment; filename*=UTF-8''evil%2Eexe", "x"), exe},
		tc{"RFC 2231 extended value, language", withPart("Content-Disposition: attachment; filename*=us-ascii'en'evil.exe", "x"), exe},
		tc{"RFC 2231 continuations", withPart("Content-Disposition: attachment; filename*0=\"ev\"; filename*1=\"il.scr\"", "x"), "executable attachment refused: .scr"},
		tc{"RFC 2231 encoded continuations", withPart("Content-Disposition: attachment;\r\n filename*0*=UTF-8''ev;\r\n filename*1*=il%2Ejs", "x"), "executable attachment refused: .js"},
		tc{"RFC 2231 continuations out of order", withPart("Content-Type: application/octet-stream; name*1=\".ps1\"; name*0=\"script\"", "x"), "executable attachment refused: .ps1"},
		tc{"RFC 2047 base64 word", withPart("Content-Disposition: attachment; filename=\"=?UTF-8?B?"+
			base64.StdEncoding.EncodeToString([]byte("evil.exe"))+"?=\"", "x"), exe},
		tc{"RFC 2047 Q word, unknown charset", withPart("Content-Type: application/octet-stream; name=\"=?x-weird?Q?evil=2Evbs?=\"", "x"), "executable attachment refused: .vbs"},
		tc{"duplicate parameter", withPart("Content-Disposition: attachment; filename=\"a.pdf\"; filename=\"b.exe\"", "x"), exe},
		tc{"type with parameters, upper case", withPart("Content-Type: Application/X-MSDownload; charset=binary", "x"), "executable attachment refused: application/x-msdownload"},
		tc{"nested multipart", nested, exe},
		tc{"message/rfc822", withPart("Content-Type: message/rfc822", forwarded), exe},
		tc{"base64 message/rfc822", withPart("Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64",
			base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(forwarded, "\r\n", "\n")))), exe},
		tc{"part outside the declared boundary", []byte(hdr + "Content-Type: multipart/mixed; boundary=declared\r\n\r\n" +
			"--other\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n" +
			"--other\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=hidden.cpl\r\n\r\nx\r\n--other--\r\n"),
			"executable attachment refused: .cpl"},
		tc{"top-level type", []byte(hdr + "Content-Type: application/x-dosexec\r\n\r\nMZ\r\n"), "executable attachment refused: application/x-dosexec"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := scan(t, Builtin{Threshold: 1e9}, c.msg)
			if v.Action != ActionReject || v.Reason != c.reason ||
				!slices.Equal(v.Symbols, []string{SymExecutable}) || v.Score != HardScore {
				t.Fatalf("verdict %+v, want reject %q", v, c.reason)
			}
		})
	}
}

func TestBuiltinTooComplex(t *testing.T) {
	// 20 nested multiparts, innermost a text part.
	var open, close strings.Builder
	for i := range 20 {
		fmt.Fprintf(&open, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
		close.WriteString(fmt.Sprintf("\r\n--b%d--", 19-i))
	}
	deep := []byte(hdr + open.String() + "Content-Type: text/plain\r\n\r\n" + text + close.String() + "\r\n")
	v := scan(t, Builtin{}, deep)
	if v.Action != ActionReject || !slices.Equal(v.Symbols, []string{SymMIMETooComplex}) {
		t.Fatalf("20 levels: verdict %+v, want a MIME_TOO_COMPLEX reject", v)
	}

	var many strings.Builder
	many.WriteString(hdr + "Content-Type: multipart/mixed; boundary=m\r\n\r\n")
	for range maxMIMEParts + 1 {
		many.WriteString("--m\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
	}
	many.WriteString("--m--\r\n")
	if v := scan(t, Builtin{}, []byte(many.String())); v.Action != ActionReject || v.Symbols[0] != SymMIMETooComplex {
		t.Fatalf("%d parts: verdict %+v, want a MIME_TOO_COMPLEX reject", maxMIMEParts+1, v)
	}
}

func TestBuiltinRules(t *testing.T) {
	subject := func(s string) []byte {
		return []byte(strings.Replace(string(normal), "Subject: Lunch on Friday", s, 1))
	}
	body := func(b string) []byte { return []byte(hdr + "Content-Type: text/plain\r\n\r\n" + b) }
	cases := []struct {
		name    string
		msg     []byte
		symbols []string
		score   float64
	}{
		{"no Subject", []byte(strings.Replace(string(normal), "Subject: Lunch on Friday\r\n", "", 1)), []string{"MISSING_SUBJECT"}, 2.0},
		{"empty Subject", subject("Subject:  "), []string{"MISSING_SUBJECT"}, 2.0},
		{"empty body", body("\r\n \r\n"), []string{"EMPTY_BODY"}, 2.0},
		{"no body at all", []byte(hdr), []string{"EMPTY_BODY"}, 2.0},
		{"all-caps Subject", subject("Subject: LUNCH ON FRIDAY"), []string{"SUBJECT_ALL_CAPS"}, 1.5},
		{"all-caps encoded Subject", subject("Subject: =?UTF-8?Q?D=C3=89JEUNER_VENDREDI?="), []string{"SUBJECT_ALL_CAPS"}, 1.5},
		{"short caps Subject is fine", subject("Subject: FYI: Q3 KPI"), nil, 0},
		{"!!! in Subject", subject("Subject: Lunch!!!"), []string{"MANY_EXCLAMATIONS"}, 1.5},
		{"ten ! in text", body("Great! " + strings.Repeat("Wow! ", 9) + "\r\n"), []string{"MANY_EXCLAMATIONS"}, 1.5},
		{"nine ! in text is fine", body(strings.Repeat("Wow! ", 9) + "\r\n"), nil, 0},
		{"URL shortener", body("See https://bit.ly/3abc for details.\r\n"), []string{"URL_SHORTENER"}, 2.0},
		{"URL shortener, www and upper case", body("<a href=\"HTTP://www.TinyURL.com/x\">x</a>\r\n"), []string{"URL_SHORTENER"}, 2.0},
		{"URL shortener in base64 text", []byte(hdr + "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString([]byte("go to http://t.co/xyz now")) + "\r\n"), []string{"URL_SHORTENER"}, 2.0},
		{"look-alike host is fine", body("See https://bit.ly.example.com/x and https://notbit.ly/y\r\n"), nil, 0},
		{"Reply-To elsewhere", []byte(hdr + "Reply-To: Support <help@other.net>\r\n\r\n" + text), []string{"REPLY_TO_MISMATCH"}, 1.0},
		{"Reply-To subdomain is fine", []byte(hdr + "Reply-To: help@support.example.com\r\n\r\n" + text), nil, 0},
		{"Reply-To same domain, other case", []byte(hdr + "Reply-To: <help@EXAMPLE.com>\r\n\r\n" + text), nil, 0},
		{"HTML only", []byte(hdr + "Content-Type: text/html\r\n\r\n<p>Hi Bob</p>\r\n"), []string{"HTML_ONLY"}, 1.0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := scan(t, Builtin{}, c.msg)
			if !slices.Equal(v.Symbols, c.symbols) || v.Score != c.score {
				t.Fatalf("symbols %v score %v, want %v %v", v.Symbols, v.Score, c.symbols, c.score)
			}
			if v.Action != ActionAccept { // every rule alone is under half the default threshold
				t.Fatalf("action %q, want accept", v.Action)
			}
		})
	}
}

func TestBuiltinThreshold(t *testing.T) {
	// SUBJECT_ALL_CAPS 1.5 + MANY_EXCLAMATIONS 1.5 + URL_SHORTENER 2.0 = 5.0
	spam := []byte(strings.Replace(hdr, "Lunch on Friday", "FREE MONEY FOR YOU!!!", 1) +
		"\r\nClick https://bit.ly/free now\r\n")
	// MISSING_SUBJECT 2.0 + HTML_ONLY 1.0 = 3.0
	dubious := []byte(strings.Replace(hdr, "Subject: Lunch on Friday\r\n", "", 1) +
		"Content-Type: text/html\r\n\r\n<p>hi</p>\r\n")

	cases := []struct {
		name      string
		threshold float64
		msg       []byte
		action    Action
		score     float64
	}{
		{"default threshold: at it", 0, spam, ActionReject, 5.0},
		{"default threshold: over half", 0, dubious, ActionAddHeader, 3.0},
		{"NaN is the default", nanThreshold(), spam, ActionReject, 5.0},
		{"higher threshold", 6, spam, ActionAddHeader, 5.0},
		{"much higher threshold", 12, dubious, ActionAccept, 3.0},
		{"lower threshold", 3, dubious, ActionReject, 3.0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := scan(t, Builtin{Threshold: c.threshold}, c.msg)
			if v.Action != c.action || v.Score != c.score {
				t.Fatalf("verdict %+v, want %s with %v", v, c.action, c.score)
			}
			switch v.Action {
			case ActionReject:
				if !strings.HasPrefix(v.Reason, "message looks like spam (score ") || v.Headers != nil {
					t.Fatalf("reject reason %q headers %v", v.Reason, v.Headers)
				}
			case ActionAddHeader:
				want := fmt.Sprintf("%.2f", c.score)
				if v.Headers["X-Spam-Score"] != want || v.Headers["X-Spam"] != "Yes" ||
					!strings.HasPrefix(v.Headers["X-Spam-Status"], "Yes, score="+want+" tests=") || v.Reason != "" {
					t.Fatalf("add_header verdict %+v", v)
				}
			}
		})
	}
	v := scan(t, Builtin{}, spam)
	if want := []string{"MANY_EXCLAMATIONS", "SUBJECT_ALL_CAPS", "URL_SHORTENER"}; !slices.Equal(v.Symbols, want) {
		t.Fatalf("symbols %v, want %v (sorted)", v.Symbols, want)
	}
	if v.Reason != "message looks like spam (score 5.0, rules MANY_EXCLAMATIONS,SUBJECT_ALL_CAPS,URL_SHORTENER)" {
		t.Fatalf("reason %q", v.Reason)
	}
}

func nanThreshold() float64 {
	zero := 0.0
	return zero / zero
}

func TestFileNames(t *testing.T) {
	cases := []struct {
		value string
		want  string // one of the names found
	}{
		{`attachment; filename="a b.pdf"`, "a b.pdf"},
		{`attachment; filename="quo\"te.txt"`, `quo"te.txt`},
		{`attachment; FILENAME=plain.txt`, "plain.txt"},
		{`attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf`, "€ rates.pdf"},
		{`attachment; filename*0*=UTF-8''a%20; filename*1="b"; filename*2*=%2Ec`, "a b.c"},
		{`application/octet-stream; name="=?ISO-8859-1?Q?caf=E9.txt?="`, "café.txt"},
	}
	for _, c := range cases {
		if got := fileNames(c.value); !slices.Contains(got, c.want) {
			t.Errorf("fileNames(%q) = %q, want it to hold %q", c.value, got, c.want)
		}
	}
}
