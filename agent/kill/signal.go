// Package kill ends a container's main process from an agent that shares its PID namespace
// (an ephemeral container added with targetContainerName, or a pod with shareProcessNamespace).
// It finds the process, reads what the process does with the signal, picks the one mechanism
// that really delivers it, and refuses — before anything is done — a signal no mechanism can
// deliver. The kernel's rules (kernel/signal.c): from inside a PID namespace, its init gets only
// the signals it handles (sig_task_ignored: SIGNAL_UNKILLABLE and a default handler); SIGKILL
// sent with kill(2) is dropped the same way. Injected through ptrace (PTRACE_ATTACH, then
// PTRACE_CONT replacing the attach's SIGSTOP), SIGKILL is delivered — get_signal() skips for an
// unkillable init only what is not sig_kernel_only() — while any other signal the init does not
// handle is skipped there as well, so it is refused.
package kill

import (
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// Signals chaos-run offers: those whose default action ends a process.
var signals = map[string]unix.Signal{
	"SIGKILL": unix.SIGKILL,
	"SIGTERM": unix.SIGTERM,
	"SIGINT":  unix.SIGINT,
	"SIGQUIT": unix.SIGQUIT,
	"SIGHUP":  unix.SIGHUP,
	"SIGABRT": unix.SIGABRT,
	"SIGUSR1": unix.SIGUSR1,
	"SIGUSR2": unix.SIGUSR2,
}

// Signal is a signal by the name the protocol uses (SIGKILL, SIGTERM, ...).
func Signal(name string) (unix.Signal, error) {
	s, ok := signals[name]
	if !ok {
		return 0, fmt.Errorf("signal %q is not one chaos-run offers (%s)", name, SignalNames())
	}
	return s, nil
}

// SignalNames lists the offered signals.
func SignalNames() string {
	names := make([]string, 0, len(signals))
	for n := range signals {
		names = append(names, n)
	}
	sort.Strings(names)
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
