package spamscan

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
)

// Limits of the look into zip archives (doc.go, "Archives"). Past them an
// archive is refused as too complex: what cannot be looked into whole is
// not let through.
const (
	maxArchiveBytes   = 32 << 20 // a decoded archive; over the default message size
	maxArchiveEntries = 1000     // file headers of one archive, of each kind
	maxEntryName      = 4096     // octets of one entry's name
	maxInflatedBytes  = 32 << 20 // archives inside archives, inflated, per message
)

// The zip signatures (PKWARE APPNOTE.TXT §4.3.7, §4.3.12, §4.3.16).
var (
	sigLocalHeader   = []byte("PK\x03\x04")
	sigCentralHeader = []byte("PK\x01\x02")
	sigEndOfCentral  = []byte("PK\x05\x06")
)

// eocdSearch is how far from its end a reader looks for the end of
// central directory record: the record (22 octets) and the longest
// comment.
const eocdSearch = 22 + 65535

// looksLikeZip reports whether data is a zip archive to a reader: it
// starts with a local file header (what a reader of local headers, such
// as 7-Zip on a damaged archive, needs), or its end holds an end of
// central directory record (what archive/zip, Windows and most others
// need; a self-extracting program is such an archive too).
func looksLikeZip(data []byte) bool {
	if bytes.HasPrefix(data, sigLocalHeader) {
		return true
	}
	return bytes.Contains(data[max(0, len(data)-eocdSearch):], sigEndOfCentral)
}

// checkArchive looks into data when it is a zip archive, whatever the
// name or type of the part it came in: the name of every entry, in the
// central directory (through archive/zip) and in the local file headers
// (read here, so that an archive whose two lists differ, or which has no
// central directory, is judged by both). level is 0 for an attachment, 1
// for an archive inside one: that is opened too (inflated, within
// maxInflatedBytes for the whole message); an archive deeper down, or one
// inside that cannot be read (encrypted, an unknown method, damaged), is
// refused.
func (w *walker) checkArchive(data []byte, level int) {
	if w.exec != "" || w.tooDeep || !looksLikeZip(data) {
		return
	}
	// The counts bound what archive/zip reads into memory: it keeps a
	// record per central directory header, and every header starts with
	// its signature.
	if len(data) > maxArchiveBytes || bytes.Count(data, sigCentralHeader) > maxArchiveEntries ||
		bytes.Count(data, sigLocalHeader) > maxArchiveEntries {
		w.tooDeep = true
		return
	}
	names, ok := localNames(data)
	if !ok {
		w.tooDeep = true
		return
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		// No central directory archive/zip can read: the local headers
		// are all there is, and what they hold cannot be opened here.
		zr = nil
	}
	var inner []*zip.File
	opened := map[string]bool{} // the archives inside that are opened below
	if zr != nil {
		for _, f := range zr.File {
			if len(f.Name) > maxEntryName {
				w.tooDeep = true
				return
			}
			if ext := execExtension(f.Name); ext != "" {
				w.exec = ext + " (in a zip archive)"
				return
			}
			if isArchiveName(f.Name) {
				inner = append(inner, f)
				opened[f.Name] = true
			}
		}
	}
	for _, name := range names {
		if ext := execExtension(name); ext != "" {
			w.exec = ext + " (in a zip archive)"
			return
		}
		if isArchiveName(name) && !opened[name] {
			// An archive only the local headers name (or no central
			// directory at all): an extractor may open it, this cannot.
			w.tooDeep = true
			return
		}
	}
	for _, f := range inner {
		if level >= 1 || f.Flags&0x1 != 0 { // deeper than one level, or encrypted
			w.tooDeep = true
			return
		}
		data, ok := w.inflate(f)
		if !ok {
			w.tooDeep = true
			return
		}
		w.checkArchive(data, level+1)
		if w.exec != "" || w.tooDeep {
			return
		}
	}
}

// inflate reads an entry within what is left of maxInflatedBytes; false
// when it is larger or cannot be read.
func (w *walker) inflate(f *zip.File) ([]byte, bool) {
	left := int64(maxInflatedBytes - w.inflated)
	if left <= 0 || f.UncompressedSize64 > uint64(left) {
		return nil, false
	}
	rc, err := f.Open()
	if err != nil {
		return nil, false
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, left+1))
	w.inflated += len(data)
	if err != nil || int64(len(data)) > left {
		return nil, false
	}
	return data, true
}

// localNames returns the file names of the local file headers in data
// (APPNOTE §4.3.7: the signature, 22 octets, the name's length, the extra
// field's length, the name), wherever a signature is: an archive stored
// uncompressed inside is read too. false when a name is longer than
// maxEntryName.
func localNames(data []byte) ([]string, bool) {
	var names []string
	for off := 0; ; {
		i := bytes.Index(data[off:], sigLocalHeader)
		if i < 0 {
			return names, true
		}
		p := off + i
		off = p + len(sigLocalHeader)
		if p+30 > len(data) {
			continue
		}
		n := int(binary.LittleEndian.Uint16(data[p+26:]))
		if n > maxEntryName {
			return nil, false
		}
		end := min(p+30+n, len(data))
		names = append(names, string(data[p+30:end]))
	}
}

// isArchiveName reports whether an entry's name is a zip archive's, one
// an extractor would open in turn.
func isArchiveName(name string) bool {
	for _, ext := range extensions(name) {
		if ext == ".zip" {
			return true
		}
	}
	return false
}

// checkUUEncoded refuses text with a uuencoded executable, by the name on
// its begin line, or a uuencoded zip archive: uuencode is not decoded, so
// an archive in it cannot be looked into.
func (w *walker) checkUUEncoded(text []byte) {
	if w.exec != "" || w.tooDeep {
		return
	}
	uuNames(text, func(name string) bool {
		if ext := execExtension(name); ext != "" {
			w.exec = ext + " (uuencoded)"
			return false
		}
		if isArchiveName(name) {
			w.tooDeep = true
			return false
		}
		return true
	})
}

// uuNames calls fn with the file name of every line of text that starts
// a uuencoded file, until fn returns false. Such a line is "begin" or
// "begin-base64" (in any case, after any white space), white space, a
// mode of 1 to 6 octal digits, white space, and the name: the rest of the
// line (a bare CR ends it too), trailing white space removed. This is
// the line uudecode(1) looks for, and the one mail clients that decode
// uuencode in a text body look for; it is read more widely than either
// does.
func uuNames(text []byte, fn func(name string) bool) {
	for rest := text; len(rest) > 0; {
		var line []byte
		line, rest = cutLine(rest)
		line = bytes.TrimLeft(line, " \t")
		if len(line) < len("begin 6 x") || !hasPrefixFold(line, "begin") {
			continue
		}
		line = line[len("begin"):]
		if hasPrefixFold(line, "-base64") {
			line = line[len("-base64"):]
		}
		after := bytes.TrimLeft(line, " \t")
		if len(after) == len(line) {
			continue // "beginning", "begin-base64x"
		}
		digits := 0
		for digits < len(after) && after[digits] >= '0' && after[digits] <= '7' {
			digits++
		}
		if digits == 0 || digits > 6 {
			continue
		}
		name := bytes.TrimLeft(after[digits:], " \t")
		if len(name) == len(after[digits:]) {
			continue // no white space after the mode
		}
		if i := bytes.IndexByte(name, '\r'); i >= 0 {
			name = name[:i] // a bare CR ends the line for some readers
		}
		name = bytes.TrimRight(name, " \t")
		if len(name) == 0 {
			continue
		}
		if !fn(string(name)) {
			return
		}
	}
}
