package compose

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strconv"
)

// part is a MIME entity (RFC 2045): its header fields and either an
// encoded body (a leaf) or parts under a boundary (multipart, RFC 2046
// §5.1).
type part struct {
	fields []field
	body   []byte  // leaf: encoded, no final CRLF
	parts  []*part // multipart
	// subtype is the multipart subtype, "" for a leaf; the boundary is
	// drawn when the part is written.
	subtype string
	// related is the RFC 2387 type parameter of multipart/related.
	related string
}

// field is one header field, its body already split into tokens.
type field struct {
	name string
	toks []string
}

// size is a bound on the octets write adds for p, boundaries included.
func (p *part) size() int {
	n := 0
	for _, f := range p.fields {
		n += len(f.name) + 4
		for _, t := range f.toks {
			n += len(t) + 3
		}
	}
	n += len(p.body) + 4
	for _, c := range p.parts {
		n += c.size() + 2*boundaryLen + 16
	}
	return n + 200
}

// Boundaries are "=_", 32 random hex digits, "_" and a digit that
// numbers the multiparts of one message, so they differ from each other
// whatever Rand yields. "=_" cannot occur in quoted-printable or base64
// text (RFC 2045 §6.7, §6.8), and all boundaries have one length, so none
// is a prefix of another (RFC 2046 §5.1.1).
const boundaryLen = 2 + 32 + 2

// boundaries draws the random part of a message's boundaries.
type boundaries struct {
	base string
	n    int
}

func newBoundaries(rnd io.Reader) (*boundaries, error) {
	var b [16]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return nil, fmt.Errorf("compose: read MIME boundary: %w", err)
	}
	return &boundaries{base: "=_" + hex.EncodeToString(b[:]) + "_"}, nil
}

func (bs *boundaries) next() string {
	bs.n++
	return bs.base + strconv.Itoa(bs.n%10)
}

// write appends p's header fields, the empty line and its body. A
// multipart body is its parts, each after a delimiter line, and the close
// delimiter; there is no preamble and no epilogue. In a multipart, the
// CRLF after a part's body belongs to the next delimiter (RFC 2046
// §5.1.1); a message that is a single leaf (always quoted-printable) ends
// with the body's own line break, or with a soft line break, so that it
// ends in CRLF and decodes to the text exactly.
func (p *part) write(b []byte, bs *boundaries, top bool) []byte {
	if p.subtype == "" {
		b = writeFields(b, p.fields)
		b = append(b, '\r', '\n')
		b = append(b, p.body...)
		switch {
		case !top:
			return append(b, '\r', '\n')
		case bytes.HasSuffix(p.body, []byte("\r\n")):
			return b
		default:
			return append(b, '=', '\r', '\n')
		}
	}
	boundary := bs.next()
	params := map[string]string{"boundary": boundary}
	if p.related != "" {
		params["type"] = p.related
	}
	b = appendField(b, "Content-Type", mediaTypeTokens("multipart/"+p.subtype, params))
	b = writeFields(b, p.fields)
	b = append(b, '\r', '\n')
	for _, c := range p.parts {
		b = append(b, "--"...)
		b = append(b, boundary...)
		b = append(b, '\r', '\n')
		b = c.write(b, bs, false)
	}
	b = append(b, "--"...)
	b = append(b, boundary...)
	return append(b, "--\r\n"...)
}

func writeFields(b []byte, fs []field) []byte {
	for _, f := range fs {
		b = appendField(b, f.name, f.toks)
	}
	return b
}

// textPart is a leaf holding text, quoted-printable (RFC 2045 §6.7):
// lines of at most 76 characters, line breaks made CRLF (RFC 2046
// §4.1.1), every byte that is not printable ASCII encoded.
func textPart(contentType []string, text string) *part {
	var buf bytes.Buffer
	buf.Grow(len(text) + len(text)/8)
	w := quotedprintable.NewWriter(&buf)
	io.WriteString(w, text) // a bytes.Buffer does not fail
	w.Close()
	return &part{
		fields: []field{
			{"Content-Type", contentType},
			{"Content-Transfer-Encoding", []string{"quoted-printable"}},
		},
		body: buf.Bytes(),
	}
}

// base64Body encodes data in base64 (RFC 2045 §6.8), lines of 76
// characters joined by CRLF.
func base64Body(data []byte) []byte {
	enc := base64.StdEncoding.EncodedLen(len(data))
	out := make([]byte, 0, enc+enc/76*2)
	line := make([]byte, 76)
	for len(data) > 0 {
		n := min(len(data), 57) // 57 octets make 76 characters
		base64.StdEncoding.Encode(line, data[:n])
		if len(out) > 0 {
			out = append(out, '\r', '\n')
		}
		out = append(out, line[:base64.StdEncoding.EncodedLen(n)]...)
		data = data[n:]
	}
	return out
}
