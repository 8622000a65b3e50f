package kill

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Real sends signals for real.
type Real struct{}

// Open implements Tracer: pidfd_open(2); on a kernel without it (before 5.3), the PID alone.
func (Real) Open(pid int) (Handle, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.ENOSYS) {
		return Handle{PID: pid, FD: -1}, nil
	}
	if errors.Is(err, unix.ESRCH) {
		return Handle{}, ErrGone
	}
	if err != nil {
		return Handle{}, fmt.Errorf("pidfd_open: %v", err)
	}
	return Handle{PID: pid, FD: fd}, nil
}

// Close implements Tracer.
func (Real) Close(h Handle) {
	if h.FD >= 0 {
		_ = unix.Close(h.FD)
	}
}

// signal sends sig (0: none, only the checks) to the handle's process.
func signal(h Handle, sig unix.Signal) error {
	var err error
	if h.FD >= 0 {
		err = unix.PidfdSendSignal(h.FD, sig, nil, 0)
	} else {
		err = unix.Kill(h.PID, sig)
	}
	if errors.Is(err, unix.ESRCH) {
		return ErrGone
	}
	return err
}

// Alive implements Tracer (a process that may not be signalled still exists).
func (Real) Alive(h Handle) error {
	if err := signal(h, 0); errors.Is(err, ErrGone) {
		return err
	}
	return nil
}

// CanSignal implements Tracer.
func (Real) CanSignal(h Handle) error { return signal(h, 0) }

// CanTrace implements Tracer without touching the target (a trial attach would stop it, and a
// seize could outlive its check: a Go thread is not always free to exit): CAP_SYS_PTRACE in
// this process's effective set, ptrace not disabled on the node (Yama ptrace_scope 3), and the
// target not traced by anyone already.
func (Real) CanTrace(h Handle) error {
	pid := h.PID
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	if caps, ok := statusField(string(self), "CapEff"); ok {
		if v, err := strconv.ParseUint(caps, 16, 64); err == nil && v&(1<<unix.CAP_SYS_PTRACE) == 0 {
			return errors.New("CAP_SYS_PTRACE is not in the agent's effective capabilities")
		}
	}
	if scope, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil && strings.TrimSpace(string(scope)) == "3" {
		return errors.New("the node disables ptrace altogether (kernel.yama.ptrace_scope = 3)")
	}
	target, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err
	}
	if tracer, ok := statusField(string(target), "TracerPid"); ok && tracer != "0" {
		return fmt.Errorf("it is already traced by PID %s", tracer)
	}
	return nil
}

func statusField(status, key string) (string, bool) {
	for _, line := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// Kill implements Tracer.
func (Real) Kill(h Handle, sig unix.Signal) error { return signal(h, sig) }

// PtraceKill implements Tracer. The attach sends SIGSTOP, which even an init's namespace cannot
// ignore (a kernel-generated signal); in its signal-delivery-stop the tracer replaces it with
// SIGKILL, which get_signal() then delivers. Should anything fail after the attach, the target
// is detached explicitly and goes on as before (the tracer's thread cannot be relied on to exit:
// the Go runtime never ends its main thread). ptrace takes a PID, not a pidfd: the process
// attached to is the planned one if the handle's process is still alive once attached (its PID
// cannot have been reused while it runs); if it is not, whatever was attached is let go.
func (r Real) PtraceKill(h Handle) error {
	pid := h.PID
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := r.Alive(h); err != nil {
			done <- err
			return
		}
		if err := unix.PtraceAttach(pid); err != nil {
			done <- fmt.Errorf("PTRACE_ATTACH: %v", err)
			return
		}
		if err := r.Alive(h); err != nil {
			_ = unix.PtraceDetach(pid)
			done <- err
			return
		}
		if err := waitStop(pid, 2*time.Second); err != nil {
			_ = unix.PtraceDetach(pid)
			done <- err
			return
		}
		if err := unix.PtraceCont(pid, int(unix.SIGKILL)); err != nil {
			_ = unix.PtraceDetach(pid)
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
