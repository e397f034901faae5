//go:build unix

package server

import (
	"crypto/tls"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// connClosed reports whether the peer of c has closed the connection (or
// reset it), without consuming any data: a MSG_PEEK of one byte that
// returns 0 bytes means end of stream. An open connection with nothing to
// read (EAGAIN) or with a pipelined request waiting is not closed. The
// runtime holds the descriptor for the duration of Control, so a
// connection closed concurrently is simply reported as closed.
func connClosed(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var buf [1]byte
	if err := raw.Control(func(fd uintptr) {
		n, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
		case err != nil:
			closed = true
		case n == 0:
			closed = true
		}
	}); err != nil {
		return true // already closed on our side
	}
	return closed
}
