package compose

import (
	"encoding/base64"
	"mime"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Checks of single values. Each reports a problem with a FieldError on
// errs and returns what composition needs.

// checkMailbox checks an {email, name} at path ("from", "personalizations.0.to.1").
func checkMailbox(path string, a Address, errs *Errors) (mailbox, bool) {
	ok := true
	ep := path + ".email"
	switch e := a.Email; {
	case e == "":
		errs.add(ep, "is required")
		ok = false
	case len(e) > MaxAddressLength:
		errs.addf(ep, "may be at most %d characters", MaxAddressLength)
		ok = false
	case !isPrintableASCII(e) || strings.ContainsAny(e, " \t"):
		errs.add(ep, "must be a plain ASCII email address, without spaces or a display name")
		ok = false
	default:
		// ParseAddress accepts "Name <a@b>" and comments; only a bare
		// addr-spec that comes back unchanged is taken.
		p, err := mail.ParseAddress(e)
		if err != nil || p.Name != "" || p.Address != e {
			errs.add(ep, "does not contain a valid address")
			ok = false
		}
	}
	if a.Name != "" {
		if r := textProblem(a.Name, MaxNameLength); r != "" {
			errs.add(path+".name", r)
			ok = false
		}
	}
	return mailbox{Email: a.Email, Name: a.Name}, ok
}

// textProblem says what is wrong with text that goes into a header, or "".
func textProblem(s string, max int) string {
	switch {
	case len(s) > max:
		return "is longer than " + itoa(max) + " bytes"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case hasControl(s):
		return "must not contain control characters (line breaks included)"
	}
	return ""
}

// hasControl reports C0 (but HTAB), DEL, C1 and the Unicode line and
// paragraph separators.
func hasControl(s string) bool {
	for _, r := range s {
		switch {
		case r < 0x20 && r != '\t', r >= 0x7f && r <= 0x9f, r == 0x2028, r == 0x2029:
			return true
		}
	}
	return false
}

// reserved reports whether a request may not set the field named lower
// (lower case): those Postern writes (the addresses, Subject, Date, the
// MIME fields), those that carry trust (DKIM, ARC, Authentication-Results,
// trace fields) and SendGrid's own.
func reserved(lower string) bool {
	switch lower {
	case "from", "to", "cc", "bcc", "subject", "reply-to", "sender", "date",
		"mime-version", "content-type", "content-transfer-encoding",
		"content-disposition", "content-id",
		"dkim-signature", "received", "return-path", "authentication-results",
		"arc-seal", "arc-message-signature", "arc-authentication-results",
		"x-originating-ip", "x-sg-id", "x-sg-eid", "x-smtpapi":
		return true
	}
	return false
}

// userHeader is a checked user header.
type userHeader struct {
	name, value string
	toks        []string
}

// checkHeaders checks a headers object at path, returning its fields
// keyed by lower-case name.
func checkHeaders(path string, h map[string]string, errs *Errors) map[string]userHeader {
	if len(h) == 0 {
		return nil
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]userHeader, len(h))
	for _, name := range names {
		fp := join(path, name)
		value := strings.Trim(h[name], " \t")
		lower := strings.ToLower(name)
		switch {
		case name == "" || len(name) > MaxHeaderName || !isFieldName(name):
			errs.addf(fp, "is not a valid header name (printable ASCII other than colon, 1 to %d characters)", MaxHeaderName)
			continue
		case reserved(lower):
			errs.add(fp, "is set by Postern and may not be given")
			continue
		case out[lower].name != "":
			errs.add(fp, "is given more than once (header names are case-insensitive)")
			continue
		}
		if r := textProblem(value, MaxHeaderValue); r != "" {
			errs.add(fp, r)
			continue
		}
		if lower == "message-id" && !isMsgID(value) {
			errs.add(fp, "must be one <id@domain> message identifier")
			continue
		}
		toks := valueTokens(name, value)
		if !foldable(name, toks) {
			errs.add(fp, "has a run of characters without a space too long for one header line")
			continue
		}
		out[lower] = userHeader{name: name, value: value, toks: toks}
	}
	return out
}

// isFieldName reports whether s is an RFC 5322 §3.6.8 field name.
func isFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 || s[i] == ':' {
			return false
		}
	}
	return true
}

// isMsgID reports whether s is a msg-id (RFC 5322 §3.6.4) in the simple
// form "<left@right>", printable ASCII without WSP or brackets inside.
func isMsgID(s string) bool {
	if len(s) < 5 || s[0] != '<' || s[len(s)-1] != '>' {
		return false
	}
	in := s[1 : len(s)-1]
	left, right, ok := strings.Cut(in, "@")
	if !ok || left == "" || right == "" || strings.Contains(right, "@") {
		return false
	}
	for i := 0; i < len(in); i++ {
		if c := in[i]; c <= ' ' || c > '~' || c == '<' || c == '>' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// body is the checked content and attachments, common to every message.
type body struct {
	content     []Content // in order; types normalized
	ctypes      [][]string
	inline      []*part
	attachments []*part
}

// checkContent checks content, which must hold text/plain first if given,
// then text/html if given, then other types.
func checkContent(cs []Content, errs *Errors, b *body) {
	if len(cs) == 0 {
		errs.add("content", "is required: at least one item with a type and a value")
		return
	}
	seen := make(map[string]bool)
	plain, html := -1, -1
	for i, c := range cs {
		path := "content." + itoa(i)
		mt, params, err := mime.ParseMediaType(c.Type)
		switch {
		case c.Type == "":
			errs.add(path+".type", "is required")
			continue
		case len(c.Type) > MaxMediaTypeLength || err != nil || !strings.Contains(mt, "/"):
			errs.add(path+".type", "is not a valid MIME type")
			continue
		case strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "message/"):
			errs.add(path+".type", "may not be a multipart or message type")
			continue
		case seen[mt]:
			errs.add(path+".type", "is given more than once")
			continue
		}
		seen[mt] = true
		switch mt {
		case "text/plain":
			plain = i
		case "text/html":
			html = i
		}
		if c.Value == "" {
			errs.add(path+".value", "must not be empty")
		} else if !utf8.ValidString(c.Value) {
			errs.add(path+".value", "is not valid UTF-8")
		}
		delete(params, "charset")
		if strings.HasPrefix(mt, "text/") {
			params["charset"] = "utf-8"
		}
		toks := mediaTypeTokens(mt, params)
		if toks == nil || !foldable("Content-Type", toks) {
			errs.add(path+".type", "is not a valid MIME type")
			continue
		}
		b.content = append(b.content, Content{Type: mt, Value: c.Value})
		b.ctypes = append(b.ctypes, toks)
	}
	if plain > 0 || html >= 0 && html != plain+1 {
		errs.add("content.0.type", "text/plain must come first if given, then text/html if given, then other types")
	}
}

// checkAttachments decodes and checks the attachments and makes their
// parts (RFC 2183 Content-Disposition, RFC 2392 Content-ID).
func checkAttachments(as []Attachment, errs *Errors, b *body) {
	cids := make(map[string]bool)
	for i, a := range as {
		path := "attachments." + itoa(i)
		ok := true
		data, err := base64.StdEncoding.DecodeString(a.Content)
		switch {
		case a.Content == "":
			errs.add(path+".content", "is required")
			ok = false
		case err != nil:
			errs.add(path+".content", "must be base64-encoded")
			ok = false
		}
		if a.Filename == "" {
			errs.add(path+".filename", "is required")
			ok = false
		} else if r := textProblem(a.Filename, MaxFilenameLength); r != "" {
			errs.add(path+".filename", r)
			ok = false
		} else if strings.ContainsRune(a.Filename, '\t') {
			errs.add(path+".filename", "must not contain tabs")
			ok = false
		}
		typ := a.Type
		if typ == "" {
			typ = "application/octet-stream"
		}
		mt, params, err := mime.ParseMediaType(typ)
		switch {
		case len(typ) > MaxMediaTypeLength || err != nil || !strings.Contains(mt, "/"):
			errs.add(path+".type", "is not a valid MIME type")
			ok = false
		case strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "message/"):
			errs.add(path+".type", "may not be a multipart or message type; use application/octet-stream")
			ok = false
		}
		disp := strings.ToLower(a.Disposition)
		switch disp {
		case "":
			disp = "attachment"
		case "attachment", "inline":
		default:
			errs.add(path+".disposition", "must be attachment or inline")
			ok = false
		}
		cid := a.ContentID
		if len(cid) > 2 && cid[0] == '<' && cid[len(cid)-1] == '>' {
			cid = cid[1 : len(cid)-1]
		}
		switch {
		case cid == "" && disp == "inline":
			errs.add(path+".content_id", "is required for an inline attachment")
			ok = false
		case cid == "":
		case len(cid) > MaxContentIDLength || !isContentID(cid):
			errs.addf(path+".content_id", "must be 1 to %d printable ASCII characters without spaces, quotes, brackets or parentheses", MaxContentIDLength)
			ok = false
		case cids[cid]:
			errs.add(path+".content_id", "is given more than once")
			ok = false
		default:
			cids[cid] = true
		}
		if !ok {
			continue
		}
		if params == nil {
			params = make(map[string]string)
		}
		if _, given := params["name"]; !given {
			params["name"] = a.Filename
		}
		fields := []field{
			{"Content-Type", mediaTypeTokens(mt, params)},
			{"Content-Transfer-Encoding", []string{"base64"}},
			{"Content-Disposition", mediaTypeTokens(disp, map[string]string{"filename": a.Filename})},
		}
		if cid != "" {
			fields = append(fields, field{"Content-ID", []string{"<" + cid + ">"}})
		}
		bad := false
		for _, f := range fields {
			bad = bad || f.toks == nil || !foldable(f.name, f.toks)
		}
		if bad {
			errs.add(path+".type", "is not a valid MIME type")
			continue
		}
		p := &part{fields: fields, body: base64Body(data)}
		if disp == "inline" {
			b.inline = append(b.inline, p)
		} else {
			b.attachments = append(b.attachments, p)
		}
	}
}

func isContentID(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || strings.IndexByte(`<>()"\,;`, c) >= 0 {
			return false
		}
	}
	return true
}

// checkCategories checks categories at path: at most MaxCategories, each
// 1 to MaxCategoryLength characters, no control characters, no repeats.
func checkCategories(path string, cs []string, errs *Errors) []string {
	if len(cs) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(cs))
	for i, c := range cs {
		p := path + "." + itoa(i)
		switch {
		case c == "":
			errs.add(p, "must not be empty")
		case !utf8.ValidString(c) || hasControl(c):
			errs.add(p, "must be text without control characters")
		case utf8.RuneCountInString(c) > MaxCategoryLength:
			errs.addf(p, "may be at most %d characters", MaxCategoryLength)
		case seen[c]:
			errs.add(p, "is given more than once")
		}
		seen[c] = true
	}
	return append([]string(nil), cs...)
}

// checkArgs checks custom_args (or unique_args) at path: non-empty keys,
// valid UTF-8.
func checkArgs(path string, m map[string]string, errs *Errors) {
	for k, v := range m {
		switch {
		case k == "":
			errs.add(path, "has an empty key")
		case !utf8.ValidString(k) || !utf8.ValidString(v):
			errs.add(join(path, k), "is not valid UTF-8")
		}
	}
}

// checkBatchID checks a batch_id: printable ASCII without spaces.
func checkBatchID(path, id string, errs *Errors) {
	if id == "" {
		return
	}
	if len(id) > MaxBatchIDLength || !isPrintableASCII(id) || strings.ContainsAny(id, " \t") {
		errs.addf(path, "must be 1 to %d printable ASCII characters without spaces", MaxBatchIDLength)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
