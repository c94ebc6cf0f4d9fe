package smtpd

import (
	"bufio"
	"io"
	"sync"
)

// Idle sessions. Most of a server's sessions, most of the time, wait for
// their next command; what such a session holds is what 10 000 of them
// cost. It holds no buffer: a session that has nothing left to read or
// write gives its 4 KiB reader and writer back to the server's pool, waits
// until its socket is readable (wait_unix.go), and takes a pair again.
// What stays is the connection and its TLS state (crypto/tls keeps the
// record and handshake buffers it grew while handshaking, about 3.5 KiB,
// and its ciphers), the session, and a goroutine that has only ever
// waited, on the smallest stack: the work runs in bursts on goroutines
// that end when it does (serve and burst in conn.go).

// bufferSize is the size of a session's read buffer and of its write
// buffer: a command line, a pipelined group of them, an EHLO reply.
const bufferSize = 4096

// buffers pools the sessions' read and write buffers. The zero value is
// ready to use.
type buffers struct {
	readers sync.Pool // *bufio.Reader
	writers sync.Pool // *bufio.Writer
}

func (b *buffers) reader(r io.Reader) *bufio.Reader {
	if br, ok := b.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, bufferSize)
}

func (b *buffers) writer(w io.Writer) *bufio.Writer {
	if bw, ok := b.writers.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, bufferSize)
}

// put gives a reader and a writer back, either may be nil. What they
// still buffer is dropped, and they no longer refer to the connection.
func (b *buffers) put(br *bufio.Reader, bw *bufio.Writer) {
	if br != nil {
		br.Reset(nil)
		b.readers.Put(br)
	}
	if bw != nil {
		bw.Reset(nil)
		b.writers.Put(bw)
	}
}

// tlsState is what a session keeps of its TLS connection: the fields it
// reports (the Received field's "with" clause), not the whole
// tls.ConnectionState with its certificate chains and exporter closure.
type tlsState struct {
	Version     uint16
	CipherSuite uint16
}
