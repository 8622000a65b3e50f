package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawIO reads and writes a TCP connection's socket with raw system calls, waiting in Go's
// network poller as net.Conn does when the socket has nothing (EAGAIN).
//
// Why: the proxy's work is two short reads and two short writes per request. Through net.Conn
// each is a syscall the runtime accounts for, and its monitor takes the P from a thread whose
// write lasts a few tens of µs (loopback TCP delivers to the application inline) and wakes
// another thread to hold it: about four context switches per request where an event loop
// (HAProxy) has two, and at concurrency 1 the proxy served 0.65–0.75 of HAProxy's requests per
// second (npm run bench -- http-reference); with raw calls, as many. The sockets are
// non-blocking, so a raw call never waits; it only runs.
type rawIO struct {
	rc syscall.RawConn
}

func newRawIO(c net.Conn) (io.ReadWriter, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &rawIO{rc: rc}, nil
}

func (r *rawIO) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		for {
			m, _, e := syscall.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait in the poller
			}
			n, errno = int(m), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (r *rawIO) Write(b []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := r.rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			m, _, e := syscall.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n))
			switch e {
			case 0:
				n += int(m)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // the socket's buffer is full: wait in the poller
			default:
				errno = e
				return true
			}
		}
		return true
	})
	switch {
	case err != nil:
		return n, err
	case errno != 0:
		return n, os.NewSyscallError("write", errno)
	}
	return n, nil
}
