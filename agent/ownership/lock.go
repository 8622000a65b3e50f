package ownership

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"chaos-run/agent/protocol"
)

// Locker takes the network namespace's lock: every agent that changes the kernel holds it, so
// two agents in a pod never look at and change the same objects at once.
type Locker interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// SocketLock is the lock as a bound abstract unix socket (`@chaos-agent/v1/lock`): binding is
// atomic, closing releases it, and so does the death of the process that holds it.
type SocketLock struct {
	// Wait is how long Acquire retries (default 10 s).
	Wait time.Duration
}

// ErrLockTimeout: another agent held the lock for the whole wait.
var ErrLockTimeout = errors.New("another chaos-agent in this pod held the lock")

// Acquire implements Locker.
func (l SocketLock) Acquire(ctx context.Context) (func(), error) {
	wait := l.Wait
	if wait == 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	backoff := 5 * time.Millisecond
	for {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("lock socket: %w", err)
		}
		err = unix.Bind(fd, &unix.SockaddrUnix{Name: protocol.LockAddress()})
		if err == nil {
			return func() { _ = unix.Close(fd) }, nil
		}
		_ = unix.Close(fd)
		if !errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("binding %s: %w", protocol.LockAddress(), err)
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, fmt.Errorf("%w for %s", ErrLockTimeout, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}
