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

// Plan is what a kill will do: which process, which signal, how.
type Plan struct {
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

// Tracer is how signals are sent: kill(2) and ptrace, behind an interface for tests.
type Tracer interface {
	// CanSignal: may this process send signals to pid (kill(pid, 0))?
	CanSignal(pid int) error
	// CanTrace: may this process trace pid (PTRACE_SEIZE, then detach: the tracee never stops)?
	CanTrace(pid int) error
	// Kill sends sig with kill(2).
	Kill(pid int, sig unix.Signal) error
	// PtraceKill attaches to pid, waits for the attach's stop and resumes it with SIGKILL.
	PtraceKill(pid int) error
}

// Check verifies that the plan's mechanism is permitted here (changing nothing).
func Check(t Tracer, p Plan) error {
	var err error
	if p.Mechanism == ByPtrace {
		err = t.CanTrace(p.PID)
		if err != nil {
			return fmt.Errorf("cannot trace PID %d (%s): %v; the agent needs CAP_SYS_PTRACE (and no seccomp or LSM rule against ptrace)", p.PID, p.Process, err)
		}
		return nil
	}
	if err = t.CanSignal(p.PID); err != nil {
		return fmt.Errorf("cannot signal PID %d (%s): %v; the agent needs CAP_KILL for another user's process", p.PID, p.Process, err)
	}
	return nil
}

// Do carries the plan out.
func Do(t Tracer, p Plan) error {
	if p.Mechanism == ByPtrace {
		return t.PtraceKill(p.PID)
	}
	return t.Kill(p.PID, p.Signal)
}

// ErrNoStop: the tracee did not stop after the attach.
var ErrNoStop = errors.New("the process did not stop after PTRACE_ATTACH")
