package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
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
//
// Deadlines cost nothing on that path: a write's deadline is set only when the socket's buffer is
// full (EAGAIN, the write about to wait), and reads have none except the two the proxy sets from
// outside — a park (the janitor asks an idle connection to put its buffers away) and the end of
// a lingering close.
type rawIO struct {
	rc   syscall.RawConn
	conn net.Conn
	// wto: a write that makes no progress for this long fails (0: never)
	wto time.Duration
	// The call in progress, one read and one write at a time (each side has one bufio user):
	// state in the struct and the functions bound once, so that a call allocates nothing.
	rb, wb         []byte
	rn, wn         int
	rerrno, werrno syscall.Errno
	armed          bool // this write set the write deadline
	one            [1]byte
	readFn         func(fd uintptr) bool
	writeFn        func(fd uintptr) bool
	peekFn         func(fd uintptr) bool

	// idle: the reader's Read waits for a new message; a park then ends it with errParked (set
	// and read by the reader's goroutine only)
	idle bool
	// park: the janitor asks the reader to wait without its buffer (and has set a read deadline
	// in the past to interrupt the wait); parked: the reader waits so
	park, parked atomic.Bool
	// ending: the connection is closing; a read deadline now is its end
	ending atomic.Bool
}

// errParked: the read was interrupted by a park; the reader waits in waitReadable, bufferless.
var errParked = errors.New("parked")

// aLongTimeAgo is a deadline in the past: it interrupts a wait at once.
var aLongTimeAgo = time.Unix(1, 0)

func newRawIO(c net.Conn, wto time.Duration) (*rawIO, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &rawIO{rc: rc, conn: c, wto: wto}
	r.readFn, r.writeFn, r.peekFn = r.read, r.write, r.peek
	return r, nil
}

func (r *rawIO) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		r.rb, r.rn, r.rerrno = b, 0, 0
		err := r.rc.Read(r.readFn)
		n, errno := r.rn, r.rerrno
		r.rb = nil
		switch {
		case err != nil:
			if r.unpark(err) {
				if r.idle {
					return 0, errParked
				}
				continue
			}
			return 0, err
		case errno != 0:
			return 0, os.NewSyscallError("read", errno)
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// unpark: err is the janitor's park, now cleared (false: a real error, or the end of a linger).
func (r *rawIO) unpark(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) || r.ending.Load() || !r.park.Load() {
		return false
	}
	_ = r.conn.SetReadDeadline(time.Time{})
	r.park.Store(false)
	// a lingering close that set its deadline just before this cleared it: the read ends now
	return !r.ending.Load()
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

// waitReadable waits, with no buffer, until the socket has something to read, its end or an
// error (which the next Read returns); a park meanwhile changes nothing.
func (r *rawIO) waitReadable() error {
	r.parked.Store(true)
	defer r.parked.Store(false)
	for {
		err := r.rc.Read(r.peekFn)
		if err == nil || !r.unpark(err) {
			return err
		}
	}
}

// peek looks at the socket without taking anything from it (the byte stays for the Read).
func (r *rawIO) peek(fd uintptr) bool {
	for {
		_, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&r.one[0])), 1, unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}

func (r *rawIO) Write(b []byte) (int, error) {
	r.wb, r.wn, r.werrno, r.armed = b, 0, 0, false
	err := r.rc.Write(r.writeFn)
	if err != nil && !r.armed && errors.Is(err, os.ErrDeadlineExceeded) {
		// the deadline of an earlier write, which waited and then went through: not this one's
		_ = r.conn.SetWriteDeadline(time.Time{})
		err = r.rc.Write(r.writeFn)
	}
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

// write writes what is left; false: the socket's buffer is full, wait in the poller — for at
// most wto from now (each wait that follows progress starts its own).
func (r *rawIO) write(fd uintptr) bool {
	for r.wn < len(r.wb) {
		m, _, e := syscall.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&r.wb[r.wn])), uintptr(len(r.wb)-r.wn))
		switch e {
		case 0:
			r.wn += int(m)
		case syscall.EINTR:
		case syscall.EAGAIN:
			if r.wto > 0 {
				_ = r.conn.SetWriteDeadline(time.Now().Add(r.wto))
				r.armed = true
			}
			return false
		default:
			r.werrno = e
			return true
		}
	}
	return true
}

// setUserTimeout: data the peer does not acknowledge (or a zero window it does not open) for d
// ends the connection in the kernel (TCP_USER_TIMEOUT) — the write deadline of a relay, whose
// bytes the kernel splices without the proxy seeing them.
func setUserTimeout(c net.Conn, d time.Duration) {
	sc, ok := c.(syscall.Conn)
	if !ok || d <= 0 {
		return
	}
	if rc, err := sc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
		})
	}
}
