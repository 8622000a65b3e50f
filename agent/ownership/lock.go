package ownership

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"chaos-run/agent/protocol"
)

// Locker takes the network namespace's lock: every agent that changes the kernel holds it, so
// two agents in a pod never look at and change the same objects at once. It only tries: the
// waiting — and telling an agent that holds the lock from a squatter — is the agent's (see
// service), since how long to wait depends on what the lock is wanted for.
type Locker interface {
	// TryAcquire takes the lock if it is free; ErrLockBusy when something holds it.
	TryAcquire() (release func(), err error)
}

// SocketLock is the lock as a bound abstract unix socket (`@chaos-agent/v1/lock`): binding is
// atomic, closing releases it, and so does the death of the process that holds it. Abstract
// sockets have no owner and no permissions: any process of the pod's network namespace can
// bind the name, which is why an agent never waits for it unboundedly.
type SocketLock struct{}

// ErrLockBusy: something holds the lock.
var ErrLockBusy = errors.New("the pod's chaos-agent lock is held")

// TryAcquire implements Locker.
func (SocketLock) TryAcquire() (func(), error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("lock socket: %w", err)
	}
	err = unix.Bind(fd, &unix.SockaddrUnix{Name: protocol.LockAddress()})
	if err == nil {
		return func() { _ = unix.Close(fd) }, nil
	}
	_ = unix.Close(fd)
	if errors.Is(err, unix.EADDRINUSE) {
		return nil, ErrLockBusy
	}
	return nil, fmt.Errorf("binding %s: %w", protocol.LockAddress(), err)
}
