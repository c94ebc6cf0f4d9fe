//go:build unix

package smtpd

import (
	"errors"
	"net"
	"syscall"
)

// rawConn is the socket under nc, for waitReadable; nil when nc is not
// one (a net.Pipe in a test): such a session waits in Read, buffers held.
func rawConn(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// waitReadable blocks until the socket has something to read (data, the
// end of the stream or an error, all of which the next Read reports), or
// its read deadline passes, or it is closed. It reads nothing: a peek of
// one byte, in place, tells whether the poller must be waited for. Its
// stack is shallow, which is what a session's goroutine holds while it
// waits.
func waitReadable(rc syscall.RawConn) error {
	var b [1]byte
	return rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case err == nil:
				return true // data, or 0 for the end of the stream
			case errors.Is(err, syscall.EINTR):
				continue
			case errors.Is(err, syscall.EAGAIN):
				return false // nothing yet: wait for the poller
			}
			return true // an error: the next Read reports it
		}
	})
}
