//go:build !unix

package smtpd

import (
	"net"
	"syscall"
)

// rawConn: without a peek on the socket a session waits in Read, with its
// buffers held.
func rawConn(net.Conn) syscall.RawConn { return nil }

func waitReadable(syscall.RawConn) error { return nil }
