package spamscan

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/postern/postern/internal/message"
)

// Limits of the MIME walk. A message past them is refused: what cannot
// be looked at whole cannot be let through.
const (
	maxMIMEDepth = 16  // nested multiparts and message/rfc822 parts
	maxMIMEParts = 500 // parts of every level together
)

// field is a header field, unfolded.
type field struct {
	name  string // lower case
	value string
}

type header []field

func (h header) values(name string) []string {
	var vs []string
	for _, f := range h {
		if f.name == name {
			vs = append(vs, f.value)
		}
	}
	return vs
}

func (h header) first(name string) (string, bool) {
	for _, f := range h {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

// parseHeader splits an entity into its header and body. It uses
// message.ParseHeader, the parser the rest of Postern trusts, and falls
// back on a lenient one (LF line ends, bad lines skipped) for what that
// refuses, such as decoded attachments: a malformed part is still looked
// at, never skipped.
func parseHeader(b []byte) (header, []byte) {
	if h, err := message.ParseHeader(b); err == nil {
		out := make(header, 0, len(h.Fields))
		for _, f := range h.Fields {
			out = append(out, field{strings.ToLower(f.Name), f.Value()})
		}
		return out, b[h.BodyOffset:]
	}
	var out header
	rest := b
	for len(rest) > 0 {
		line, next := cutLine(rest)
		if len(bytes.TrimRight(line, " \t")) == 0 {
			return out, next
		}
		rest = next
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			var cont []byte
			cont, rest = cutLine(rest)
			line = append(append(line[:len(line):len(line)], ' '), bytes.TrimLeft(cont, " \t")...)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			continue
		}
		out = append(out, field{strings.ToLower(string(name)), strings.TrimSpace(string(value))})
	}
	return out, nil
}

// cutLine returns the line at the start of b without its end (LF or
// CRLF), and what follows.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

// walker gathers what the rules need from a message's MIME tree.
type walker struct {
	parts    int
	tooDeep  bool // past maxMIMEDepth or maxMIMEParts
	exec     string
	texts    [][]byte // decoded text/plain and text/html bodies, not attachments
	decoded  [][]byte // every decoded leaf body, for GTUBE
	hasPlain bool
	hasHTML  bool
	content  bool // some leaf has more than whitespace
	inflated int  // octets of archives inside archives inflated so far
}

// walk visits an entity: its own Content-Type and Content-Disposition
// fields, then its parts.
func (w *walker) walk(h header, body []byte, depth int) {
	w.parts++
	if depth > maxMIMEDepth || w.parts > maxMIMEParts {
		w.tooDeep = true
		return
	}
	for _, v := range h.values("content-type") {
		w.checkField(v, true)
	}
	for _, v := range h.values("content-disposition") {
		w.checkField(v, false)
	}
	ct, _ := h.first("content-type")
	mediaType := strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]))
	if mediaType == "" {
		mediaType = "text/plain" // RFC 2045 §5.2
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if parts, ok := splitMultipart(body, boundaryOf(ct)); ok {
			for _, p := range parts {
				ph, pb := parseHeader(p)
				w.walk(ph, pb, depth+1)
			}
			return
		}
		// No usable boundary: the body is one opaque leaf.
	case mediaType == "message/rfc822" || mediaType == "message/global":
		inner := decodeBody(h, body)
		ih, ib := parseHeader(inner)
		w.walk(ih, ib, depth+1)
		return
	}
	data := decodeBody(h, body)
	w.decoded = append(w.decoded, data)
	w.checkArchive(data, 0)
	w.checkUUEncoded(data)
	if len(bytes.TrimSpace(data)) > 0 {
		w.content = true
	}
	disp, _ := h.first("content-disposition")
	attachment := strings.HasPrefix(strings.ToLower(strings.TrimSpace(disp)), "attachment")
	if !attachment && (mediaType == "text/plain" || mediaType == "text/html") {
		w.texts = append(w.texts, data)
		if mediaType == "text/plain" {
			w.hasPlain = true
		} else {
			w.hasHTML = true
		}
	}
}

// checkField looks for an executable in a Content-Type (isType) or
// Content-Disposition field value: its type, and the file names in its
// name and filename parameters.
func (w *walker) checkField(v string, isType bool) {
	if w.exec != "" {
		return
	}
	if isType {
		t := strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
		if execTypes[t] {
			w.exec = t
			return
		}
	}
	for _, name := range fileNames(v) {
		if ext := execExtension(name); ext != "" {
			w.exec = ext
			return
		}
	}
}

// scanRawFields checks every line of msg that starts a Content-Type or
// Content-Disposition field, wherever it is: in the header, in a part, or
// in a part the structured walk did not reach (a boundary that a mail
// client would read differently, say). It is the net under the walk; a
// text that quotes such a field at the start of a line is checked too.
func (w *walker) scanRawFields(msg []byte) {
	rest := msg
	for len(rest) > 0 && w.exec == "" {
		var line []byte
		line, rest = cutLine(rest)
		isType := hasPrefixFold(line, "content-type:")
		if !isType && !hasPrefixFold(line, "content-disposition:") {
			continue
		}
		value := line[bytes.IndexByte(line, ':')+1:]
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			var cont []byte
			cont, rest = cutLine(rest)
			value = append(append(value[:len(value):len(value)], ' '), bytes.TrimLeft(cont, " \t")...)
		}
		w.checkField(string(value), isType)
	}
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// boundaryOf returns the boundary parameter of a multipart Content-Type.
func boundaryOf(ct string) string {
	if _, params, err := mime.ParseMediaType(ct); err == nil && params["boundary"] != "" {
		return params["boundary"]
	}
	for _, p := range splitParams(ct) {
		if p.attr == "boundary" {
			return p.value
		}
	}
	return ""
}

// splitMultipart returns the body parts of a multipart body (RFC 2046
// §5.1.1): what lies between delimiter lines, "--" and the boundary
// followed by nothing but whitespace (or by "--" for the last one). The preamble and epilogue are dropped; a missing close
// delimiter ends the last part at the end of the body.
func splitMultipart(body []byte, boundary string) ([][]byte, bool) {
	if boundary == "" {
		return nil, false
	}
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // start of the current part, -1 in the preamble
	found := false
	for i := 0; i < len(body); {
		line, rest := cutLine(body[i:])
		next := len(body) - len(rest)
		after, isDelim := bytes.CutPrefix(line, delim)
		closing := bytes.HasPrefix(after, []byte("--"))
		if isDelim && (closing || len(bytes.TrimRight(after, " \t")) == 0) {
			found = true
			if start >= 0 {
				end := i
				// The CRLF before a delimiter belongs to the delimiter.
				if end > start && body[end-1] == '\n' {
					end--
					if end > start && body[end-1] == '\r' {
						end--
					}
				}
				parts = append(parts, body[start:end])
			}
			if closing {
				return parts, true
			}
			start = next
		}
		i = next
	}
	if start >= 0 && start < len(body) {
		parts = append(parts, body[start:])
	}
	return parts, found
}

// decodeBody undoes the Content-Transfer-Encoding of a body, keeping what
// it could decode of a damaged one.
func decodeBody(h header, body []byte) []byte {
	cte, _ := h.first("content-transfer-encoding")
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := make([]byte, 0, len(body))
		for _, c := range body {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
				clean = append(clean, c)
			}
		}
		if len(clean)%4 == 1 { // a lone sextet decodes to nothing
			clean = clean[:len(clean)-1]
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, _ := base64.RawStdEncoding.Decode(out, clean)
		return out[:n]
	case "quoted-printable":
		out, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		return out
	}
	return body
}

// param is one parameter of a structured field, its value unquoted.
type param struct {
	attr  string // lower case, with any "*N" or "*" suffix
	value string
}

// splitParams parses the parameters of a Content-Type or
// Content-Disposition value leniently: where mime.ParseMediaType gives up
// (a duplicate parameter, a stray character), it still finds them all.
func splitParams(v string) []param {
	var out []param
	i := strings.IndexByte(v, ';')
	if i < 0 {
		return nil
	}
	s := v[i+1:]
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t;")
		eq := strings.IndexAny(s, "=;")
		if eq < 0 || s[eq] == ';' {
			if eq < 0 {
				break
			}
			s = s[eq:]
			continue
		}
		attr := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var value string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			j := 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			value = b.String()
			s = s[min(j+1, len(s)):]
			if k := strings.IndexByte(s, ';'); k >= 0 {
				s = s[k:]
			} else {
				s = ""
			}
		} else {
			k := strings.IndexByte(s, ';')
			if k < 0 {
				k = len(s)
			}
			value = strings.TrimSpace(s[:k])
			s = s[k:]
		}
		out = append(out, param{attr, value})
	}
	return out
}

// fileNames returns every file name a Content-Type or
// Content-Disposition value may be giving, in every form a mail client
// may read: the name and filename parameters as written, decoded from
// RFC 2047 encoded words, decoded from RFC 2231 extended values
// (filename*=), and reassembled from RFC 2231 continuations (filename*0,
// filename*1*, …).
func fileNames(v string) []string {
	var names []string
	add := func(s string) {
		names = append(names, s)
		if dec, err := (&mime.WordDecoder{CharsetReader: anyCharset}).DecodeHeader(s); err == nil && dec != s {
			names = append(names, dec)
		}
	}
	if _, params, err := mime.ParseMediaType(v); err == nil {
		for _, k := range []string{"name", "filename"} {
			if params[k] != "" {
				add(params[k])
			}
		}
	}
	type section struct {
		n     int
		value string
	}
	sections := map[string][]section{}
	for _, p := range splitParams(v) {
		base, rest, _ := strings.Cut(p.attr, "*")
		if base != "name" && base != "filename" {
			continue
		}
		switch {
		case !strings.Contains(p.attr, "*"):
			add(p.value)
		case rest == "":
			add(decode2231(p.value, true))
		default:
			num, ext := strings.CutSuffix(rest, "*")
			n, err := strconv.Atoi(num)
			if err != nil {
				continue
			}
			value := p.value
			if ext {
				value = decode2231(value, n == 0)
			}
			sections[base] = append(sections[base], section{n, value})
			add(value)
		}
	}
	for _, secs := range sections {
		sort.SliceStable(secs, func(i, j int) bool { return secs[i].n < secs[j].n })
		var b strings.Builder
		for _, s := range secs {
			b.WriteString(s.value)
		}
		add(b.String())
	}
	return names
}

// decode2231 decodes an RFC 2231 extended value: charset'language'
// before the first section's value, then %XX escapes. Octets are kept
// as they are whatever the charset: extensions are ASCII.
func decode2231(v string, first bool) string {
	if first {
		if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
			v = parts[2]
		}
	}
	if dec, err := url.PathUnescape(v); err == nil {
		return dec
	}
	return v
}

// anyCharset lets the word decoder pass through charsets it does not
// know: the extension of a file name is ASCII in every charset a mail
// client would honour.
func anyCharset(_ string, r io.Reader) (io.Reader, error) { return r, nil }

// execExtensions are the file name extensions refused as executable:
// what runs, installs, mounts or carries code when opened (doc.go lists
// them by kind, and must be kept in step).
var execExtensions = setOf(
	// programs and installers
	".exe", ".ex_", ".com", ".scr", ".pif", ".cpl", ".dll", ".sys", ".vxd", ".msi", ".msp", ".mst", ".msu",
	".appx", ".appxbundle", ".msix", ".msixbundle", ".appinstaller",
	".application", ".appref-ms", ".xbap", ".gadget", ".jar", ".jnlp",
	".dmg", ".pkg", ".command", ".apk",
	// scripts
	".bat", ".cmd", ".vb", ".vbs", ".vbe", ".js", ".jse", ".mjs", ".ws", ".wsf", ".wsh", ".wsc",
	".ps1", ".ps1xml", ".ps2", ".ps2xml", ".psc1", ".psc2", ".psm1", ".psd1",
	".msh", ".msh1", ".msh2", ".mshxml", ".msh1xml", ".msh2xml",
	".hta", ".sct", ".scf", ".shb", ".shs", ".inf", ".ins", ".isp", ".reg",
	// shortcuts and settings that run what they point at
	".lnk", ".url", ".website", ".settingcontent-ms", ".library-ms", ".search-ms",
	".searchconnector-ms", ".appcontent-ms", ".xnk", ".wsb",
	// disk images, mounted on a double click
	".iso", ".img", ".vhd", ".vhdx",
	// documents that carry code past the macro settings
	".xll", ".iqy", ".slk", ".one", ".onepkg", ".chm", ".hlp", ".msc", ".diagcab", ".diagcfg",
	".diagpkg", ".cab", ".ade", ".adp", ".mde",
)

func setOf(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

// execTypes are the media types refused as executable.
var execTypes = map[string]bool{
	"application/x-msdownload":                      true,
	"application/x-dosexec":                         true,
	"application/x-msdos-program":                   true,
	"application/x-ms-dos-executable":               true,
	"application/vnd.microsoft.portable-executable": true,
	"application/x-executable":                      true,
	"application/x-msi":                             true,
	"application/x-ms-installer":                    true,
	"application/x-ms-shortcut":                     true,
	"application/java-archive":                      true,
	"application/hta":                               true,
	"application/x-ms-application":                  true,
	"application/x-iso9660-image":                   true,
	"application/x-apple-diskimage":                 true,
	"application/vnd.ms-htmlhelp":                   true,
	"application/onenote":                           true,
	"application/msonenote":                         true,
	"application/appx":                              true,
	"application/appxbundle":                        true,
	"application/msix":                              true,
	"application/msixbundle":                        true,
	"application/x-mswinurl":                        true,
}

// execExtension returns the executable extension of a file name, lower
// case with its dot, or "". Windows ignores trailing dots and spaces
// ("a.exe. " runs as a.exe), and a NUL ends the name for many programs,
// so both are seen through.
func execExtension(name string) string {
	for _, ext := range extensions(name) {
		if execExtensions[ext] {
			return ext
		}
	}
	return ""
}

// extensions returns the extensions, lower case with their dot, that
// programs may see in a file name: trailing dots, spaces and quotes
// ignored, and a NUL ending the name or not.
func extensions(name string) []string {
	var exts []string
	if i := strings.IndexByte(name, 0); i >= 0 {
		exts = extensions(name[i+1:])
		name = name[:i]
	}
	name = strings.ToLower(strings.TrimRight(name, ". \t\"'"))
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		exts = append(exts, name[i:])
	}
	return exts
}
