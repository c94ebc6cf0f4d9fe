package spamscan

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
)

// entry is one file of a test zip archive: stored when store is set,
// deflated otherwise.
type entry struct {
	name  string
	data  []byte
	store bool
}

// makeZip builds a zip archive with archive/zip.
func makeZip(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		method := zip.Deflate
		if e.store {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encryptedZip is an archive whose one entry, name, is marked encrypted
// (general purpose flag bit 0): its content cannot be read without the
// password.
func encryptedZip(t *testing.T, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	data := bytes.Repeat([]byte{0x5a, 0xa5, 0x13}, 40) // stands for ciphertext
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, Flags: 0x1,
		CRC32: crc32.ChecksumIEEE(data), CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zipPart is a message with the archive attached under name, base64.
func zipPart(name string, archive []byte) []byte {
	return withPart("Content-Type: application/zip; name=\""+name+"\"\r\n"+
		"Content-Disposition: attachment; filename=\""+name+"\"\r\nContent-Transfer-Encoding: base64",
		wrap76(base64.StdEncoding.EncodeToString(archive)))
}

// wrap76 folds base64 text into lines of 76 characters (RFC 2045 §6.8).
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// uuencode writes data as uuencode(1) does, LF line ends turned into
// CRLF: "begin MODE NAME", lines of up to 45 octets, "`", "end".
func uuencode(mode, name string, data []byte) string {
	enc := func(c byte) byte {
		if c == 0 {
			return '`'
		}
		return c + 32
	}
	var b strings.Builder
	fmt.Fprintf(&b, "begin %s %s\r\n", mode, name)
	for len(data) > 0 {
		n := min(45, len(data))
		line := data[:n]
		data = data[n:]
		b.WriteByte(enc(byte(n)))
		for i := 0; i < n; i += 3 {
			var g [3]byte
			copy(g[:], line[i:])
			b.WriteByte(enc(g[0] >> 2))
			b.WriteByte(enc((g[0]<<4 | g[1]>>4) & 63))
			b.WriteByte(enc((g[1]<<2 | g[2]>>6) & 63))
			b.WriteByte(enc(g[2] & 63))
		}
		b.WriteString("\r\n")
	}
	b.WriteString("`\r\nend\r\n")
	return b.String()
}

// TestFinding8ExecutableAttachments (issue 12, finding 8): the file types
// that the review found let through are refused, by name, inside zip
// archives and uuencoded; ordinary attachments still pass.
func TestFinding8ExecutableAttachments(t *testing.T) {
	pdf := []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
	mz := []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff")

	type tc struct {
		name   string
		msg    []byte
		symbol string // "" for an accept
		reason string
	}
	var cases []tc
	refuse := func(name string, msg []byte, reason string) {
		cases = append(cases, tc{name, msg, SymExecutable, "executable attachment refused: " + reason})
	}
	complex := func(name string, msg []byte) {
		cases = append(cases, tc{name, msg, SymMIMETooComplex, "message structure too complex to scan"})
	}
	accept := func(name string, msg []byte) { cases = append(cases, tc{name, msg, "", ""}) }

	// The review's list, and the widened one.
	for _, ext := range []string{
		".img", ".vhd", ".one", ".chm", ".vbe", ".reg", ".appx",
		".vhdx", ".iso", ".msix", ".appxbundle", ".msixbundle", ".lnk", ".hta", ".js", ".jse",
		".wsf", ".wsh", ".ps1", ".scr", ".pif", ".cpl", ".msi", ".bat", ".cmd", ".com", ".jar",
		".vbs", ".xll", ".iqy", ".settingcontent-ms", ".url", ".application", ".msc", ".dmg",
	} {
		refuse("attachment "+ext, withPart("Content-Type: application/octet-stream\r\n"+
			"Content-Disposition: attachment; filename=\"Invoice 2024"+strings.ToUpper(ext)+"\"", "x"), ext)
	}

	// Zip archives: the names of their entries.
	refuse("exe in a zip", zipPart("invoice.zip", makeZip(t, entry{"invoice.pdf", pdf, false}, entry{"invoice.exe", mz, false})), ".exe (in a zip archive)")
	refuse("exe in a folder of a zip", zipPart("docs.zip", makeZip(t, entry{"docs/2024/setup.EXE. ", mz, false})), ".exe (in a zip archive)")
	refuse("lnk in a zip named .pdf", zipPart("report.pdf", makeZip(t, entry{"report.lnk", []byte("L"), true})), ".lnk (in a zip archive)")
	refuse("zip as application/octet-stream without a name", withPart("Content-Type: application/octet-stream\r\n"+
		"Content-Transfer-Encoding: base64", base64.StdEncoding.EncodeToString(makeZip(t, entry{"a.js", []byte("x"), false}))), ".js (in a zip archive)")
	refuse("exe in a zip in a zip", zipPart("outer.zip", makeZip(t, entry{"inner.zip", makeZip(t, entry{"run.scr", mz, false}), false})),
		".scr (in a zip archive)")
	refuse("encrypted entry: the name is still read", zipPart("secret.zip", encryptedZip(t, "payload.exe")), ".exe (in a zip archive)")
	// The local header names another file than the central directory:
	// extractors that read the local headers see the executable.
	differential := makeZip(t, entry{"invoice.pdf", pdf, true})
	if i := bytes.Index(differential, []byte("invoice.pdf")); i >= 0 {
		copy(differential[i:], "invoice.exe") // the first one is the local header's
	}
	refuse("local header differs from the central directory", zipPart("invoice.zip", differential), ".exe (in a zip archive)")
	// A zip that is only local headers (no central directory): 7-Zip and
	// others still extract it.
	truncated := makeZip(t, entry{"setup.msi", mz, true})
	truncated = truncated[:bytes.Index(truncated, []byte("PK\x01\x02"))]
	refuse("zip without its central directory", zipPart("setup.zip", truncated), ".msi (in a zip archive)")
	// Forwarded mail with the archive.
	refuse("zip in message/rfc822", withPart("Content-Type: message/rfc822", "From: x@example.net\r\nSubject: fwd\r\n"+
		"Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
		wrap76(base64.StdEncoding.EncodeToString(makeZip(t, entry{"x.vbs", []byte("x"), false})))+"\r\n"), ".vbs (in a zip archive)")

	// What cannot be looked into whole is refused.
	deep := makeZip(t, entry{"a.zip", makeZip(t, entry{"b.zip", makeZip(t, entry{"c.pdf", pdf, false}), false}), false})
	complex("zip in a zip in a zip", zipPart("a.zip", deep))
	complex("encrypted zip inside", zipPart("outer.zip", encryptedZip(t, "inner.zip")))
	var many []entry
	for i := range 1001 { // one more than the limit, 1000
		many = append(many, entry{fmt.Sprintf("f%d.txt", i), nil, true})
	}
	complex("too many entries", zipPart("many.zip", makeZip(t, many...)))

	// uuencoded files in the text.
	uuExe := uuencode("644", "evil.exe", mz)
	refuse("uuencoded exe in the body", []byte(hdr+"\r\nHere is the tool:\r\n\r\n"+uuExe), ".exe (uuencoded)")
	refuse("uuencoded exe in a base64 text part", withPart("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64",
		wrap76(base64.StdEncoding.EncodeToString([]byte("See below.\r\n"+uuExe)))), ".exe (uuencoded)")
	refuse("uuencoded, mode 0755 and a name with spaces", []byte(hdr+"\r\n"+uuencode("0755", "Quarterly Report.scr", mz)), ".scr (uuencoded)")
	refuse("begin-base64", []byte(hdr+"\r\nbegin-base64 644 run.bat\r\nQGVjaG8gb2ZmDQo=\r\n====\r\n"), ".bat (uuencoded)")
	complex("uuencoded zip: not decoded, so not looked into", []byte(hdr+"\r\n"+uuencode("644", "files.zip", makeZip(t, entry{"a.pdf", pdf, false}))))

	// Benign.
	accept("pdf attachment", withPart("Content-Type: application/pdf; name=\"report.pdf\"\r\n"+
		"Content-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64",
		wrap76(base64.StdEncoding.EncodeToString(pdf))))
	accept("txt attachment", withPart("Content-Type: text/plain; name=\"notes.txt\"\r\n"+
		"Content-Disposition: attachment; filename=\"notes.txt\"", "Some notes.\r\n"))
	accept("zip with a pdf", zipPart("reports.zip", makeZip(t, entry{"reports/q1.pdf", pdf, false}, entry{"reports/readme.txt", []byte("hi"), false})))
	accept("zip with a folder named like a host", zipPart("site.zip", makeZip(t, entry{"example.com/", nil, true}, entry{"example.com/index.html", []byte("<p>"), false})))
	accept("zip in a zip, with a pdf", zipPart("outer.zip", makeZip(t, entry{"inner.zip", makeZip(t, entry{"q1.pdf", pdf, false}), false})))
	accept("uuencoded text file", []byte(hdr+"\r\n"+uuencode("644", "notes.txt", []byte("just notes\n"))))
	accept("prose about uuencode", []byte(hdr+"\r\nTo send it, run uuencode; the output starts with\r\n"+
		"begin 644 and the name of the file.\r\nNever mail a program such as setup.exe.\r\n"))

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := scan(t, Builtin{Threshold: 1e9}, c.msg)
			if c.symbol == "" {
				if v.Action != ActionAccept || len(v.Symbols) != 0 {
					t.Fatalf("verdict %+v, want a plain accept", v)
				}
				return
			}
			if v.Action != ActionReject || !slices.Equal(v.Symbols, []string{c.symbol}) || v.Reason != c.reason || v.Score != HardScore {
				t.Fatalf("verdict %+v, want reject %s %q", v, c.symbol, c.reason)
			}
		})
	}
}
