package kill

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Mechanisms.
const (
	ByKill   = "kill"   // kill(2)
	ByPtrace = "ptrace" // SIGKILL injected through ptrace
)

// Dispositions: what the process does with a signal.
const (
	Handled = "handled"
	Default = "default"
	Ignored = "ignored"
)

// Handle is a process as it was planned: its PID and a pidfd on it, taken before the process
// was read, so that the signal reaches that process or none — a PID whose process exited and
// was reaped names another process once it is reused. FD is -1 on a kernel without pidfds
// (before 5.3): then the PID alone.
type Handle struct {
	PID int
	FD  int
}

// ErrGone: the planned process is no longer there (the signal would reach another).
var ErrGone = errors.New("the planned process has exited")

// Plan is what a kill will do: which process, which signal, how.
type Plan struct {
	// Handle is the planned process (its pidfd is the plan's to close: Do closes it, and so
	// does Close).
	Handle      Handle
	PID         int
	Process     string
	SignalName  string
	Signal      unix.Signal
	Mechanism   string
	Init        bool
	Disposition string
	Blocked     bool
	// Container names the target in messages ("container nginx", or "the target container").
	Container string
}

// Words says the plan in a sentence.
func (p Plan) Words() string {
	how := "with kill(2)"
	if p.Mechanism == ByPtrace {
		how = "through ptrace (attach, then its SIGSTOP replaced by SIGKILL)"
	}
	who := fmt.Sprintf("PID %d (%s) of %s", p.PID, p.Process, p.Container)
	extra := ""
	if p.Init {
		extra = "; it is its PID namespace's init, so every process there ends with it"
	}
	if p.Disposition == Handled {
		extra += fmt.Sprintf("; it handles %s itself (whether it exits is up to it)", p.SignalName)
	}
	if p.Blocked {
		extra += "; it blocks the signal at the moment, so it stays pending until unblocked"
	}
	return fmt.Sprintf("%s to %s %s%s", p.SignalName, who, how, extra)
}

// Refusal is a signal no mechanism can deliver: said before anything is done.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// Target is the process a kill aims at: PID 1 without a container id (the agent shares the
// target container's PID namespace, where its main process is the init), else the process of
// that container's cgroup whose parent is outside it.
func Target(proc Proc, containerID string) (pid int, init bool, err error) {
	if containerID == "" {
		return 1, true, nil
	}
	cg, err := proc.Cgroup(1)
	if err == nil && strings.Contains(cg, containerID) {
		return 1, true, nil
	}
	pids, err := proc.PIDs()
	if err != nil {
		return 0, false, fmt.Errorf("listing processes: %v", err)
	}
	in := map[int]bool{}
	for _, p := range pids {
		if cg, err := proc.Cgroup(p); err == nil && strings.Contains(cg, containerID) {
			in[p] = true
		}
	}
	var roots []int
	for p := range in {
		text, err := proc.Status(p)
		if err != nil {
			continue // gone meanwhile
		}
		st, err := ParseStatus(text)
		if err != nil {
			continue
		}
		if !in[st.PPid] {
			roots = append(roots, p)
		}
	}
	if len(roots) == 0 {
		return 0, false, &Refusal{Reason: fmt.Sprintf("no process of container %s is visible from here: the agent must share its PID namespace (targetContainerName, or shareProcessNamespace)", short(containerID))}
	}
	sort.Ints(roots)
	return roots[0], roots[0] == 1, nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Decide reads the target's signal disposition and picks the mechanism, or refuses.
func Decide(proc Proc, pid int, init bool, signalName, container string) (Plan, error) {
	sig, err := Signal(signalName)
	if err != nil {
		return Plan{}, &Refusal{Reason: err.Error()}
	}
	text, err := proc.Status(pid)
	if err != nil {
		return Plan{}, fmt.Errorf("reading /proc/%d/status: %v", pid, err)
	}
	st, err := ParseStatus(text)
	if err != nil {
		return Plan{}, err
	}
	cmd, _ := proc.Cmdline(pid)
	if container == "" {
		container = "the target container"
	} else {
		container = "container " + container
	}
	p := Plan{PID: pid, Process: shortCmdline(cmd, st.Name), SignalName: signalName, Signal: sig, Init: init, Container: container}
	n := int(sig)
	switch {
	case sig == unix.SIGKILL:
		p.Disposition = Default
	case bit(st.SigIgn, n):
		p.Disposition = Ignored
	case bit(st.SigCgt, n):
		p.Disposition = Handled
	default:
		p.Disposition = Default
	}
	p.Blocked = sig != unix.SIGKILL && bit(st.SigBlk, n)
	who := fmt.Sprintf("PID %d (%s) of %s", pid, p.Process, container)
	switch {
	case p.Disposition == Ignored:
		return p, &Refusal{Reason: fmt.Sprintf("%s ignores %s: no signal sent from here ends it that way (SIGKILL does)", who, signalName)}
	case !init:
		p.Mechanism = ByKill
	case sig == unix.SIGKILL:
		p.Mechanism = ByPtrace
	case p.Disposition == Handled:
		p.Mechanism = ByKill
	default:
		return p, &Refusal{Reason: fmt.Sprintf("%s is its PID namespace's init and does not handle %s: the kernel never delivers an unhandled signal to an init from inside its namespace, not even injected through ptrace (only SIGKILL is). Use SIGKILL, or a signal it handles%s", who, signalName, handledList(st.SigCgt))}
	}
	return p, nil
}

func handledList(mask uint64) string {
	var names []string
	for name, s := range signals {
		if s != unix.SIGKILL && bit(mask, int(s)) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return " (it handles none of the signals chaos-run offers)"
	}
	sort.Strings(names)
	return " (it handles " + strings.Join(names, ", ") + ")"
}

// Tracer is how signals are sent: pidfds, kill and ptrace, behind an interface for tests.
type Tracer interface {
	// Open takes a handle (a pidfd) on pid.
	Open(pid int) (Handle, error)
	// Close lets the handle go.
	Close(h Handle)
	// Alive: the handle's process has not exited (ErrGone when it has).
	Alive(h Handle) error
	// CanSignal: may this process send signals to it (a null signal through the pidfd)?
	CanSignal(h Handle) error
	// CanTrace: may this process trace it (changing nothing)?
	CanTrace(h Handle) error
	// Kill sends sig through the pidfd (pidfd_send_signal).
	Kill(h Handle, sig unix.Signal) error
	// PtraceKill attaches to the process — checking that the PID attached to is still the
	// handle's — waits for the attach's stop and resumes it with SIGKILL.
	PtraceKill(h Handle) error
}

// Make plans a kill: the target, a handle on it taken before its state is read, what it does
// with the signal, and whether the mechanism is permitted here — checked, once read, to be the
// process the handle holds (still running, and where a container id names it, still of that
// container's cgroup). The plan's handle is open: Do closes it, Close too.
func Make(proc Proc, t Tracer, containerID, signalName, container string) (Plan, error) {
	pid, init, err := Target(proc, containerID)
	if err != nil {
		return Plan{}, err
	}
	h, err := t.Open(pid)
	if err != nil {
		return Plan{}, fmt.Errorf("PID %d: %v", pid, err)
	}
	p, err := Decide(proc, pid, init, signalName, container)
	if err == nil {
		err = confirm(proc, t, h, containerID)
	}
	if err == nil {
		p.Handle = h
		err = Check(t, p)
	}
	if err != nil {
		t.Close(h)
		return Plan{}, err
	}
	return p, nil
}

// confirm: what was read under /proc/PID was the handle's process — it is alive now, so the PID
// was its all along since the handle was taken — and it is still of the target container.
func confirm(proc Proc, t Tracer, h Handle, containerID string) error {
	if err := t.Alive(h); err != nil {
		return fmt.Errorf("PID %d: %w while it was being read", h.PID, err)
	}
	if containerID == "" {
		return nil
	}
	if cg, err := proc.Cgroup(h.PID); err != nil || !strings.Contains(cg, containerID) {
		return fmt.Errorf("PID %d is no longer a process of container %s", h.PID, short(containerID))
	}
	return nil
}

// Close lets the plan's handle go (a plan that is not carried out: a dry run).
func Close(t Tracer, p Plan) { t.Close(p.Handle) }

// Check verifies that the plan's mechanism is permitted here (changing nothing).
func Check(t Tracer, p Plan) error {
	var err error
	if p.Mechanism == ByPtrace {
		err = t.CanTrace(p.Handle)
		if err != nil {
			return fmt.Errorf("cannot trace PID %d (%s): %v; the agent needs CAP_SYS_PTRACE (and no seccomp or LSM rule against ptrace)", p.PID, p.Process, err)
		}
		return nil
	}
	if err = t.CanSignal(p.Handle); err != nil {
		return fmt.Errorf("cannot signal PID %d (%s): %v; the agent needs CAP_KILL for another user's process", p.PID, p.Process, err)
	}
	return nil
}

// Do carries the plan out, to the planned process only, and lets its handle go.
func Do(t Tracer, p Plan) error {
	defer t.Close(p.Handle)
	if p.Mechanism == ByPtrace {
		return t.PtraceKill(p.Handle)
	}
	return t.Kill(p.Handle, p.Signal)
}

// ErrNoStop: the tracee did not stop after the attach.
var ErrNoStop = errors.New("the process did not stop after PTRACE_ATTACH")
