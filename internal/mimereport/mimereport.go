package mimereport

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Errors; callers wrap them in their own. Their texts never contain
// bytes of the message.
var (
	// ErrHeader: the message's own header section does not parse.
	ErrHeader = errors.New("mimereport: malformed message header section")
	// ErrNotReport: the message is not multipart/report.
	ErrNotReport = errors.New("mimereport: not multipart/report")
	// ErrBoundary: a multipart/report without a boundary parameter.
	ErrBoundary = errors.New("mimereport: multipart/report without a boundary")
	// ErrTooLarge: a part's body is longer than the limit ReadPart was
	// given.
	ErrTooLarge = errors.New("mimereport: part over the size limit")
)

// Open reads the header section of msg and, when its Content-Type is
// multipart/report with a boundary, returns the media type's parameters
// (keys in lower case, report-type among them when given) and a reader
// of its parts. Errors are ErrHeader, ErrNotReport and ErrBoundary.
func Open(msg []byte) (params map[string]string, parts *multipart.Reader, err error) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil, nil, ErrHeader
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" {
		return nil, nil, ErrNotReport
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, ErrBoundary
	}
	return params, multipart.NewReader(m.Body, boundary), nil
}

// PartType returns the lower-case media type of part, "text/plain" when
// it has none (RFC 2045 §5.2), "" when it does not parse.
func PartType(part *multipart.Part) string {
	ct := part.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		return "text/plain"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return mt
}

// ReadPart returns the body of part, transfer-decoded (base64 or
// quoted-printable; anything else as it is), and ErrTooLarge with its
// first limit+1 octets when it is longer than limit; on another error
// (a message cut short: io.ErrUnexpectedEOF), what was read so far.
func ReadPart(part *multipart.Part, limit int) ([]byte, error) {
	var r io.Reader = part
	switch strings.ToLower(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding"))) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, spaceless{r})
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if len(b) > limit {
		return b, ErrTooLarge
	}
	return b, err
}

// spaceless drops the spaces and tabs that some encoders leave in base64
// (the decoder itself skips CR and LF).
type spaceless struct{ r io.Reader }

func (s spaceless) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c != ' ' && c != '\t' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil || n == 0 {
			return k, err
		}
	}
}

// HeaderSection returns the header section of msg: the lines before the
// first empty one, line endings CRLF or LF, without the empty line, and
// whether an empty line was found. A message without one is all header.
func HeaderSection(msg []byte) (hdr []byte, complete bool) {
	for i := 0; i < len(msg); {
		j := bytes.IndexByte(msg[i:], '\n')
		if j < 0 {
			break
		}
		if j == 0 || j == 1 && msg[i] == '\r' {
			return msg[:i], true
		}
		i += j + 1
	}
	return msg, false
}
