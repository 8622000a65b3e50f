package kill

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Real sends signals for real.
type Real struct{}

// CanSignal implements Tracer.
func (Real) CanSignal(pid int) error { return unix.Kill(pid, 0) }

// CanTrace implements Tracer. PTRACE_SEIZE does not stop the tracee, and a tracer thread that
// exits detaches from its tracees: the seize runs on a thread of its own that ends right after,
// so the target never notices.
func (Real) CanTrace(pid int) error {
	done := make(chan error, 1)
	go func() {
		// never unlocked: the thread exits with this goroutine, and the kernel detaches it
		runtime.LockOSThread()
		_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, 0, 0, 0)
		if e != 0 {
			done <- e
			return
		}
		done <- nil
	}()
	return <-done
}

// Kill implements Tracer.
func (Real) Kill(pid int, sig unix.Signal) error { return unix.Kill(pid, sig) }

// PtraceKill implements Tracer. The attach sends SIGSTOP, which even an init's namespace cannot
// ignore (a kernel-generated signal); in its signal-delivery-stop the tracer replaces it with
// SIGKILL, which get_signal() then delivers. The tracer is a thread of its own, never unlocked:
// should anything fail, the thread's exit detaches the tracee, which goes on as before.
func (Real) PtraceKill(pid int) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.PtraceAttach(pid); err != nil {
			done <- fmt.Errorf("PTRACE_ATTACH: %v", err)
			return
		}
		if err := waitStop(pid, 2*time.Second); err != nil {
			done <- err
			return
		}
		if err := unix.PtraceCont(pid, int(unix.SIGKILL)); err != nil {
			done <- fmt.Errorf("PTRACE_CONT with SIGKILL: %v", err)
			return
		}
		done <- nil
	}()
	return <-done
}

func waitStop(pid int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("waiting for the tracee: %v", err)
		}
		if got == pid && ws.Stopped() {
			return nil
		}
		if got == pid && (ws.Exited() || ws.Signaled()) {
			return fmt.Errorf("the process ended while being attached")
		}
		if time.Now().After(deadline) {
			return ErrNoStop
		}
		time.Sleep(time.Millisecond)
	}
}
