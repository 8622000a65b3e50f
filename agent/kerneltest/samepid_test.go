//go:build kernel

package kerneltest

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneArgs is struct clone_args (linux/sched.h) up to set_tid_size (CLONE_ARGS_SIZE_VER1).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls, setTID, setTIDSize uint64
}

// startWithPID starts `sleep 60` as PID pid: clone3 with set_tid (Linux 5.5+, CAP_SYS_ADMIN
// over the PID namespace; not CONFIG_CHECKPOINT_RESTORE, which /proc/sys/kernel/ns_last_pid
// needs and Debian's UML kernel lacks). The child only execs: it runs no Go code but raw
// system calls, with every signal blocked from before the clone (SIGKILL and SIGSTOP, which a
// kill or an attach would send it, cannot be blocked).
func startWithPID(t *testing.T, pid int) *os.Process {
	t.Helper()
	sleep, err := syscall.BytePtrFromString("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	sixty, _ := syscall.BytePtrFromString("60")
	argv := []*byte{sleep, sixty, nil}
	envv := []*byte{nil}
	tid := []int32{int32(pid)}
	args := cloneArgs{exitSignal: uint64(unix.SIGCHLD), setTID: uint64(uintptr(unsafe.Pointer(&tid[0]))), setTIDSize: 1}
	got, errno := cloneExec(&args, sleep, argv, envv)
	runtime.KeepAlive(tid)
	runtime.KeepAlive(argv)
	if errno != 0 {
		t.Fatalf("clone3 with PID %d: %v", pid, errno)
	}
	p, err := os.FindProcess(got)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill(); _, _ = p.Wait() })
	return p
}

// cloneExec clones this thread into a new process with args and execs path there; it returns
// the child's PID in the parent.
//
//go:norace
//go:nocheckptr
func cloneExec(args *cloneArgs, path *byte, argv, envv []*byte) (int, syscall.Errno) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all, old := ^uint64(0), uint64(0)
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return 0, e
	}
	pid, _, e := syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(args)), unsafe.Sizeof(*args), 0)
	if pid == 0 && e == 0 {
		// the child
		syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])))
		syscall.RawSyscall(syscall.SYS_EXIT, 127, 0, 0)
	}
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	return int(pid), e
}
