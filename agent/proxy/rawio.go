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
	// The call in progress, one read and one write at a time (each side has one bufio user):
	// state in the struct and the functions bound once, so that a call allocates nothing.
	rb, wb         []byte
	rn, wn         int
	rerrno, werrno syscall.Errno
	readFn         func(fd uintptr) bool
	writeFn        func(fd uintptr) bool
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
	r := &rawIO{rc: rc}
	r.readFn, r.writeFn = r.read, r.write
	return r, nil
}

func (r *rawIO) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	r.rb, r.rn, r.rerrno = b, 0, 0
	err := r.rc.Read(r.readFn)
	n, errno := r.rn, r.rerrno
	r.rb = nil
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

// read is one attempt; false: nothing to read yet, wait in the poller.
func (r *rawIO) read(fd uintptr) bool {
	for {
		m, _, e := syscall.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.rb[0])), uintptr(len(r.rb)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		r.rn, r.rerrno = int(m), e
		return true
	}
}

func (r *rawIO) Write(b []byte) (int, error) {
	r.wb, r.wn, r.werrno = b, 0, 0
	err := r.rc.Write(r.writeFn)
	n, errno := r.wn, r.werrno
	r.wb = nil
	switch {
	case err != nil:
		return n, err
	case errno != 0:
		return n, os.NewSyscallError("write", errno)
	}
	return n, nil
}

// write writes what is left; false: the socket's buffer is full, wait in the poller.
func (r *rawIO) write(fd uintptr) bool {
	for r.wn < len(r.wb) {
		m, _, e := syscall.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.wb[r.wn])), uintptr(len(r.wb)-r.wn))
		switch e {
		case 0:
			r.wn += int(m)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			r.werrno = e
			return true
		}
	}
	return true
}
